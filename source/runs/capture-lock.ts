import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';

export type CaptureLock = {release(): Promise<void>};

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		// EPERM: it exists but belongs to someone else.
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * Takes the per-run capture lock, or returns undefined when a live process
 * holds it. Only the holder copies engine output into logs.jsonl, so two
 * moat processes never write the same lines twice. A lock left by a killed
 * process is taken over.
 */
export async function tryCaptureLock(file: string): Promise<CaptureLock | undefined> {
	for (let attempt = 0; attempt < 3; attempt++) {
		// The PID goes into a private file first, which is then linked into
		// place: link fails if the lock exists, and nobody ever reads a lock
		// file that is still empty.
		const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
		try {
			// eslint-disable-next-line no-await-in-loop
			await fs.writeFile(temporary, String(process.pid), {mode: 0o600});
			// eslint-disable-next-line no-await-in-loop
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
			// eslint-disable-next-line no-await-in-loop
			await fs.rm(temporary, {force: true});
		}

		// eslint-disable-next-line no-await-in-loop
		const holder = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
		if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
			return undefined;
		}

		// eslint-disable-next-line no-await-in-loop
		await fs.rm(file, {force: true});
	}

	return undefined;
}

/** Whether a live process holds the lock right now. */
export async function isCaptureLocked(file: string): Promise<boolean> {
	const holder = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
	return Number.isInteger(holder) && holder > 0 && isAlive(holder);
}

/** Waits (bounded) until no live process holds the lock. */
export async function waitForCaptureLock(file: string, timeoutMilliseconds = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMilliseconds;
	while (Date.now() < deadline && (await isCaptureLocked(file))) {
		// eslint-disable-next-line no-await-in-loop
		await new Promise(resolve => {
			setTimeout(resolve, 50);
		});
	}
}
