import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {PassThrough} from 'node:stream';
import test from 'ava';
import {looksAt, startDaemonWatchers, sweepDue, sweepMilliseconds} from '../source/daemon/daemon-watchers.js';
import type {LiveRun} from '../source/daemon/run-registry.js';
import {createStorageHealth} from '../source/daemon/storage-health.js';
import type {ContainerState, ContainerSummary, Engine} from '../source/engine/engine.js';
import {createRunStore} from '../source/runs/run-store.js';

test('looksAt skips a run whose output is being copied, except at a sweep; any other run is looked at every time', t => {
	const cases: Array<[copying: boolean, sweep: boolean, looked: boolean]> = [
		[true, false, false],
		[true, true, true],
		[false, false, true],
		[false, true, true],
	];
	for (const [copying, sweep, looked] of cases) {
		t.is(looksAt({copying}, sweep), looked, `copying ${copying}, sweep ${sweep}`);
	}
});

test('sweepDue at the first tick, then once a sweep interval has passed since the last', t => {
	const cases: Array<[lastSweep: number | undefined, now: number, due: boolean]> = [
		[undefined, 0, true],
		[1000, 1000, false],
		[1000, 1000 + sweepMilliseconds - 1, false],
		[1000, 1000 + sweepMilliseconds, true],
		[1000, 1000 + (3 * sweepMilliseconds), true],
	];
	for (const [lastSweep, now, due] of cases) {
		t.is(sweepDue(lastSweep, now), due, `last ${lastSweep}, now ${now}`);
	}
});

/**
 * An engine whose containers run until told otherwise; a copy attached to
 * one never hears of its end (a copy that hangs), so only the watch's own
 * looks can notice it. Counts what the watch asks of it.
 */
function fakeEngine(home: string) {
	const containers = new Map<string, ContainerState['status'] | 'removed'>();
	const asked = {list: 0, inspect: 0};
	const engine = {
		async attach() {
			const output = new PassThrough();
			return {output, write() {}, close: () => output.end()};
		},
		async inspectContainer(id: string) {
			asked.inspect++;
			const status = containers.get(id);
			return status === undefined || status === 'removed' ? undefined : {id, status, exitCode: 0};
		},
		async waitContainer(_id: string, options?: {signal?: AbortSignal}) {
			return new Promise<number>((_resolve, reject) => {
				options?.signal?.addEventListener('abort', () => {
					reject(new Error('aborted'));
				});
			});
		},
		async * logs() {
			// Nothing logged before the copy attached.
		},
		async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
			asked.list++;
			return labels['moat.home'] === home
				? [...containers].filter(([, status]) => status !== 'removed').map(([id, status]) => ({id, names: [], image: '', imageId: '', status: status as ContainerState['status'], labels: {'moat.home': home}}))
				: [];
		},
	} as unknown as Engine;
	return {engine, containers, asked};
}

async function waitFor(condition: () => boolean): Promise<void> {
	while (!condition()) {
		await new Promise(resolve => {
			setTimeout(resolve, 5);
		});
	}
}

test('copied runs cost nothing between sweeps; a sweep lists the containers once and asks after only the one missing, which is unregistered', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-watchers-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const store = createRunStore(home);
	const {engine, containers, asked} = fakeEngine(home);
	const registered = new Map<string, LiveRun>();
	const unregistered: string[] = [];
	const runIds = ['run_000000000001', 'run_000000000002', 'run_000000000003'];
	for (const [index, runId] of runIds.entries()) {
		const containerId = `container${index}`;
		containers.set(containerId, 'running');
		await store.create({
			id: runId, name: runId, workspace: '/workspace', agent: null, image: 'image', command: [], grants: [], ports: {}, mounts: [], environmentNames: [],
			containerId, state: 'running', interactive: false, keep: false, createdAt: '2025-01-01T00:00:00.000Z', startedAt: '2025-01-01T00:00:01.000Z',
			stoppedAt: null, exitCode: null, error: null, stopRequested: false,
		});
		// Registered long ago: past the grace in which the engine is not asked.
		registered.set(runId, {persisted: {runId, registeredAt: '2025-01-01T00:00:00.000Z'}} as LiveRun);
	}

	let reads = 0;
	const countingStore = {
		...store,
		async read(id: string) {
			reads++;
			return store.read(id);
		},
	};
	let clock = Date.parse('2025-06-01T00:00:00.000Z');
	let ticks = 0;
	const watchers = startDaemonWatchers({
		home,
		registry: {
			registered: () => registered.values(),
			has: runId => registered.has(runId),
			count: () => registered.size,
			async unregister(runId) {
				unregistered.push(runId);
				return registered.delete(runId);
			},
			async save() {},
		},
		store: countingStore,
		engine,
		finisher: {async finish() {}},
		idleMilliseconds: 60_000,
		lastActivity() {
			ticks++;
			return clock;
		},
		async idle() {},
		log() {},
		storage: createStorageHealth(),
		freeBytes: async () => undefined,
		audit: {async record() {}},
		now: () => clock,
		pace: 10,
	});
	t.teardown(() => {
		watchers.close();
	});

	// The first tick is a sweep: every run is read and its output copied.
	await waitFor(() => ticks >= 1);
	t.is(reads, 3);
	for (const runId of runIds) {
		t.true(await watchers.captureNow(runId));
	}

	reads = 0;
	asked.list = 0;
	asked.inspect = 0;
	const after = ticks;
	await waitFor(() => ticks >= after + 5);
	t.deepEqual({reads, ...asked}, {reads: 0, list: 0, inspect: 0}, 'between sweeps, copied runs are neither read nor asked after');

	// Removed behind the copy's back: only the sweep can tell.
	containers.set('container1', 'removed');
	clock += sweepMilliseconds;
	await waitFor(() => unregistered.length > 0);
	t.deepEqual(unregistered, ['run_000000000002']);
	t.is(reads, 3);
	t.is(asked.list, 1, 'one listing for every run');
	t.is(asked.inspect, 1, 'only the container missing from the listing is asked after, before it counts as ended');
	t.deepEqual([...registered.keys()], ['run_000000000001', 'run_000000000003']);
});
