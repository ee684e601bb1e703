/** Exit codes from the contract (README: Exit codes). */
export const exitCodes = {
	success: 0,
	failure: 1,
	usage: 2,
	engineUnreachable: 3,
	notFound: 4,
	interrupted: 130,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/**
 * An error meant for the user: what is wrong, what to do about it, and the
 * exit code. The CLI prints the two lines and exits; no stack trace unless
 * verbose.
 */
export class MoatError extends Error {
	override readonly name = 'MoatError';

	constructor(
		message: string,
		readonly hint: string,
		readonly exitCode: number = exitCodes.failure,
		options?: {cause?: unknown},
	) {
		super(message, options);
	}
}

export function usageError(message: string, hint: string, options?: {cause?: unknown}): MoatError {
	return new MoatError(message, hint, exitCodes.usage, options);
}

export function notFoundError(message: string, hint: string): MoatError {
	return new MoatError(message, hint, exitCodes.notFound);
}

export function isMoatError(error: unknown): error is MoatError {
	return error instanceof MoatError;
}

/** The engine could not be reached (exit 3): what moat knows without it is still worth showing. */
export function isEngineUnreachable(error: unknown): error is MoatError {
	return isMoatError(error) && error.exitCode === exitCodes.engineUnreachable;
}
