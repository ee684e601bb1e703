import {stripVTControlCharacters} from 'node:util';

const nextTurn = async () => new Promise(resolve => {
	setImmediate(resolve);
});

/**
 * Polls the rendered frame (ANSI stripped) until it satisfies `condition`,
 * never a fixed sleep. One more event-loop turn after the match lets Ink
 * re-subscribe its input handler to the render that drew the frame.
 */
export async function frameWhere(lastFrame: () => string | undefined, condition: (frame: string) => boolean): Promise<string> {
	const deadline = Date.now() + 5000;
	for (;;) {
		const frame = stripVTControlCharacters(lastFrame() ?? '');
		if (condition(frame)) {
			await nextTurn();
			return frame;
		}

		if (Date.now() > deadline) {
			throw new Error(`frame never matched; last frame:\n${frame}`);
		}

		await nextTurn();
	}
}

/** Ink attaches its stdin listener in an effect; keys written before that are lost. */
export async function inputReady(stdin: {listenerCount(event: string): number}): Promise<void> {
	await frameWhere(() => (stdin.listenerCount('readable') > 0 ? 'ready' : ''), frame => frame === 'ready');
}
