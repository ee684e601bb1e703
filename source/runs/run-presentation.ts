import type {DamagedRun, RunMetadata, RunState} from './run-metadata.js';

/** How a state looks in the UI: a glyph so colour is never the only signal. */
export const stateAppearance: Record<RunState | DamagedRun['state'], {glyph: string; color: string}> = {
	created: {glyph: '◌', color: 'gray'},
	running: {glyph: '●', color: 'green'},
	stopped: {glyph: '○', color: 'gray'},
	failed: {glyph: '✕', color: 'red'},
	damaged: {glyph: '!', color: 'yellow'},
};

/**
 * "failed (3)" for a run that ended with a code; "out of memory" for one the
 * kernel killed at its limit; "waiting" for a running
 * agent that reported it waits for the user; plain "stopped" for one moat
 * stopped (its code is the signal's, not the program's word); else the state.
 */
export function stateLabel(run: {state: RunState | DamagedRun['state']; exitCode?: number | null; activity?: RunMetadata['activity']; outOfMemory?: boolean; stopRequested?: boolean}): string {
	if (run.outOfMemory && run.state === 'failed') {
		return 'out of memory';
	}

	if (run.state === 'stopped' && run.stopRequested) {
		return 'stopped';
	}

	if (run.exitCode !== null && run.exitCode !== undefined && run.state !== 'running' && run.state !== 'created' && run.state !== 'damaged') {
		return `${run.state} (${run.exitCode})`;
	}

	return run.state === 'running' && run.activity?.state === 'waiting' ? 'waiting' : run.state;
}

/**
 * A state word the engine could not confirm (it is unreachable): the run
 * was last recorded so, and may have ended since.
 */
export function uncheckedLabel(label: string, unchecked: boolean): string {
	return unchecked ? `${label} (not checked)` : label;
}

/**
 * Newest first: the order every list of runs uses. Times and ids are
 * compared as plain strings (ISO times and run ids sort the same either
 * way): localeCompare's collation cost the dashboard milliseconds a listing.
 */
export function newestFirst<T extends Pick<RunMetadata, 'createdAt' | 'id'>>(runs: readonly T[]): T[] {
	const order = (a: string, b: string) => (a < b ? -1 : (a > b ? 1 : 0));
	return [...runs].sort((a, b) => order(b.createdAt, a.createdAt) || order(b.id, a.id));
}
