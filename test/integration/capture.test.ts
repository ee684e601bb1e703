import {createReadStream} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {createInterface} from 'node:readline';
import type {ExecutionContext} from 'ava';
import {waitDeadlineMilliseconds} from '../helpers/deadline.js';
import {dockerTest} from '../helpers/docker.js';
import {auditRecordsOf, createSandbox, createWorkspace, daemonPidOf, destroyRuns, docker, eventually, listRuns, moat, processAlive, type Sandbox} from '../helpers/moat.js';

/**
 * Issue 18: a fast writer's output reached logs.jsonl with gaps and lines
 * twice (Docker's rotating log dropped what capture had not read). These
 * runs print as fast as a container can and check the file line by line.
 */
const lines = 6_000_000;
const command = ['sh', '-c', `seq 1 ${lines}; echo END`];

async function setUp(t: ExecutionContext): Promise<{sandbox: Sandbox; workspace: string}> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await destroyRuns(sandbox.env);
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {sandbox, workspace};
}

function logFile(sandbox: Sandbox, runId: string): string {
	return path.join(sandbox.moatHome, 'runs', runId, 'logs.jsonl');
}

/** The last line of logs.jsonl, read from its end. */
async function lastLine(file: string): Promise<string> {
	const handle = await fs.open(file, 'r').catch(() => undefined);
	if (!handle) {
		return '';
	}

	try {
		const {size} = await handle.stat();
		const buffer = Buffer.alloc(Math.min(size, 4096));
		await handle.read(buffer, 0, buffer.length, size - buffer.length);
		const text = buffer.toString('utf8').trimEnd();
		return text.slice(text.lastIndexOf('\n') + 1);
	} finally {
		await handle.close();
	}
}

/** How logs.jsonl departs from `1…lines, END`: the first few departures and the count of records. */
async function departures(file: string): Promise<{records: number; problems: string[]}> {
	const problems: string[] = [];
	let records = 0;
	for await (const text of createInterface({input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY})) {
		records++;
		const {line, stream} = JSON.parse(text) as {line: string; stream: string};
		const expected = records <= lines ? String(records) : 'END';
		if ((line !== expected || stream !== 'stdout') && problems.length < 5) {
			problems.push(`record ${records}: ${stream} ${JSON.stringify(line)}, expected ${expected}`);
		}
	}

	return {records, problems};
}

async function settled(sandbox: Sandbox, runId: string): Promise<void> {
	// Millions of lines take long on a loaded machine: what must not happen is the copy standing still.
	const file = logFile(sandbox, runId);
	let size = -1;
	let grewAt = Date.now();
	while (!(await lastLine(file)).includes('"END"')) {
		const now = (await fs.stat(file).catch(() => ({size: 0}))).size;
		if (now !== size) {
			size = now;
			grewAt = Date.now();
		} else if (Date.now() - grewAt > waitDeadlineMilliseconds) {
			throw new Error(`logs.jsonl stopped growing at ${size} bytes before END`);
		}

		await new Promise(resolve => {
			setTimeout(resolve, 200);
		});
	}

	await eventually(async () => (await listRuns<{id: string; state: string}>(sandbox.env)).find(run => run.id === runId)?.state === 'stopped');
}

