import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {exitCodes, MoatError} from '../source/errors.js';
import {parseJsonLines} from '../source/files/json-lines.js';
import type {DamagedRun, RunMetadata} from '../source/runs/run-metadata.js';
import {acceptLogRecord, wholeRunRecord} from '../source/runs/run-record-check.js';
import {readRunRecord} from '../source/runs/run-record-schemas.js';
import {resolveRun} from '../source/runs/run-resolution.js';
import {createRunStore} from '../source/runs/run-store.js';

const folder = 'run_0123456789ab';

function run(overrides: Partial<RunMetadata> = {}): RunMetadata {
	return {
		id: folder, name: 'app', workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: ['github'], ports: {web: 3000},
		mounts: [], environmentNames: [], containerId: null, state: 'stopped', interactive: false, keep: false, createdAt: '2026-11-22T12:00:00.000Z',
		startedAt: '2026-11-22T12:00:01.000Z', stoppedAt: '2026-11-22T12:00:02.000Z', exitCode: 0, error: null, stopRequested: false, ...overrides,
	};
}

const json = (value: unknown) => JSON.stringify(value);

// --- The schema boundary: readRunRecord ---

const whole: Array<[string, string]> = [
	['a record as moat writes it', json(run())],
	['one with the optional fields (resources, out of memory, activity)', json(run({resources: {memoryBytes: 1024, cpus: 1, pids: 16}, outOfMemory: false, activity: {state: 'waiting', at: '2026-11-22T12:00:03.000Z'}}))],
	['one with activity null', json(run({activity: null}))],
	['one with a key this moat does not know (a newer moat wrote it)', json({...run(), engine: 'far'})],
];

for (const [title, contents] of whole) {
	test(`readRunRecord: ${title} is a run`, t => {
		const reading = readRunRecord(folder, contents);
		t.is(reading.kind, 'run');
		t.like(reading, {run: {id: folder, name: 'app'}});
	});
}

test('readRunRecord keeps keys it does not know, so an update does not drop them', t => {
	const reading = readRunRecord(folder, json({...run(), engine: 'far'}));
	t.like(reading, {kind: 'run', run: {engine: 'far'}});
});

const damagedRecords: Array<[string, string | undefined, string]> = [
	['an empty object ({})', '{}', 'metadata.json: field id is missing; field name is missing (and 18 more)'],
	['a state that is not one', json(run({state: 'exploded' as RunMetadata['state']})), 'metadata.json: field state must be one of created, running, stopped, failed'],
	['a wrong-typed field (ports as text)', json({...run(), ports: 'web'}), 'metadata.json: field ports must be a map of name to port'],
	['a wrong-typed nested value', json({...run(), ports: {web: '3000'}}), 'metadata.json: field ports.web must be a port number'],
	['a missing id', json({...run(), id: undefined}), 'metadata.json: field id is missing'],
	['an id that is not a run id', json(run({id: '../other'})), 'metadata.json: field id must be a run id such as run_0123456789ab'],
	['an id of another folder', json(run({id: 'run_ffffffffffff'})), 'metadata.json: field id is run_ffffffffffff, but the record is in folder run_0123456789ab'],
	['a time that is not one', json(run({createdAt: 'yesterday'})), 'metadata.json: field createdAt must be a date and time'],
	['an exit code that is not whole', json(run({exitCode: 1.5})), 'metadata.json: field exitCode must be a whole number or null'],
	['an agent that is a number', json({...run(), agent: 5}), 'metadata.json: field agent must be text or null'],
	['a flag that is text', json({...run(), interactive: 'yes'}), 'metadata.json: field interactive must be true or false'],
	['invalid JSON', '{"id": "run_', 'metadata.json is not valid JSON (Unterminated string in JSON at position 12 (line 1 column 13))'],
	['an empty file', '', 'metadata.json is empty'],
	['no file', undefined, 'metadata.json is missing'],
	['a list', '[]', 'metadata.json must be a JSON object'],
	['null', 'null', 'metadata.json must be a JSON object'],
];

for (const [title, contents, damage] of damagedRecords) {
	test(`readRunRecord: ${title} is damaged, and says what is wrong`, t => {
		t.like(readRunRecord(folder, contents), {kind: 'damaged', damage});
	});
}

test('readRunRecord salvages a damaged record\'s name and time for showing it, and nothing that is not text or a time', t => {
	t.like(readRunRecord(folder, json({...run(), state: 5})), {kind: 'damaged', name: 'app', createdAt: '2026-11-22T12:00:00.000Z'});
	t.like(readRunRecord(folder, json({name: 7, createdAt: 'soon'})), {kind: 'damaged', name: null, createdAt: null});
});

// --- The check without zod: wholeRunRecord never takes what the schema refuses, and returns what it would ---

