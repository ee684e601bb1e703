import {MoatError} from '../errors.js';

/** Errors that mean the disk (or the user's quota on it) has no room left. */
const fullCodes: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);

/** Whether `error`, or an error it wraps, says the disk is full. */
export function isDiskFull(error: unknown): boolean {
	for (let current = error, depth = 0; current && depth < 8; current = (current as Error).cause, depth++) {
		if (fullCodes.has((current as NodeJS.ErrnoException).code ?? '')) {
			return true;
		}
	}

	return false;
}

/**
 * The error for a write that found no room: the folder it was for and what
 * to free, instead of the system's bare "ENOSPC". The cause keeps the code,
 * so `isDiskFull` still recognizes it.
 */
export function diskFullError(folder: string, cause: unknown): MoatError {
	return new MoatError(
		`The disk holding ${folder} is full: moat could not write there, and wrote nothing half.`,
		'Free space on that disk: moat clean removes finished runs and unused images, moat destroy RUN one run (its logs.jsonl is usually the largest file); or point MOAT_HOME at a disk with room. Running bottles keep going, and their output is copied in once there is room.',
		1,
		{cause},
	);
}

/** Runs a write; a full disk comes out as `diskFullError(folder)`, anything else as it was. */
export async function writingTo<T>(folder: string, write: () => Promise<T>): Promise<T> {
	try {
		return await write();
	} catch (error) {
		throw isDiskFull(error) && !(error instanceof MoatError) ? diskFullError(folder, error) : error;
	}
}
