/**
 * Lock files shared by moat's processes: held by a live PID, taken over
 * from a dead one, never by two at once.
 */
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {writingTo} from './disk-full.js';

export type FileLock = {release(): Promise<void>};

function isAlive(pid: number): boolean {
	if (!Number.isInteger(pid) || pid <= 0) {
		return false;
	}

	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		// EPERM: it exists but belongs to someone else.
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * Takes a lock file, or returns undefined when a live process holds it. One
 * holder at a time: the daemon of a MOAT_HOME, the process copying a run's
 * output into logs.jsonl (so no line is written twice), a writer of an
 * audit log. A lock left by a killed process is taken over.
 */
export async function tryFileLock(file: string): Promise<FileLock | undefined> {
	for (let attempt = 0; attempt < 20; attempt++) {
		// The PID goes into a private file first, which is then linked into
		// place: link fails if the lock exists, and nobody ever reads a lock
		// file that is still empty.
		const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
		try {
			await writingTo(path.dirname(file), async () => fs.writeFile(temporary, String(process.pid), {mode: 0o600}));
			await fs.link(temporary, file);
			return {
				async release() {
					await fs.rm(file, {force: true});
				},
			};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		} finally {
			await fs.rm(temporary, {force: true});
		}

		const text = await fs.readFile(file, 'utf8').catch(() => undefined);
		if (text === undefined) {
			// Released between our attempt and our look: try again.
			continue;
		}

		const holder = Number.parseInt(text, 10);
		if (isAlive(holder)) {
			return undefined;
		}

		// The holder died. Move its lock aside before deleting it, and only
		// delete what is really the dead holder's: another process may have
		// cleared it and taken a fresh lock in the meantime.
		const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
		if (await fs.rename(file, aside).then(() => true, () => false)) {
			const moved = await fs.readFile(aside, 'utf8').catch(() => '');
			if (moved === text) {
				await fs.rm(aside, {force: true});
			} else {
				await fs.link(aside, file).catch(() => undefined);
				await fs.rm(aside, {force: true});
				return undefined;
			}
		}
	}

	return undefined;
}

/** Whether a live process holds the lock right now. */
export async function isFileLocked(file: string): Promise<boolean> {
	const holder = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
	return Number.isInteger(holder) && holder > 0 && isAlive(holder);
}

/** Waits (bounded) until no live process holds the lock. */
export async function waitForFileLock(file: string, timeoutMilliseconds = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMilliseconds;
	while (Date.now() < deadline && (await isFileLocked(file))) {
		await new Promise(resolve => {
			setTimeout(resolve, 50);
		});
	}
}

/** Runs `action` holding the lock, waiting for another holder to finish first. */
export async function withFileLock<T>(file: string, action: () => Promise<T>): Promise<T> {
	for (;;) {
		const lock = await tryFileLock(file);
		if (lock) {
			try {
				return await action();
			} finally {
				await lock.release();
			}
		}

		await waitForFileLock(file, 5000);
	}
}
