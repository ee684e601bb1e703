import {execFile} from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import {createAuditLog} from '../../source/audit/audit-log.js';
import {openLineAppender} from '../../source/files/line-appender.js';
import {createRunStore} from '../../source/runs/run-store.js';
import type {DaemonStatus} from '../../source/daemon/daemon-protocol.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, daemonPidOf, eventually, moat, processAlive, removeEngineObjectsOf, stopDaemonOf, type Sandbox} from '../helpers/moat.js';

/**
 * MOAT_HOME on a small tmpfs (mounted here: the tests run as root, as CI
 * does), filled while a run prints: nothing is left half-written, the error
 * names the folder and what to free, the daemon waits without spinning and
 * says what waits, stays reachable and stoppable, and catches up once there
 * is room.
 */

const execFileAsync = promisify(execFile);

/** Lines the run prints before the disk is filled, and in all (then END). */
const before = 20_000;
const total = 100_000;
/** Prints `before` lines, then the rest when told (/workspace/more), then END when told (/workspace/end). */
const producer = `seq 1 ${before}; until [ -e /workspace/more ]; do sleep 0.1; done; seq ${before + 1} ${total}; until [ -e /workspace/end ]; do sleep 0.1; done; echo END`;

type World = {sandbox: Sandbox; workspace: string; runId: string; filler: string};

async function mountSmallDisk(t: ExecutionContext, sandbox: Pick<Sandbox, 'moatHome'>, size = '8m'): Promise<void> {
	await fs.mkdir(sandbox.moatHome, {recursive: true});
	await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', sandbox.moatHome]).catch((error: unknown) => {
		t.fail(`these tests mount a tmpfs as MOAT_HOME and need root (CI runs as root): ${(error as Error).message}`);
		throw error;
	});
}

/** Appends to `file` until the disk has no room left, down to the byte. */
async function fillDisk(file: string): Promise<void> {
	const handle = await fs.open(file, 'a');
	try {
		for (const size of [1024 * 1024, 4096, 1]) {
			const chunk = Buffer.alloc(size, 0x78);
			for (;;) {
				try {
					await handle.write(chunk);
				} catch (error) {
					if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
						break;
					}

					throw error;
				}
			}
		}
	} finally {
		await handle.close();
	}
}

/** The daemon's status as `moat proxy status --json` gives it; empty when it gave none. */
async function proxyStatus(sandbox: Sandbox): Promise<Partial<DaemonStatus>> {
	const result = await moat(['proxy', 'status', '--json'], {env: sandbox.env});
	try {
		return JSON.parse(result.stdout) as DaemonStatus;
	} catch {
		return {};
	}
}

/** utime + stime of a process, in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
	const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
	// Fields after the command name (which may hold spaces) start at the state, field 3.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return Number(fields[11]) + Number(fields[12]);
}

const readText = async (file: string) => fs.readFile(file, 'utf8').catch(() => '');
const runFile = (world: World, name: string) => path.join(world.sandbox.moatHome, 'runs', world.runId, name);
const metadataOf = async (world: World) => JSON.parse(await fs.readFile(runFile(world, 'metadata.json'), 'utf8')) as RunMetadata;

/** Every JSON state file parses, every JSONL file holds whole lines only, and no temporary file is left. */
async function assertNothingHalfWritten(t: ExecutionContext, moatHome: string): Promise<void> {
	const files = (await fs.readdir(moatHome, {recursive: true, withFileTypes: true})).filter(entry => entry.isFile());
	for (const entry of files) {
		const file = path.join(entry.parentPath, entry.name);
		t.false(file.endsWith('.tmp'), `no temporary file is left: ${file}`);
		if (file.endsWith('.json')) {
			const text = await readText(file);
			t.notThrows(() => {
				JSON.parse(text);
			}, `${file} is whole`);
		}

		if (file.endsWith('.jsonl')) {
			const text = await readText(file);
			t.true(text === '' || text.endsWith('\n'), `${file} ends on a whole line`);
			const torn = text.split('\n').filter(line => line !== '').filter(line => {
				try {
					JSON.parse(line);
					return false;
				} catch {
					return true;
				}
			});
			t.deepEqual(torn, [], `${file} holds whole lines only`);
		}
	}
}