for (const [title, contents] of whole) {
	test(`wholeRunRecord: ${title} is taken, exactly as the schema returns it`, t => {
		const reading = readRunRecord(folder, contents);
		t.deepEqual(wholeRunRecord(folder, contents), reading.kind === 'run' ? reading.run : 'not a run');
	});
}

for (const [title, contents] of damagedRecords) {
	test(`wholeRunRecord: ${title} is left to the schema`, t => {
		t.is(contents === undefined ? undefined : wholeRunRecord(folder, contents), undefined);
	});
}

// What the schema takes but changes (it drops keys it does not know in nested maps), and what it refuses at its edges.
const leftToTheSchema: Array<[string, unknown]> = [
	['resources with a key more', {...run(), resources: {memoryBytes: 1, cpus: 1, pids: 1, extra: 1}}],
	['activity with a key more', {...run(), activity: {state: 'working', at: '2026-11-22T12:00:03.000Z', extra: 1}}],
	['resources null', {...run(), resources: null}],
	['a port of 0', {...run(), ports: {web: 0}}],
	['a port past 65535', {...run(), ports: {web: 65_536}}],
	['a port list', {...run(), ports: [3000]}],
	['a command with a number', {...run(), command: ['sh', 1]}],
	['an exit code past the whole numbers JSON keeps exactly', {...run(), exitCode: 2 ** 60}],
	['an activity state that is not one', {...run(), activity: {state: 'sleeping', at: '2026-11-22T12:00:03.000Z'}}],
	['an out-of-memory flag that is text', {...run(), outOfMemory: 'no'}],
	['a stopped time that is not one', {...run(), stoppedAt: 'later'}],
];

for (const [title, value] of leftToTheSchema) {
	test(`wholeRunRecord: ${title} is left to the schema`, t => {
		t.is(wholeRunRecord(folder, json(value)), undefined);
		// The schema decides: damaged, or a run as it returns it (without the keys it drops).
		const reading = readRunRecord(folder, json(value));
		t.true(reading.kind === 'damaged' || reading.kind === 'run');
	});
}

test('wholeRunRecord: a record of another folder is left to the schema, which says so', t => {
	t.is(wholeRunRecord('run_ffffffffffff', json(run())), undefined);
});

test('acceptLogRecord takes a log line and drops keys it does not know; refuses what is not one', t => {
	t.deepEqual(acceptLogRecord({ts: 't', stream: 'stdout', line: 'hi', extra: 1}), {ts: 't', stream: 'stdout', line: 'hi'});
	t.deepEqual(acceptLogRecord({ts: 't', stream: 'stderr', line: '', lost: {after: 'a', before: 'b', more: 1}}), {ts: 't', stream: 'stderr', line: '', lost: {after: 'a', before: 'b'}});
	for (const value of [null, [], 'text', {ts: 't', stream: 'stdin', line: 'x'}, {ts: 1, stream: 'stdout', line: 'x'}, {ts: 't', stream: 'stdout'}, {ts: 't', stream: 'stdout', line: 'x', lost: {after: 'a'}}, {ts: 't', stream: 'stdout', line: 'x', lost: null}]) {
		t.is(acceptLogRecord(value), undefined, JSON.stringify(value));
	}
});

// --- JSON lines ---

const lineCases: Array<[string, string, number[], number]> = [
	['whole lines', '{"n":1}\n{"n":2}\n', [1, 2], 0],
	['a torn last line, not counted (a writer mid-append)', '{"n":1}\n{"n":', [1], 0],
	['a last line without its newline that is whole, used', '{"n":1}\n{"n":2}', [1, 2], 0],
	['a garbage line in the middle, counted', '{"n":1}\ngarbage\n{"n":2}\n', [1, 2], 1],
	['a half line buried mid-file, counted', '{"n":1}\n{"n":{"n":2}\n', [1], 1],
	['a line of the wrong shape, counted', '{"n":1}\n{"m":2}\n42\nnull\n', [1], 3],
	['empty and blank lines, ignored', '\n{"n":1}\n  \n\n', [1], 0],
];

for (const [title, text, expected, skipped] of lineCases) {
	test(`parseJsonLines: ${title}`, t => {
		const accept = (value: unknown) => (typeof value === 'object' && value !== null && typeof (value as {n?: unknown}).n === 'number' ? (value as {n: number}).n : undefined);
		t.deepEqual(parseJsonLines(text, accept), {entries: expected, skipped});
	});
}

// --- The store: damaged runs are listed apart, read as errors, and never hide others ---

async function home(t: ExecutionContext): Promise<string> {
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-run-records-'));
	t.teardown(async () => fs.rm(directory, {recursive: true, force: true}));
	return directory;
}

async function damage(store: ReturnType<typeof createRunStore>, id: string, contents: string): Promise<void> {
	await store.create(run({id, name: id}));
	await fs.writeFile(path.join(store.directory(id), 'metadata.json'), contents);
}

