import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {writingTo} from './disk-full.js';

/**
 * Replaces `file` with `content` whole or not at all: written to a
 * temporary file beside it, synced to the disk, then renamed over it. A
 * crash or a full disk leaves the old file (and no temporary one).
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
	const folder = path.dirname(file);
	const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
	await writingTo(folder, async () => {
		try {
			const handle = await fs.open(temporary, 'wx', mode);
			try {
				// Exactly `mode`, whatever the umask.
				await handle.chmod(mode);
				await handle.writeFile(content);
				// Without it a crash after the rename can leave the new name on an empty file.
				await handle.sync();
			} finally {
				await handle.close();
			}

			await fs.rename(temporary, file);
		} catch (error) {
			await fs.rm(temporary, {force: true});
			throw error;
		}
	});
	await syncFolder(folder);
}

/** Makes a rename in `folder` durable; where a folder cannot be synced (some platforms), the rename still stands. */
async function syncFolder(folder: string): Promise<void> {
	const handle = await fs.open(folder, 'r').catch(() => undefined);
	if (handle) {
		await handle.sync().catch(() => undefined);
		await handle.close();
	}
}
