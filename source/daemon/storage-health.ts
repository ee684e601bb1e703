import {isDiskFull} from '../files/disk-full.js';

/**
 * What the daemon could not write for want of space (a full disk under
 * MOAT_HOME), said in `moat status`, `moat proxy status` and the
 * dashboard's banner until each of those writes has gone through again.
 */
export type StorageReport = {
	/** When the oldest write still waiting first failed. */
	since: string;
	/** What waits, in words: "output of run_…", "record of run_…", "daemon-state.json"… */
	waiting: string[];
};

export type StorageHealth = {
	/**
	 * A write of `what` failed. For want of space it is kept as waiting,
	 * and the answer says whether this is new (worth a line in the log) or
	 * the same trouble again; for any other reason the answer is 'other'.
	 */
	failed(what: string, error: unknown): 'new' | 'again' | 'other';
	/** A write of `what` went through: it no longer waits. True when it was waiting. */
	wrote(what: string): boolean;
	isWaiting(what: string): boolean;
	/** Undefined while every write goes through. */
	report(): StorageReport | undefined;
};

export function createStorageHealth(now: () => Date = () => new Date()): StorageHealth {
	const waiting = new Map<string, string>();
	return {
		failed(what, error) {
			if (!isDiskFull(error)) {
				return 'other';
			}

			if (waiting.has(what)) {
				return 'again';
			}

			waiting.set(what, now().toISOString());
			return 'new';
		},
		wrote: what => waiting.delete(what),
		isWaiting: what => waiting.has(what),
		report() {
			if (waiting.size === 0) {
				return undefined;
			}

			return {since: [...waiting.values()].sort()[0]!, waiting: [...waiting.keys()]};
		},
	};
}

/** The problem in words, for `moat status`, `moat proxy status` and the dashboard; undefined when there is none. */
export function describeStorage(report: StorageReport | undefined, moatHome: string): {message: string; fix: string} | undefined {
	if (!report || report.waiting.length === 0) {
		return undefined;
	}

	return {
		message: `The disk holding ${moatHome} is full: since ${report.since} the daemon could not write the ${report.waiting.join(', the ')}.`,
		fix: 'Free space on that disk (moat clean removes finished runs and unused images, moat destroy RUN one run); the daemon writes what waits, whole, once there is room.',
	};
}