dockerTest('a detached run printing 6,000,000 lines as fast as it can ends with exactly those lines in logs.jsonl, once and in order', async t => {
	const {sandbox, workspace} = await setUp(t);
	const started = await moat(['run', '-d', workspace, '--', ...command], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	await settled(sandbox, runId);
	const {records, problems} = await departures(logFile(sandbox, runId));
	t.deepEqual(problems, []);
	t.is(records, lines + 1);
});

dockerTest('a run whose daemon is killed with kill -9 mid-output and started again ends with exactly its lines', async t => {
	const {sandbox, workspace} = await setUp(t);
	const started = await moat(['run', '-d', workspace, '--', ...command], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	// Mid-output: the copy is under way and far from done.
	await eventually(async () => Number((/"line":"(\d+)"/.exec((await lastLine(logFile(sandbox, runId)))))?.[1] ?? 0) > 200_000);
	const pid = await daemonPidOf(sandbox.moatHome);
	process.kill(pid, 'SIGKILL');
	await eventually(async () => !processAlive(pid));
	const last = await lastLine(logFile(sandbox, runId));
	t.false(last.includes('"END"'), 'the daemon died before the output ended');

	const restarted = await moat(['proxy', 'start'], {env: sandbox.env});
	t.is(restarted.code, 0, restarted.stderr);
	await settled(sandbox, runId);
	const {records, problems} = await departures(logFile(sandbox, runId));
	t.deepEqual(problems, []);
	t.is(records, lines + 1);
});

dockerTest('output the engine rotated away while no daemon was copying leaves a gap record in logs.jsonl, moat logs and the audit log, never silence', async t => {
	const {sandbox, workspace} = await setUp(t);
	// A small log ring (three files of 1 MB), so a modest burst outruns it.
	const env = {...sandbox.env, MOAT_ENGINE_LOG_SIZE: '1m'};
	const burst = 300_000;
	const started = await moat(['run', '-d', workspace, '--', 'sh', '-c', `echo first; until [ -e /workspace/go ]; do sleep 0.1; done; seq 1 ${burst}; echo END`], {env});
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	await eventually(async () => (await lastLine(logFile(sandbox, runId))).includes('"first"'));

	// No daemon copies while the burst is printed and the run ends.
	const pid = await daemonPidOf(sandbox.moatHome);
	process.kill(pid, 'SIGKILL');
	await eventually(async () => !processAlive(pid));
	await fs.writeFile(path.join(workspace, 'go'), '');
	const container = await docker('ps', '-aq', '--filter', `label=moat.run-id=${runId}`);
	t.is(await docker('wait', container), '0');

	const restarted = await moat(['proxy', 'start'], {env});
	t.is(restarted.code, 0, restarted.stderr);
	await eventually(async () => (await lastLine(logFile(sandbox, runId))).includes('"END"'));

	const records = (await fs.readFile(logFile(sandbox, runId), 'utf8')).trimEnd().split('\n').map(line => JSON.parse(line) as {stream: string; line: string; lost?: {after: string; before: string}});
	t.is(records[0]?.line, 'first');
	const gap = records[1]!;
	t.is(gap.stream, 'stderr');
	t.truthy(gap.lost, JSON.stringify(gap));
	t.is(gap.line, `[moat] output lost between ${gap.lost!.after} and ${gap.lost!.before}: no moat daemon was copying, and the engine's log of the run had rotated these lines away (how many, the engine does not say)`);
	t.true(Date.parse(gap.lost!.after) <= Date.parse(gap.lost!.before));
	// After the gap, what the engine kept: the burst's last lines, whole and in order.
	const kept = records.slice(2).map(record => record.line);
	t.is(kept.at(-1), 'END');
	const firstKept = Number(kept[0]);
	t.true(firstKept > 1, `lines were lost, yet the file goes on from ${kept[0]}`);
	t.deepEqual(kept.slice(0, -1), Array.from({length: burst - firstKept + 1}, (_, index) => String(firstKept + index)));

	// moat logs says so where it happened, and the audit log holds the same gap.
	const logs = await moat(['logs', runId], {env});
	t.is(logs.code, 0, logs.stderr);
	// It is moat's word on the run's stderr, between the lines around it.
	t.deepEqual(logs.stdout.split('\n').slice(0, 2), ['first', String(firstKept)]);
	t.true(logs.stderr.startsWith(`[moat] output lost between ${gap.lost!.after} and ${gap.lost!.before}`), logs.stderr);
	const lost = (await auditRecordsOf(sandbox.moatHome, runId)).filter(record => record.type === 'output.lost');
	t.deepEqual(lost.map(record => record.data), [gap.lost]);
});
