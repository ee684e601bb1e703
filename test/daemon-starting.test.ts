import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {startDaemonApi, type DaemonApiOptions} from '../source/daemon/daemon-api.js';
import {findDaemon} from '../source/daemon/daemon-client.js';
import {daemonPaths, type Hello} from '../source/daemon/daemon-protocol.js';
import type {MoatEnvironment} from '../source/environment.js';

const runId = 'run_0123456789ab';

/**
 * The daemon's API on a real socket, with the gateway's join and the output
 * copy as given: what the launcher's `starting` call sees just before it
 * starts a container.
 */
async function daemonWith(t: import('ava').ExecutionContext, parts: Pick<DaemonApiOptions, 'joined' | 'capture'>) {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-starting-'));
	const paths = daemonPaths(home);
	await fs.mkdir(path.dirname(paths.socket), {recursive: true});
	const hello = {pid: process.pid, startedAt: new Date(0).toISOString(), runs: 0} as unknown as Hello;
	const api = await startDaemonApi({
		socketPath: paths.socket,
		registry: {} as DaemonApiOptions['registry'],
		audit: {} as DaemonApiOptions['audit'],
		hello: () => hello,
		async ready() {},
		access: async () => {
			throw new Error('not asked here');
		},
		nextRunId: () => undefined,
		shutdown() {},
		touched() {},
		log() {},
		...parts,
	});
	t.teardown(async () => {
		await api.close();
		await fs.rm(home, {recursive: true, force: true});
	});
	const client = await findDaemon({moatHome: home} as MoatEnvironment);
	if (!client) {
		throw new Error('the API did not answer hello');
	}

	return client;
}

test('starting fails the start when the gateway could not join the run\'s network, and copies nothing', async t => {
	const copied: string[] = [];
	const client = await daemonWith(t, {
		async joined() {
			throw new Error('network moat-run-x not found');
		},
		async capture(id) {
			copied.push(id);
			return true;
		},
	});
	const error = await t.throwsAsync(client.starting(runId));
	t.regex(error!.message, /^Cannot start the run: the gateway could not join the run's network: network moat-run-x not found\.$/);
	t.deepEqual(copied, [], 'no copy starts for a run that cannot start');
});

test('starting waits for the join, then has the daemon copy the run\'s output', async t => {
	let join!: () => void;
	const joining = new Promise<void>(resolve => {
		join = resolve;
	});
	let asked!: () => void;
	const askedForJoin = new Promise<void>(resolve => {
		asked = resolve;
	});
	let joinDone = false;
	const copied: Array<{id: string; afterJoin: boolean}> = [];
	const client = await daemonWith(t, {
		async joined() {
			asked();
			await joining;
			joinDone = true;
		},
		async capture(id) {
			copied.push({id, afterJoin: joinDone});
			return true;
		},
	});
	const started = client.starting(runId);
	await askedForJoin;
	t.deepEqual(copied, [], 'nothing copied while the gateway is joining');
	join();
	await started;
	t.deepEqual(copied, [{id: runId, afterJoin: true}]);
});

test('starting is no error for a run the daemon has no container for: its output is caught up from the engine\'s log', async t => {
	const client = await daemonWith(t, {
		async joined() {},
		capture: async () => false,
	});
	await t.notThrowsAsync(client.starting(runId));
});