/** Output exactly as printed: every line once, in order, then END. */
async function assertWholeOutput(t: ExecutionContext, world: World): Promise<void> {
	const lines = (await readText(runFile(world, 'logs.jsonl'))).split('\n').filter(Boolean).map(line => (JSON.parse(line) as {line: string}).line);
	t.is(lines.length, total + 1, 'every line once');
	const first = lines.findIndex((line, index) => line !== (index === total ? 'END' : String(index + 1)));
	t.is(first, -1, first === -1 ? '' : `line ${first + 1} is ${JSON.stringify(lines[first])}`);
}

/**
 * A detached run on a MOAT_HOME of its own small disk: its first lines are
 * copied, then the disk is filled to the byte and the run prints the rest.
 * Resolves once the daemon says that output waits for space.
 */
async function fillWhileRunning(t: ExecutionContext): Promise<World> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await stopDaemonOf(sandbox.moatHome);
		await removeEngineObjectsOf(sandbox.moatHome, sandbox.env);
		await execFileAsync('umount', [sandbox.moatHome]).catch(async () => execFileAsync('umount', ['-l', sandbox.moatHome]).catch(() => undefined));
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	await mountSmallDisk(t, sandbox);

	const started = await moat(['run', workspace, '-d', '--', 'sh', '-c', producer], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const world = {sandbox, workspace, runId: started.stdout.trim(), filler: path.join(sandbox.moatHome, 'filler')};
	await eventually(async () => (await readText(runFile(world, 'logs.jsonl'))).split('\n').length > before);

	await fillDisk(world.filler);
	await fs.writeFile(path.join(workspace, 'more'), '');
	await eventually(async () => (await proxyStatus(sandbox)).storage?.waiting.includes(`output of ${world.runId}`) === true);
	// What the daemon's failed write gave back, taken again: the disk stays full to the byte.
	await fillDisk(world.filler);
	return world;
}

test.serial('on a full disk an append, an audit entry and a run record are written whole or not at all, with an error naming the folder', async t => {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-full-disk-'));
	const moatHome = path.join(root, 'moat-home');
	t.teardown(async () => {
		await execFileAsync('umount', [moatHome]).catch(() => undefined);
		await fs.rm(root, {recursive: true, force: true});
	});
	await mountSmallDisk(t, {moatHome}, '1m');
	const store = createRunStore(moatHome);
	const audit = createAuditLog(moatHome);
	const runId = 'run_000000000001';
	await store.create({
		id: runId, name: 'full', workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, state: 'running', createdAt: '2026-12-03T12:00:00.000Z',
		startedAt: null, stoppedAt: null, exitCode: null, error: null, stopRequested: false,
	});
	await audit.record(runId, 'run.started', {});
	const file = path.join(moatHome, 'runs', runId, 'logs.jsonl');
	const appender = await openLineAppender(file);
	await appender.append('{"line":"first"}\n');
	const filler = path.join(moatHome, 'filler');
	await fillDisk(filler);
	const sizes = async () => Promise.all([file, path.join(moatHome, 'runs', runId, 'audit', 'entries.jsonl')].map(async name => (await fs.stat(name)).size));
	const before = await sizes();

	// More than the last page's slack: part of it lands before the disk says no, and is cut back.
	const error = await t.throwsAsync(appender.append(`{"line":"${'x'.repeat(64 * 1024)}"}\n`));
	t.regex(error.message, new RegExp(`The disk holding ${path.join(moatHome, 'runs', runId)} is full`));
	await t.throwsAsync(audit.record(runId, 'run.exited', {padding: 'y'.repeat(64 * 1024)}), {message: /is full/});
	await t.throwsAsync(store.update(runId, {state: 'stopped', padding: 'z'.repeat(64 * 1024)} as unknown as Partial<RunMetadata>), {message: /is full/});
	t.deepEqual(await sizes(), before, 'nothing of the refused writes is left');
	t.is((await store.read(runId)).state, 'running');
	t.deepEqual((await fs.readdir(path.join(moatHome, 'runs', runId))).sort(), ['audit', 'logs.jsonl', 'metadata.json']);

	// Once there is room the same appender goes on after the last whole line.
	await fs.rm(filler);
	await appender.append('{"line":"second"}\n');
	await appender.close();
	t.is(await fs.readFile(file, 'utf8'), '{"line":"first"}\n{"line":"second"}\n');
	await audit.record(runId, 'run.exited', {});
	t.deepEqual((await audit.read(runId)).entries.map(entry => entry?.type), ['run.started', 'run.exited']);
});

