import {stripVTControlCharacters} from 'node:util';
import {waitDeadlineMilliseconds} from './deadline.js';

const nextTurn = async () => new Promise(resolve => {
	setImmediate(resolve);
});

const pause = async () => new Promise(resolve => {
	setTimeout(resolve, 5);
});

/**
 * Polls the rendered frame (ANSI stripped) until it satisfies `condition`,
 * never a fixed sleep, with a deadline a loaded machine meets. Between looks
 * it pauses a few milliseconds rather than spinning, so a busy machine's CPU
 * goes to rendering. One more event-loop turn after the match lets Ink
 * re-subscribe its input handler to the render that drew the frame.
 */
export async function frameWhere(lastFrame: () => string | undefined, condition: (frame: string) => boolean): Promise<string> {
	const deadline = Date.now() + waitDeadlineMilliseconds;
	for (;;) {
		const frame = stripVTControlCharacters(lastFrame() ?? '');
		if (condition(frame)) {
			await nextTurn();
			return frame;
		}

		if (Date.now() > deadline) {
			throw new Error(`frame never matched in ${waitDeadlineMilliseconds / 1000} s; last frame:\n${frame}`);
		}

		await pause();
	}
}

/** Ink attaches its stdin listener in an effect; keys written before that are lost. */
export async function inputReady(stdin: {listenerCount(event: string): number}): Promise<void> {
	await frameWhere(() => (stdin.listenerCount('readable') > 0 ? 'ready' : ''), frame => frame === 'ready');
}
