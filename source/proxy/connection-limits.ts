/**
 * How many connections the proxy holds open for a run, and for all runs
 * together (README: The network). Pure: the daemon sizes the limits from
 * its file-descriptor limit and the proxy asks here before it takes a
 * connection on. One bottle opening thousands of idle tunnels must not take
 * the daemon to its descriptor limit, where other runs could no longer
 * register and the daemon could no longer open its own files.
 */

export type ConnectionLimits = {
	/** Connections one run may hold open at once (tunnels and plain-HTTP connections alike). */
	perRun: number;
	/** Connections all runs together may hold open: what the descriptor limit leaves after the daemon's own files. */
	total: number;
};

/** A few hundred at once: far more than an agent's tools open, far fewer than the daemon can hold. */
export const defaultConnectionsPerRun = 256;

/**
 * Descriptors kept for the daemon itself (its logs, the audit log, run
 * files, the engine's API, the router) and for runs registering: at least
 * this many, or an eighth of the limit when that is more.
 */
const reservedDescriptors = 256;

/** A connection can hold two descriptors: the bottle's (over the daemon's socket) and the upstream's. */
const descriptorsPerConnection = 2;

/** No run may take more than this share of the total, so others always find room. */
const largestShare = 4;

/** MOAT_RUN_CONNECTIONS as a number, or why it is not one. */
export function parseConnectionsPerRun(text: string | undefined): {value: number | undefined} | {error: string} {
	if (text === undefined || text.trim() === '') {
		return {value: undefined};
	}

	const value = Number(text.trim());
	if (!/^\d+$/.test(text.trim()) || value < 1 || value > 1_000_000) {
		return {error: `MOAT_RUN_CONNECTIONS is "${text}", not a number of connections from 1 to 1000000`};
	}

	return {value};
}

/**
 * The limits for a descriptor limit (`openFiles`, the daemon's soft
 * RLIMIT_NOFILE, which Node raises to the hard limit when it starts): the
 * configured per-run number (or the default), but never more than a
 * quarter of what all runs together may hold.
 */
export function sizeConnectionLimits(configuredPerRun: number | undefined, openFiles: number): ConnectionLimits {
	const reserve = Math.max(reservedDescriptors, Math.floor(openFiles / 8));
	const total = Math.max(largestShare, Math.floor((openFiles - reserve) / descriptorsPerConnection));
	const perRun = Math.max(1, Math.min(configuredPerRun ?? defaultConnectionsPerRun, Math.floor(total / largestShare)));
	return {perRun, total};
}

export type Admission = {allowed: true} | {allowed: false; status: 429 | 503; reason: string; message: string};

/** Whether a run with `open.run` connections open (and `open.total` for all runs) may open one more. */
export function admitConnection(open: {run: number; total: number}, limits: ConnectionLimits): Admission {
	if (open.run >= limits.perRun) {
		return {
			allowed: false,
			status: 429,
			reason: `too many connections: the run has ${open.run} open, its limit is ${limits.perRun}`,
			message: `Moat: connection refused: this run already has ${open.run} connections open through moat, its limit.\nClose some (idle keep-alive connections, tunnels), or raise MOAT_RUN_CONNECTIONS and run moat proxy restart.\n`,
		};
	}

	if (open.total >= limits.total) {
		return {
			allowed: false,
			status: 503,
			reason: `too many connections: all runs have ${open.total} open, the proxy's limit is ${limits.total}`,
			message: 'Moat: connection refused: the proxy holds as many connections as this machine allows for all runs together. Try again when some have closed.\n',
		};
	}

	return {allowed: true};
}

/**
 * Which of a run's refusals are written down (audit log, network.jsonl):
 * the 1st, 2nd, 4th, 8th…, each saying how many there were, so a flood of
 * refused connections cannot flood the logs in turn.
 */
export function refusalRecorded(count: number): boolean {
	return count > 0 && (count & (count - 1)) === 0;
}
