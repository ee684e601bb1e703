import type {ContainerState} from '../engine/engine.js';
import {formatBytes} from './resources.js';
import {isActive, type RunMetadata} from './run-metadata.js';

export type Reconciliation = {
	/** Metadata fields to change; empty when the record already matches. */
	change: Partial<RunMetadata>;
	/** Copy the container's remaining output into logs.jsonl first. */
	catchUpLogs: boolean;
	/**
	 * The run is over and its container is not kept. The caller clears
	 * `containerId` only after the removal, so a crash in between leaves a
	 * record that still points at the container to remove.
	 */
	removeContainer: boolean;
};

const nothing: Reconciliation = {change: {}, catchUpLogs: false, removeContainer: false};

/** The outcome of a container that has exited, as run fields. */
export function exitOutcome(run: Pick<RunMetadata, 'stopRequested' | 'resources'>, exitCode: number, oomKilled = false): Pick<RunMetadata, 'state' | 'exitCode' | 'error' | 'outOfMemory'> {
	if (exitCode === 0 || run.stopRequested) {
		return {state: 'stopped', exitCode, error: null};
	}

	if (oomKilled) {
		const limit = run.resources?.memoryBytes ? ` of ${formatBytes(run.resources.memoryBytes)}` : '';
		return {
			state: 'failed',
			exitCode,
			outOfMemory: true,
			error: `Out of memory: the kernel killed the bottle's process at its memory limit${limit}. Raise it with --memory or resources.memory in agent.yaml.`,
		};
	}

	return {state: 'failed', exitCode, error: `The command exited with code ${exitCode}.`};
}

/**
 * Decides how a stored run must change to match its container as the engine
 * sees it now. Pure, so every combination is tested without an engine.
 * `container` is undefined when the engine has no such container.
 */
export function reconcile(run: RunMetadata, container: ContainerState | undefined, now: Date): Reconciliation {
	if (!run.containerId) {
		return nothing;
	}

	if (!container) {
		if (!isActive(run)) {
			// A kept container someone removed: nothing left to point at.
			return {change: {containerId: null}, catchUpLogs: false, removeContainer: false};
		}

		return {
			change: {
				state: 'failed',
				containerId: null,
				stoppedAt: now.toISOString(),
				error: 'The container was removed outside moat.',
			},
			catchUpLogs: false,
			removeContainer: false,
		};
	}

	const ended = container.status === 'exited' || container.status === 'dead';
	if (!isActive(run)) {
		// Finished earlier, but the process that finished it did not get to
		// remove the container (killed, or the engine was busy).
		return ended && !run.keep ? {change: {}, catchUpLogs: true, removeContainer: true} : nothing;
	}

	if (ended) {
		return {
			change: {
				...exitOutcome(run, container.exitCode, container.oomKilled),
				...(container.error ? {error: container.error} : {}),
				stoppedAt: (container.finishedAt ?? now).toISOString(),
			},
			catchUpLogs: true,
			removeContainer: !run.keep,
		};
	}

	if (container.status === 'running' && run.state === 'created') {
		return {
			change: {state: 'running', startedAt: (container.startedAt ?? now).toISOString()},
			catchUpLogs: false,
			removeContainer: false,
		};
	}

	return nothing;
}
