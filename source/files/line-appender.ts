import fs from 'node:fs/promises';
import path from 'node:path';
import {writingTo} from './disk-full.js';

/**
 * A JSONL file opened for appending whole lines: what `append` is given
 * lands whole or not at all. A write cut short (a full disk) is cut back to
 * where it began, so the file never holds half a line that a later line
 * would be glued onto; a torn last line left by a crash is cut on opening.
 * One appender per file at a time (its writer holds a
 * lock).
 */
export type LineAppender = {
	/** Appends `text` (whole lines, each ending in a newline). */
	append(text: string): Promise<void>;
	close(): Promise<void>;
};

/** How far back a torn last line is looked for at a time. */
const tailBlock = 64 * 1024;

/**
 * Cuts a torn last line (a crash mid-write) so the next append starts on a
 * line of its own. Reads only the end of the file.
 */
async function cutTornLine(handle: fs.FileHandle): Promise<void> {
	const {size} = await handle.stat();
	let end = size;
	while (end > 0) {
		const start = Math.max(0, end - tailBlock);
		const buffer = Buffer.alloc(end - start);
		await handle.read(buffer, 0, buffer.length, start);
		if (end === size && buffer.at(-1) === 0x0A) {
			return;
		}

		const newline = buffer.lastIndexOf(0x0A);
		if (newline !== -1) {
			await handle.truncate(start + newline + 1);
			return;
		}

		end = start;
	}

	if (size > 0) {
		await handle.truncate(0);
	}
}

export async function openLineAppender(file: string, mode = 0o600): Promise<LineAppender> {
	const folder = path.dirname(file);
	const handle = await writingTo(folder, async () => fs.open(file, 'a+', mode));
	// Set when a failed append may have left part of itself behind.
	let torn = false;
	try {
		await cutTornLine(handle);
	} catch (error) {
		await handle.close();
		throw error;
	}

	return {
		async append(text) {
			if (text === '') {
				return;
			}

			await writingTo(folder, async () => {
				if (torn) {
					await cutTornLine(handle);
					torn = false;
				}

				const {size} = await handle.stat();
				const bytes = Buffer.from(text);
				try {
					for (let written = 0; written < bytes.length;) {
						// A short write is not an error; it goes on from where it stopped.
						const {bytesWritten} = await handle.write(bytes, written, bytes.length - written);
						if (bytesWritten === 0) {
							throw new Error(`nothing could be written to ${file}`);
						}

						written += bytesWritten;
					}
				} catch (error) {
					// Whatever part landed goes again; if even that fails, the next append cuts it first.
					torn = true;
					await handle.truncate(size).then(() => {
						torn = false;
					}, () => undefined);
					throw error;
				}
			});
		},
		async close() {
			await handle.close();
		},
	};
}

/** Cuts a torn last line of `file`, if it has one; a missing file is left missing. */
export async function repairTornLine(file: string): Promise<void> {
	const handle = await writingTo(path.dirname(file), async () => fs.open(file, 'r+')).catch((error: unknown) => {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			return undefined;
		}

		throw error;
	});
	if (!handle) {
		return;
	}

	try {
		await cutTornLine(handle);
	} finally {
		await handle.close();
	}
}

/** Appends whole lines to a file in one go (opened, written, closed). */
export async function appendWholeLines(file: string, text: string, mode = 0o600): Promise<void> {
	const appender = await openLineAppender(file, mode);
	try {
		await appender.append(text);
	} finally {
		await appender.close();
	}
}
