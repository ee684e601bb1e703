import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {allowEntryOf, bottleRequestOf, createDashboardServices, watchedFiles, type DashboardServiceOptions, type EngineParts} from '../source/dashboard/dashboard-services.js';
import {createFileWatcher, type FileWatch, type FileWatcher} from '../source/dashboard/file-watcher.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';
import {createRunStore} from '../source/runs/run-store.js';
import {until} from './helpers/deadline.js';

const common = {environment: [], mounts: [], detach: true, hasTerminal: false, rebuild: false, keep: false};

test('bottleRequestOf: a Claude bottle, detached, with its name, each grant and the prompt as its first message', t => {
	t.deepEqual(
		bottleRequestOf({agent: 'claude', workspace: '/home/u/project', name: 'demo', grants: ['claude', 'github'], prompt: 'fix the tests', attached: true}, '/home/u'),
		{recipe: 'claude', workspace: '/home/u/project', cwd: '/home/u/project', name: 'demo', grants: ['claude', 'github'], command: ['fix the tests'], ...common},
	);
});

test('bottleRequestOf: a Codex bottle without name or prompt has neither', t => {
	t.deepEqual(
		bottleRequestOf({agent: 'codex', workspace: '/w', grants: ['openai'], attached: false}, '/home/u'),
		{recipe: 'codex', workspace: '/w', cwd: '/w', grants: ['openai'], command: [], ...common},
	);
});

test('bottleRequestOf: a prompt that looks like a flag is a message, never parsed as flags', t => {
	const request = bottleRequestOf({agent: 'claude', workspace: '/w', grants: [], prompt: '-n evil --grant github', attached: true}, '/home/u');
	t.deepEqual(request.command, ['-n evil --grant github']);
	t.deepEqual(request.grants, []);
	t.is(request.name, undefined);
});

test('bottleRequestOf: a shell takes no prompt, and ~ is the user\'s home', t => {
	t.deepEqual(
		bottleRequestOf({agent: 'shell', workspace: '~/box', name: 'box', grants: ['github'], prompt: 'ignored', attached: true}, '/home/u'),
		{recipe: 'shell', workspace: '/home/u/box', cwd: '/home/u/box', name: 'box', grants: ['github'], command: [], ...common},
	);
});

test('a blocked request becomes the allow entry for its host, with its port unless 80 or 443', t => {
	t.is(allowEntryOf('pypi.org:443'), 'pypi.org');
	t.is(allowEntryOf('https://pypi.org/simple/'), 'pypi.org');
	t.is(allowEntryOf('http://example.com/x'), 'example.com');
	t.is(allowEntryOf('git.example.com:8443'), 'git.example.com:8443');
	t.is(allowEntryOf('[2001:db8::1]:443'), '2001:db8::1');
	t.is(allowEntryOf('*.com:443'), undefined, 'a pattern is never offered');
	t.is(allowEntryOf('::::'), undefined);
});

const storeFiles = {
	directory: (id: string) => `/home/u/.moat/runs/${id}`,
	logFile: (id: string) => `/home/u/.moat/runs/${id}/logs.jsonl`,
	networkFile: (id: string) => `/home/u/.moat/runs/${id}/network.jsonl`,
};

for (const [purpose, files] of [
	['row', ['metadata.json', 'network.jsonl']],
	['logs', ['logs.jsonl']],
	['network', ['network.jsonl']],
	['audit', ['audit/entries.jsonl', 'audit/checkpoints.jsonl', 'metadata.json']],
] as const) {
	test(`watchedFiles: a watch for ${purpose} looks at ${files.join(', ')} of that run only`, t => {
		t.deepEqual(watchedFiles(storeFiles, 'run_000000000001', purpose), files.map(file => `/home/u/.moat/runs/run_000000000001/${file}`));
	});
}

function realServices(moatHome: string) {
	const store = createRunStore(moatHome);
	const real = createFileWatcher();
	const watches: FileWatch[] = [];
	// The real watcher, its watches kept so a test can wait until they are ready.
	const files: FileWatcher = {
		watch(paths, options) {
			const watch = real.watch(paths, options);
			watches.push(watch);
			return watch;
		},
	};
	// Only the run store and the files are used by what these tests call.
	const services = createDashboardServices({
		environment: {moatHome, now: () => new Date()} as unknown as DashboardServiceOptions['environment'],
		store,
		// No kept screens: the runs here are not running.
		engineParts: async () => ({keeper: {lines: () => undefined, keep() {}, retain() {}}}) as unknown as EngineParts,
		grantNames: async () => [],
		allowHost: async () => undefined,
		grantWizard: async () => {
			throw new Error('not here');
		},
		daemon: async () => undefined,
		files,
	});
	return {store, services, ready: async () => Promise.all(watches.map(async watch => watch.ready))};
}

async function moatHome(t: {teardown(fn: () => Promise<void>): void}): Promise<string> {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-dashboard-services-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	return home;
}

function runRecord(id: string): RunMetadata {
	return {
		id, name: 'watched', workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, state: 'running', createdAt: '2026-11-22T12:00:00.000Z',
		startedAt: null, stoppedAt: null, exitCode: null, error: null, stopRequested: false,
	};
}

test('a line written to a watched run\'s logs.jsonl calls the Logs watch back, and the pane then reads it', async t => {
	const home = await moatHome(t);
	const {store, services, ready} = realServices(home);
	const id = 'run_0000000000a1';
	await store.create(runRecord(id));
	t.deepEqual((await services.logs!(id)).lines, []);
	let calls = 0;
	const unwatch = services.watchRun!(id, 'logs', () => {
		calls++;
	});
	t.teardown(unwatch);
	await ready();
	await fs.appendFile(store.logFile(id), JSON.stringify({ts: '2026-11-22T12:00:01.000Z', stream: 'stdout', line: 'hello from the run'}) + '\n');
	await until(() => calls > 0, 'the write');
	t.deepEqual((await services.logs!(id)).lines.map(line => line.text), ['hello from the run']);
});

