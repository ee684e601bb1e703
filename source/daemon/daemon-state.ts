import fs from 'node:fs/promises';
import {writeFileAtomic} from '../files/atomic-write.js';
import {runIdPattern} from '../runs/run-metadata.js';
import type {RunRegistration} from './daemon-protocol.js';

/**
 * What running containers depend on, kept so a daemon that is killed and
 * started again serves them unchanged: the proxy's port (their HTTP_PROXY
 * names it), the network, and each run's token hash and grants.
 */
export type PersistedRun = RunRegistration & {tokenHash: string; registeredAt: string};

export type DaemonState = {
	proxyPort: number;
	network: string;
	runs: Record<string, PersistedRun>;
	/**
	 * Runs started before the gateway, still on the old shared network with
	 * the proxy on its host-side address: served there until they end.
	 */
	legacy?: {network: string; port: number; runs: string[]};
};

function isPersistedRun(value: unknown): value is PersistedRun {
	const run = value as Partial<PersistedRun> | null;
	return typeof run === 'object' && run !== null
		&& typeof run.runId === 'string' && runIdPattern.test(run.runId)
		&& typeof run.tokenHash === 'string' && /^[\da-f]{64}$/.test(run.tokenHash)
		&& Array.isArray(run.grants) && run.grants.every(grant => typeof grant === 'string')
		&& typeof run.registeredAt === 'string'
		&& typeof run.policy === 'object' && run.policy !== null && ['permissive', 'strict'].includes(run.policy.mode) && Array.isArray(run.policy.allow)
		&& (run.ssh === undefined || (typeof run.ssh === 'object' && run.ssh !== null && Number.isInteger(run.ssh.uid) && Number.isInteger(run.ssh.gid)
			&& (run.ssh.upstream === undefined || typeof run.ssh.upstream === 'string')));
}

export async function readDaemonState(file: string): Promise<DaemonState | undefined> {
	try {
		const state = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<DaemonState>;
		if (typeof state.proxyPort !== 'number' || typeof state.network !== 'string' || typeof state.runs !== 'object' || state.runs === null) {
			return undefined;
		}

		// One damaged entry must not keep every other run (or the daemon) from starting.
		const runs = Object.fromEntries(Object.entries(state.runs).filter(([, run]) => isPersistedRun(run)));
		const legacy = state.legacy && typeof state.legacy.port === 'number' && typeof state.legacy.network === 'string' && Array.isArray(state.legacy.runs)
			? {network: state.legacy.network, port: state.legacy.port, runs: state.legacy.runs.filter(id => typeof id === 'string' && id in runs)}
			: undefined;
		return {proxyPort: state.proxyPort, network: state.network, runs, ...legacy ? {legacy} : {}};
	} catch {
		return undefined;
	}
}

/** Replaced whole (write, sync, rename), so a crash or a full disk leaves the old state or the new. */
export async function writeDaemonState(file: string, state: DaemonState): Promise<void> {
	await writeFileAtomic(file, JSON.stringify(state, null, '\t') + '\n');
}
