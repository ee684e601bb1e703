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
		try {
			// eslint-disable-next-line no-await-in-loop
			await fs.writeFile(file, String(process.pid), {flag: 'wx', mode: 0o600});
			return {
				async release() {
					await fs.rm(file, {force: true});
				},
			};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
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