test('the Preview of a terminal run that has ended shows its output as the terminal showed it: spaces drawn as cursor moves kept, a redrawn line once', async t => {
	const home = await moatHome(t);
	const {store, services} = realServices(home);
	const id = 'run_0000000000a2';
	await store.create({...runRecord(id), interactive: true, state: 'stopped', exitCode: 0});
	const lines = ['●\u001B[1CHello\u001B[1Cfrom\u001B[1Cthe\u001B[1Cstand-in!', 'status: working', '\u001B[1A\r\u001B[2Kstatus: done'];
	await fs.appendFile(store.logFile(id), lines.map(line => JSON.stringify({ts: '2026-11-22T12:00:01.000Z', stream: 'stdout', line}) + '\n').join(''));
	await services.listRuns();
	const preview = await services.preview!(id);
	t.deepEqual(preview?.lines.map(line => line.text), ['● Hello from the stand-in!', 'status: done']);
});

test('a new run folder calls the runs watch back, even when the runs folder did not exist yet', async t => {
	const home = await moatHome(t);
	const {store, services, ready} = realServices(home);
	let changed = 0;
	const unwatch = services.watchRuns!(() => {
		changed++;
	});
	t.teardown(unwatch);
	await ready();
	await store.create(runRecord('run_0000000000b2'));
	await until(() => changed > 0, 'the new run');
	t.true(changed > 0);
});

test('a watched row hears its run change state, and its requests', async t => {
	const home = await moatHome(t);
	const {store, services, ready} = realServices(home);
	const id = 'run_0000000000c3';
	await store.create(runRecord(id));
	let changed = 0;
	const unwatch = services.watchRun!(id, 'row', () => {
		changed++;
	});
	t.teardown(unwatch);
	await ready();
	await store.update(id, {state: 'stopped', exitCode: 0});
	await until(() => changed > 0, 'the state change');
	const seen = changed;
	await fs.appendFile(store.networkFile(id), JSON.stringify({method: 'GET', url: 'https://x.example/', blocked: false}) + '\n');
	await until(() => changed > seen, 'the request');
	t.true(changed > seen && seen > 0, 'called back for the state change and again for the request');
});

test('the banner says when the daemon could not write for want of space, and what to free', async t => {
	const home = '/home/u/.moat';
	const services = createDashboardServices({
		environment: {moatHome: home, now: () => new Date()} as unknown as DashboardServiceOptions['environment'],
		store: createRunStore(home),
		engineParts: async () => ({engine: {ping: async () => undefined}, keeper: {lines: () => undefined, keep() {}, retain() {}}}) as unknown as EngineParts,
		grantNames: async () => [],
		allowHost: async () => undefined,
		grantWizard: async () => {
			throw new Error('not here');
		},
		daemon: async () => ({storage: {since: '2026-01-01T00:00:00.000Z', waiting: ['output of run_000000000001']}}),
	});
	// As the dashboard does: the engine is asked once the runs are listed.
	await services.listRuns();
	const problems = await services.problems!();
	t.is(problems.length, 1);
	t.is(problems[0]!.message, `The disk holding ${home} is full: since 2026-01-01T00:00:00.000Z the daemon could not write the output of run_000000000001.`);
	t.true(problems[0]!.fix.includes('moat clean'));
});

test('the runs are listed from their records before the engine is loaded or answers; what it then says about them reaches the runs watch', async t => {
	const home = await moatHome(t);
	const store = createRunStore(home);
	const id = 'run_0000000000d4';
	await store.create({...runRecord(id), containerId: 'c0ffee'});
	let loads = 0;
	let answer: (() => void) | undefined;
	const engineParts = async () => {
		loads++;
		return {
			runs: {
				// The engine is slow: it answers when the test says so, and says the container ended.
				async reconcile(run: RunMetadata) {
					await new Promise<void>(resolve => {
						answer = resolve;
					});
					return store.update(run.id, {state: 'stopped', exitCode: 0});
				},
			},
			keeper: {keep() {}, retain() {}},
		} as unknown as EngineParts;
	};

	const services = createDashboardServices({
		environment: {moatHome: home, now: () => new Date()} as unknown as DashboardServiceOptions['environment'],
		store,
		engineParts,
		grantNames: async () => [],
		allowHost: async () => undefined,
		grantWizard: async () => {
			throw new Error('not here');
		},
		daemon: async () => undefined,
		// No file notifications: only the engine's answer can call the runs watch back.
		files: {watch: () => ({ready: Promise.resolve(), close: async () => undefined})},
	});
	let changed = 0;
	t.teardown(services.watchRuns!(() => {
		changed++;
	}));
	t.is(loads, 0, 'nothing that needs the engine is loaded before the first listing');
	const first = await services.listRuns();
	t.deepEqual(first.map(run => [run.id, run.state]), [[id, 'running']], 'the record, as it says');
	await until(() => answer !== undefined, 'the engine asked about the running run');
	t.is(changed, 0);
	answer!();
	await until(() => changed > 0, 'the runs watch told of the change');
	t.deepEqual((await services.listRuns()).map(run => [run.id, run.state]), [[id, 'stopped']]);
	t.is(loads, 1, 'the engine is loaded once');
});