test('scan lists whole runs and damaged ones apart, by folder name; list and read never see a damaged record as a run', async t => {
	const store = createRunStore(await home(t));
	await store.create(run({id: 'run_000000000001', name: 'good'}));
	await damage(store, 'run_000000000002', '{}');
	await damage(store, 'run_000000000003', json({...run({id: 'run_000000000003'}), state: 'exploded'}));
	await damage(store, 'run_000000000004', json({...run({name: 'no-id'}), id: undefined}));
	await damage(store, 'run_000000000005', '{"id": "run_0');

	const {runs, damaged} = await store.scan();
	t.deepEqual(runs.map(each => each.name), ['good']);
	t.deepEqual(damaged.map(each => [each.id, each.state, each.name]).sort(), [
		['run_000000000002', 'damaged', null],
		['run_000000000003', 'damaged', 'app'],
		['run_000000000004', 'damaged', 'no-id'],
		['run_000000000005', 'damaged', null],
	]);
	t.true(damaged.every(each => !Number.isNaN(Date.parse(each.createdAt))), 'each has a time to sort by');
	t.deepEqual((await store.list()).map(each => each.name), ['good']);
});

test('reading a damaged run is an error (exit 1) naming what is wrong and moat destroy; updating it leaves the file as it was', async t => {
	const store = createRunStore(await home(t));
	await damage(store, folder, '{}');
	const error = await t.throwsAsync(store.read(folder), {instanceOf: MoatError});
	t.is(error.exitCode, exitCodes.failure);
	t.regex(error.message, /^Run run_0123456789ab is damaged: metadata\.json: field id is missing/);
	t.regex(error.hint, /moat destroy run_0123456789ab/);
	await t.throwsAsync(store.update(folder, {state: 'running'}), {instanceOf: MoatError});
	t.is(await fs.readFile(path.join(store.directory(folder), 'metadata.json'), 'utf8'), '{}');
	const missing = await t.throwsAsync(store.read('run_ffffffffffff'), {instanceOf: MoatError});
	t.is(missing.exitCode, exitCodes.notFound);
});

test('a run folder without metadata.json is damaged once it holds output, and not while it is being made', async t => {
	const store = createRunStore(await home(t));
	await fs.mkdir(store.directory(folder), {recursive: true});
	await fs.writeFile(store.logFile(folder), '');
	t.is(await store.readStored(folder), undefined, 'a run being made: an empty log, no record yet');
	await fs.writeFile(store.logFile(folder), json({ts: '2026-11-22T12:00:00.000Z', stream: 'stdout', line: 'hello'}) + '\n');
	t.like(await store.readStored(folder), {id: folder, state: 'damaged', damage: 'metadata.json is missing'});
});

test('readLogFile keeps the log records and counts the lines that are not records', async t => {
	const store = createRunStore(await home(t));
	await store.create(run());
	const record = {ts: '2026-11-22T12:00:00.000Z', stream: 'stdout', line: 'one'};
	await fs.appendFile(store.logFile(folder), [json(record), 'garbage', '{}', json({...record, stream: 'nowhere'}), json({...record, line: 'two'}), ''].join('\n'));
	const {entries, skipped} = await store.readLogFile(folder);
	t.deepEqual(entries.map(each => each.line), ['one', 'two']);
	t.is(skipped, 3);
});

// --- Resolution with damaged runs ---

const healthy = [
	{id: 'run_aaaaaaaaaaaa', name: 'app', createdAt: '2026-11-22T10:00:00.000Z'},
	{id: 'run_bbbbbbbbbbbb', name: 'web', createdAt: '2026-11-22T11:00:00.000Z'},
];
const broken: Array<Pick<DamagedRun, 'id' | 'name' | 'createdAt'>> = [
	// Newer than every healthy run, and claiming a healthy run's name.
	{id: 'run_bbbbcccccccc', name: 'app', createdAt: '2026-11-22T12:00:00.000Z'},
	{id: 'run_dddddddddddd', name: null, createdAt: '2026-11-22T12:00:00.000Z'},
];

test('resolveRun finds a damaged run by its id or a unique id prefix', t => {
	t.is(resolveRun(healthy, 'run_dddddddddddd', broken).id, 'run_dddddddddddd');
	t.is(resolveRun(healthy, 'ddd', broken).id, 'run_dddddddddddd');
});

test('resolveRun never lets a damaged run stand in for the newest run or a name', t => {
	t.is(resolveRun(healthy, undefined, broken).id, 'run_bbbbbbbbbbbb');
	t.is(resolveRun(healthy, 'app', broken).id, 'run_aaaaaaaaaaaa');
});

test('resolveRun names a damaged run as damaged among the candidates of an ambiguous prefix', t => {
	const error = t.throws(() => resolveRun(healthy, 'bbbb', broken), {instanceOf: MoatError});
	t.is(error.exitCode, exitCodes.usage);
	t.is(error.message, '"bbbb" matches 2 runs: run_bbbbcccccccc (damaged), run_bbbbbbbbbbbb (web).');
});
