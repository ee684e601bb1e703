import type {Attachment} from './engine.js';

/** What arrived before the terminal session took over, and whether the output already ended. */
export type BufferedOutput = {take(): {chunks: Buffer[]; ended: boolean}};

/**
 * Collects a container's output from the moment of attaching until someone
 * reads it. The engine's attach stream flows at once: without this, output
 * (or the end) of a fast command could pass before anyone listens.
 */
export function bufferOutput(attachment: Attachment): BufferedOutput {
	const chunks: Buffer[] = [];
	let ended = false;
	const collect = (chunk: Buffer) => {
		chunks.push(chunk);
	};

	// The container can end while the screen is being rebuilt; the session
	// must know, or it would wait for an end that already happened.
	const end = () => {
		ended = true;
	};

	attachment.output.on('data', collect);
	attachment.output.once('end', end);
	attachment.output.once('close', end);
	return {
		take() {
			attachment.output.off('data', collect);
			attachment.output.off('end', end);
			attachment.output.off('close', end);
			return {chunks, ended};
		},
	};
}