dockerTest('a full MOAT_HOME: nothing half-written, a clear error, a daemon that waits without spinning, says so and stays reachable, then catches up whole', async t => {
	const world = await fillWhileRunning(t);
	const {sandbox} = world;
	const daemonPid = await daemonPidOf(sandbox.moatHome);
	const ticksBefore = await cpuTicks(daemonPid);
	const windowStart = process.hrtime.bigint();

	await assertNothingHalfWritten(t, sandbox.moatHome);

	const status = await moat(['status'], {env: sandbox.env});
	t.is(status.code, 0, status.stderr);
	t.true(status.stdout.includes(`The disk holding ${sandbox.moatHome} is full`), status.stdout);
	t.true(status.stdout.includes(`output of ${world.runId}`), status.stdout);
	t.true(status.stdout.includes('moat clean'), 'it says what to free');

	const proxy = await moat(['proxy', 'status'], {env: sandbox.env});
	t.is(proxy.code, 0, proxy.stderr);
	t.regex(proxy.stdout, new RegExp(`running \\(pid ${daemonPid}`));
	t.true(proxy.stdout.includes('is full'), proxy.stdout);

	// A command that must write says which folder is full and what to free, not ENOSPC.
	const refused = await moat(['run', world.workspace, '-d', '--', 'true'], {env: sandbox.env});
	t.is(refused.code, 1, refused.stdout);
	t.regex(refused.stderr, /The disk holding \/\S+ is full/);
	t.true(refused.stderr.includes(sandbox.moatHome), refused.stderr);
	t.true(refused.stderr.includes('moat clean'), refused.stderr);
	t.false(refused.stderr.includes('ENOSPC'), refused.stderr);

	// Reading commands still work, showing runs as last written.
	const list = await moat(['list', '--json'], {env: sandbox.env});
	t.is(list.code, 0, list.stderr);
	t.deepEqual((JSON.parse(list.stdout) as RunMetadata[]).map(run => run.id), [world.runId]);

	// The run ends while the disk is full: its token is revoked all the same.
	await fs.writeFile(path.join(world.workspace, 'end'), '');
	await eventually(async () => (await proxyStatus(sandbox)).registered?.length === 0);
	const cpuSeconds = (await cpuTicks(daemonPid) - ticksBefore) / 100;
	const windowSeconds = Number(process.hrtime.bigint() - windowStart) / 1e9;
	// A daemon spinning on its failures burns a core for the whole window; one that waits uses a sliver of it.
	t.true(cpuSeconds < windowSeconds / 4, `the daemon used ${cpuSeconds} s of CPU in ${windowSeconds.toFixed(1)} s on a full disk`);
	await assertNothingHalfWritten(t, sandbox.moatHome);
	t.is((await metadataOf(world)).state, 'running', 'the record waits, whole, for room to say the run ended');

	// Space returns: the same daemon copies the rest in whole, once, and finishes the run.
	await fs.rm(world.filler);
	// The container goes once its output is stored: the record's last change.
	await eventually(async () => (await metadataOf(world)).containerId === null);
	const finished = await metadataOf(world);
	t.is(finished.state, 'stopped');
	t.is(finished.exitCode, 0);
	await assertWholeOutput(t, world);
	await assertNothingHalfWritten(t, sandbox.moatHome);
	await eventually(async () => {
		const answer = await proxyStatus(sandbox);
		return answer.pid !== undefined && answer.storage === undefined;
	});
	const clear = await moat(['status'], {env: sandbox.env});
	t.false(clear.stdout.includes('is full'), clear.stdout);

	const stopped = await moat(['proxy', 'stop'], {env: sandbox.env});
	t.is(stopped.code, 0, stopped.stderr);
	t.false(processAlive(daemonPid));
});

dockerTest('on a full MOAT_HOME the daemon stops on SIGTERM, and the next one catches the run up once there is room', async t => {
	const world = await fillWhileRunning(t);
	const {sandbox} = world;
	const daemonPid = await daemonPidOf(sandbox.moatHome);
	process.kill(daemonPid, 'SIGTERM');
	await eventually(async () => !processAlive(daemonPid));
	await assertNothingHalfWritten(t, sandbox.moatHome);

	await fs.rm(world.filler);
	const started = await moat(['proxy', 'start'], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	await fs.writeFile(path.join(world.workspace, 'end'), '');
	await eventually(async () => (await metadataOf(world)).containerId === null);
	t.is((await metadataOf(world)).state, 'stopped');
	t.is((await metadataOf(world)).exitCode, 0);
	await assertWholeOutput(t, world);
	await assertNothingHalfWritten(t, sandbox.moatHome);
});
