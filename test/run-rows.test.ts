import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {createRunCounter} from '../source/dashboard/run-counts.js';
import {createRunRows} from '../source/dashboard/run-rows.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';
import {createRunStore} from '../source/runs/run-store.js';

function run(id: string, name: string): RunMetadata {
	return {
		id, name, workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, state: 'running', createdAt: '2026-11-22T12:00:00.000Z',
		startedAt: null, stoppedAt: null, exitCode: null, error: null, stopRequested: false,
	};
}

test('unchanged runs keep their row objects; a changed metadata file or new requests give a new row', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-run-rows-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const store = createRunStore(home);
	await store.create(run('run_000000000001', 'one'));
	await store.create(run('run_000000000002', 'two'));
	const rows = createRunRows(store, createRunCounter());

	const first = await rows.list();
	t.deepEqual(first.map(row => [row.name, row.requests, row.blocked]).sort(), [['one', 0, 0], ['two', 0, 0]]);
	const again = await rows.list();
	t.true(again.every(row => first.includes(row)), 'nothing changed: the same objects');

	await store.update('run_000000000001', {state: 'stopped', exitCode: 0});
	await fs.appendFile(store.networkFile('run_000000000002'), JSON.stringify({url: 'https://x.example/', blocked: true}) + '\n');
	const changed = await rows.list();
	const one = changed.find(row => row.name === 'one')!;
	const two = changed.find(row => row.name === 'two')!;
	t.is(one.state, 'stopped');
	t.false(first.includes(one));
	t.like(two, {requests: 1, blocked: 1});
	t.false(first.includes(two));

	await store.remove('run_000000000001');
	t.deepEqual((await rows.list()).map(row => row.name), ['two']);
});

test('no runs folder yet is no runs', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-run-rows-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	t.deepEqual(await createRunRows(createRunStore(home), createRunCounter()).list(), []);
});

test('a run whose metadata.json is damaged is a damaged row beside the others, and a whole row again once repaired', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-run-rows-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const store = createRunStore(home);
	await store.create(run('run_000000000001', 'one'));
	await store.create(run('run_000000000002', 'two'));
	const metadataFile = path.join(store.directory('run_000000000002'), 'metadata.json');
	const saved = await fs.readFile(metadataFile, 'utf8');
	const rows = createRunRows(store, createRunCounter());
	await rows.list();

	await fs.writeFile(metadataFile, '{}');
	const damaged = await rows.list();
	t.deepEqual(damaged.map(row => [row.id, row.state]).sort(), [['run_000000000001', 'running'], ['run_000000000002', 'damaged']]);
	t.like(damaged.find(row => row.id === 'run_000000000002'), {damage: 'metadata.json: field id is missing; field name is missing (and 18 more)', requests: 0});

	await fs.writeFile(metadataFile, saved);
	t.deepEqual((await rows.list()).map(row => [row.id, row.state]).sort(), [['run_000000000001', 'running'], ['run_000000000002', 'running']]);
});
