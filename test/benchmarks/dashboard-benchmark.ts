/**
 * bench:dashboard — the full-screen dashboard (`moat` on a terminal) in a
 * real terminal (tmux), three figures:
 *   1. with 500 runs in MOAT_HOME, the time from spawn to the first full
 *      paint (header "moat · 500 runs", the newest run's row, the hint bar)
 *      and the RSS then, against `moat list --json` of the same store
 *      (spawn to exit; ratio). Target: first paint < 300 ms and no slower
 *      than moat list --json (≤ 1×).
 *   2. with one run printing 5,000 lines/s, how far the Logs pane falls
 *      behind the file (max and p50, sampled every 100 ms for 10 s) and the
 *      CPU the dashboard uses meanwhile. Target: never more than 1 s behind.
 *   3. with 20 running runs (real containers), the dashboard's CPU when
 *      nobody touches it. Target: < 2%.
 * Alongside: when anything is first drawn (the title), and
 * the idle CPU with the 500 stopped runs. CPU is user plus system time of
 * the whole node process from /proc (every thread: libuv's file I/O and the
 * GC count), as % of one core. The load average is printed because every
 * figure here moves with it.
 *
 * BENCH_RUNS, BENCH_ROUNDS, BENCH_LINES_PER_SECOND, BENCH_SECONDS and
 * BENCH_RUNNING change the sizes; BENCH_PROFILE=<folder> writes a CPU
 * profile of each dashboard; NODE_ENV and NODE_OPTIONS reach the dashboard.
 *
 * Not a test: it prints figures and never fails on them.
 */
import {execFile, spawnSync} from 'node:child_process';
import {existsSync, readFileSync, writeSync} from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import type {NetworkEntry} from '../../source/proxy/proxy-server.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import type {LogRecord} from '../../source/runs/run-store.js';
import {seededRandom} from '../helpers/seeded-random.js';
import {reportFigures} from './bench-report.js';

const execFileAsync = promisify(execFile);
const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));
const runCount = Number(process.env.BENCH_RUNS ?? 500);
const paintRounds = Number(process.env.BENCH_ROUNDS ?? 5);
const linesPerSecond = Number(process.env.BENCH_LINES_PER_SECOND ?? 5000);
const sampleSeconds = Number(process.env.BENCH_SECONDS ?? 10);
const runningCount = Number(process.env.BENCH_RUNNING ?? 20);
const rows = 45;
const columns = 160;
/** /proc/<pid>/stat counts CPU time in clock ticks of this length (USER_HZ, 100 on Linux). */
const tickMilliseconds = 10;

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-dashboard-'));
const userHome = path.join(root, 'user');
const storeHome = path.join(root, 'store');
const runningHome = path.join(root, 'running');
const socket = `moat-bench-${process.pid}`;
await fs.mkdir(userHome);

function environmentFor(moatHome: string): NodeJS.ProcessEnv {
	return {...process.env, MOAT_HOME: moatHome, HOME: userHome, TERM: 'xterm-256color'};
}

function quote(word: string): string {
	return `'${word.replaceAll('\'', String.raw`'\''`)}'`;
}

async function tmux(...args: string[]): Promise<string> {
	const {stdout} = await execFileAsync('tmux', ['-L', socket, ...args]);
	return stdout;
}

async function sleep(milliseconds: number): Promise<void> {
	return new Promise(resolve => {
		setTimeout(resolve, milliseconds);
	});
}

function percentile(values: number[], fraction: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

const median = (values: number[]) => percentile(values, 0.5);

/** User plus system CPU time of a process so far, in milliseconds. */
function cpuMilliseconds(pid: number): number {
	// The command name (field 2) is in parentheses and may hold spaces: count fields after it.
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	// Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
	return (Number(fields[11]) + Number(fields[12])) * tickMilliseconds;
}

function residentMegabytes(pid: number): number {
	const status = readFileSync(`/proc/${pid}/status`, 'utf8');
	return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

/** The CPU a process used over `milliseconds` of wall time, as % of one core. */
async function cpuPercentOver(pid: number, milliseconds: number): Promise<number> {
	const cpuBefore = cpuMilliseconds(pid);
	const started = performance.now();
	await sleep(milliseconds);
	return (cpuMilliseconds(pid) - cpuBefore) / (performance.now() - started) * 100;
}

// ---------------------------------------------------------------- the store

const random = seededRandom(500);
const now = Date.now();
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

function runId(index: number): string {
	return `run_${index.toString(16).padStart(4, '0')}${Math.floor(random() * 0xFF_FF_FF_FF).toString(16).padStart(8, '0')}`;
}

function runRecord(index: number, overrides: Partial<RunMetadata> = {}): RunMetadata {
	// Oldest first: index 0 is 30 days old, the last one a minute old.
	const created = new Date(now - 60_000 - ((runCount - 1 - index) / runCount) * 30 * 86_400_000);
	const failed = random() < 0.15;
	const agent = pick([null, 'claude', 'claude', 'codex']);
	return {
		id: runId(index),
		name: `task-${String(index + 1).padStart(4, '0')}`,
		workspace: `/home/user/projects/${pick(['api', 'web', 'infra', 'docs'])}`,
		agent,
		image: 'moat/base:bench',
		command: agent ? [agent] : ['sh', '-c', 'make test'],
		grants: random() < 0.3 ? ['github'] : [],
		ports: {},
		mounts: [],
		environmentNames: [],
		containerId: null,
		state: failed ? 'failed' : 'stopped',
		interactive: agent !== null,
		keep: false,
		createdAt: created.toISOString(),
		startedAt: new Date(created.getTime() + 800).toISOString(),
		stoppedAt: new Date(created.getTime() + 60_000 + random() * 3_600_000).toISOString(),
		exitCode: failed ? 1 : 0,
		error: failed ? 'The command exited with code 1.' : null,
		stopRequested: false,
		activity: null,
		...overrides,
	};
}

function networkLines(count: number, created: string): string {
	return Array.from({length: count}, (_, line) => {
		const blocked = random() < 0.2;
		const entry: NetworkEntry = {
			ts: new Date(Date.parse(created) + line * 1000).toISOString(),
			method: 'GET',
			url: blocked ? 'https://pypi.org/simple/requests/' : 'https://api.github.com/repos/example/project',
			status: blocked ? 0 : 200,
			duration_ms: 40 + random() * 200,
			bytes_in: 512,
			bytes_out: 2048,
			grant: blocked ? null : 'github',
			blocked,
			error: blocked ? 'host not allowed' : null,
		};
		return JSON.stringify(entry) + '\n';
	}).join('');
}

/** Writes a run folder the way the run store does: metadata, an empty log, maybe a network log. */
async function writeRun(moatHome: string, run: RunMetadata, network = ''): Promise<void> {
	const directory = path.join(moatHome, 'runs', run.id);
	await fs.mkdir(directory, {recursive: true, mode: 0o700});
	await fs.writeFile(path.join(directory, 'metadata.json'), JSON.stringify(run, undefined, 2) + '\n', {mode: 0o600});
	await fs.writeFile(path.join(directory, 'logs.jsonl'), '', {mode: 0o600});
	if (network) {
		await fs.writeFile(path.join(directory, 'network.jsonl'), network, {mode: 0o600});
	}
}

const storeRuns = Array.from({length: runCount}, (_, index) => runRecord(index));
const newestName = storeRuns.at(-1)!.name;

// ---------------------------------------------------------------- the terminal

let dashboards = 0;

type Dashboard = {name: string; pid: number; spawnedAt: number};

/**
 * Opens `moat` in a new tmux session of the benchmark's own server. The
 * server is already up (see below), so the time from here is moat's own:
 * tmux's fork and exec, node's start, and moat until it draws.
 */
async function openDashboard(moatHome: string): Promise<Dashboard> {
	const name = `dashboard-${++dashboards}`;
	const variables = Object.entries(environmentFor(moatHome))
		.filter(([variable]) => /^(MOAT_|HOME$|PATH$|DOCKER_HOST$|TERM$|NODE_ENV$|NODE_OPTIONS$)/.test(variable))
		.map(([variable, value]) => `${variable}=${quote(value!)}`)
		.join(' ');
	// BENCH_PROFILE=<folder>: a CPU profile of each dashboard, written when it exits.
	const profile = process.env.BENCH_PROFILE ? `--cpu-prof --cpu-prof-dir ${quote(process.env.BENCH_PROFILE)} ` : '';
	// exec: the pane's process is node itself, so its PID is the dashboard's.
	const command = `exec env ${variables} ${quote(process.execPath)} ${profile}${quote(cli)}`;
	const spawnedAt = performance.now();
	await tmux('new-session', '-d', '-s', name, '-x', String(columns), '-y', String(rows), command);
	const pid = Number((await tmux('list-panes', '-t', name, '-F', '#{pane_pid}')).trim());
	return {name, pid: await nodeProcess(pid), spawnedAt};
}

/** The node process in a pane: the pane's process itself, or its child when a shell sits in between. */
async function nodeProcess(panePid: number): Promise<number> {
	for (let attempt = 0; attempt < 100; attempt++) {
		const executable = await fs.readlink(`/proc/${panePid}/exe`).catch(() => '');
		if (executable === process.execPath || path.basename(executable) === 'node') {
			return panePid;
		}

		const children = (await fs.readFile(`/proc/${panePid}/task/${panePid}/children`, 'utf8').catch(() => '')).trim().split(' ').filter(Boolean);
		if (children.length > 0) {
			return Number(children[0]);
		}

		await sleep(1);
	}

	throw new Error(`no node process in the pane (pid ${panePid})`);
}

async function screen(name: string): Promise<string> {
	return tmux('capture-pane', '-p', '-t', name);
}

/** Polls the screen every 10 ms until `condition`; returns it and when it was seen. */
async function waitForScreen(name: string, condition: (text: string) => boolean, timeoutMilliseconds = 30_000): Promise<{text: string; at: number}> {
	const deadline = performance.now() + timeoutMilliseconds;
	let text = '';
	while (performance.now() < deadline) {
		text = await screen(name);
		const at = performance.now();
		if (condition(text)) {
			return {text, at};
		}

		await sleep(10);
	}

	throw new Error(`the screen never showed what was waited for; last screen:\n${text}`);
}

async function closeDashboard(dashboard: Dashboard): Promise<void> {
	await tmux('kill-session', '-t', dashboard.name).catch(() => undefined);
	// Gone before the next one starts, so two never share the machine.
	for (let attempt = 0; attempt < 200 && existsSync(`/proc/${dashboard.pid}`); attempt++) {
		await sleep(10);
	}
}

/** The header with every run counted, the newest run's row and the hint bar: the whole screen is drawn. */
const fullPaint = (count: number, newest: string) => (text: string) =>
	text.includes(`moat · ${count} run${count === 1 ? '' : 's'}`) && text.includes(newest) && text.includes('q quit');

// ---------------------------------------------------------------- the baseline

function timedList(moatHome: string): number {
	const started = performance.now();
	const result = spawnSync(process.execPath, [cli, 'list', '--json'], {env: environmentFor(moatHome), stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024});
	const elapsed = performance.now() - started;
	if (result.status !== 0) {
		throw new Error(`moat list --json exited ${result.status}: ${result.stderr.toString()}`);
	}

	const listed = (JSON.parse(result.stdout.toString()) as unknown[]).length;
	if (listed !== runCount) {
		throw new Error(`moat list --json listed ${listed} runs, not ${runCount}`);
	}

	return elapsed;
}

/** CPU and peak RSS of one `moat list --json`, through GNU time when it is installed. */
function listResources(moatHome: string): {cpu: number; rss: number} | undefined {
	if (!existsSync('/usr/bin/time')) {
		return undefined;
	}

	const result = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, cli, 'list', '--json'], {env: environmentFor(moatHome), stdio: ['ignore', 'ignore', 'pipe']});
	const [user, system, kilobytes] = result.stderr.toString().trim().split('\n').at(-1)!.split(' ').map(Number);
	return {cpu: (user! + system!) * 1000, rss: kilobytes! / 1024};
}

// ---------------------------------------------------------------- cleanup

const startedRuns = new Set<string>();
let cleaned = false;

async function cleanup(): Promise<void> {
	if (cleaned) {
		return;
	}

	cleaned = true;
	// tmux leaves its socket file behind when the server goes.
	const socketPath = (await tmux('display-message', '-p', '#{socket_path}').catch(() => '')).trim()
		|| path.join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket);
	await tmux('kill-server').catch(() => undefined);
	await fs.rm(socketPath, {force: true});

	if (existsSync(runningHome)) {
		// Every run in the store, not only those this process saw start: a run -d that was cut short may still have made one.
		const listed = spawnSync(process.execPath, [cli, 'list', '--json'], {env: environmentFor(runningHome), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024});
		for (const run of listed.status === 0 ? JSON.parse(listed.stdout) as RunMetadata[] : []) {
			startedRuns.add(run.id);
		}

		for (const id of startedRuns) {
			spawnSync(process.execPath, [cli, 'destroy', '-f', id], {env: environmentFor(runningHome), stdio: 'ignore'});
		}

		// Anything left of this home (a crash between create and record) goes by its label.
		const left = spawnSync('docker', ['ps', '-aq', '--filter', `label=moat.home=${runningHome}`], {encoding: 'utf8'}).stdout?.trim().split('\n').filter(Boolean) ?? [];
		if (left.length > 0) {
			spawnSync('docker', ['rm', '-f', ...left], {stdio: 'ignore'});
		}

		spawnSync(process.execPath, [cli, 'proxy', 'stop'], {env: environmentFor(runningHome), stdio: 'ignore'});
	}

	spawnSync(process.execPath, [cli, 'proxy', 'stop'], {env: environmentFor(storeHome), stdio: 'ignore'});
	await fs.rm(root, {recursive: true, force: true});
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.once(signal, () => {
		void cleanup().finally(() => {
			process.exit(130);
		});
	});
}

// ---------------------------------------------------------------- the rounds

// Other work on the machine slows every figure here alike; the report says how busy it was.
const loadBefore = os.loadavg()[0]!.toFixed(2);

try {
	for (const run of storeRuns) {
		await writeRun(storeHome, run, random() < 0.3 ? networkLines(2 + Math.floor(random() * 6), run.createdAt) : '');
	}

	// The benchmark's tmux server, up before anything is timed.
	await tmux('new-session', '-d', '-s', 'server', '-x', '80', '-y', '24', 'sleep 3600');

	// 1. First paint, alternating with the baseline so drift hits both alike; one warm-up of each.
	timedList(storeHome);
	const warmUp = await openDashboard(storeHome);
	try {
		await waitForScreen(warmUp.name, fullPaint(runCount, newestName));
	} finally {
		await closeDashboard(warmUp);
	}

	const paints: number[] = [];
	const firstFrames: number[] = [];
	const panesLoaded: number[] = [];
	const residents: number[] = [];
	const lists: number[] = [];
	let idleStoppedCpu = 0;
	for (let round = 0; round < paintRounds; round++) {
		lists.push(timedList(storeHome));
		const dashboard = await openDashboard(storeHome);
		try {
			// Whatever is drawn first: the title, with or without the runs counted.
			const first = await waitForScreen(dashboard.name, text => text.includes('moat ·'));
			firstFrames.push(first.at - dashboard.spawnedAt);
			const painted = await waitForScreen(dashboard.name, fullPaint(runCount, newestName));
			paints.push(painted.at - dashboard.spawnedAt);
			residents.push(residentMegabytes(dashboard.pid));
			// The selected run's pane, read after the table.
			const loaded = await waitForScreen(dashboard.name, text => !text.includes('Loading…'));
			panesLoaded.push(loaded.at - dashboard.spawnedAt);
			if (round === paintRounds - 1) {
				// The 500 stopped runs left alone: what the periodic refresh costs by itself.
				await sleep(3000);
				idleStoppedCpu = await cpuPercentOver(dashboard.pid, sampleSeconds * 1000);
			}
		} finally {
			await closeDashboard(dashboard);
		}
	}

	const listCost = listResources(storeHome);

	// 2. The Logs pane against a run printing `linesPerSecond`: the newest run, so it is selected first.
	const firehose = runRecord(runCount, {
		name: 'firehose',
		agent: null,
		interactive: false,
		state: 'running',
		createdAt: new Date().toISOString(),
		startedAt: new Date().toISOString(),
		stoppedAt: null,
		exitCode: null,
		error: null,
	});
	await writeRun(storeHome, firehose);
	const logFile = path.join(storeHome, 'runs', firehose.id, 'logs.jsonl');
	const log = await fs.open(logFile, 'a');
	let written = 0;
	const writerStarted = performance.now();
	const writeDue = () => {
		const due = Math.floor((performance.now() - writerStarted) / 1000 * linesPerSecond);
		if (due > written) {
			const ts = new Date().toISOString();
			let chunk = '';
			for (let counter = written + 1; counter <= due; counter++) {
				const record: LogRecord = {ts, stream: 'stdout', line: `n ${counter}`};
				chunk += JSON.stringify(record) + '\n';
			}

			// Synchronous and whole, so `written` never runs ahead of the file.
			writeSync(log.fd, chunk);
			written = due;
		}
	};

	const writer = setInterval(writeDue, 5);
	const lagLines: number[] = [];
	let logsCpu = 0;
	let logsResident = 0;
	try {
		const dashboard = await openDashboard(storeHome);
		try {
			await waitForScreen(dashboard.name, fullPaint(runCount + 1, 'firehose'));
			// Tab opens the pane shown (Preview), Tab again moves to Logs.
			await tmux('send-keys', '-t', dashboard.name, 'Tab');
			await waitForScreen(dashboard.name, text => text.includes('esc runs'));
			await tmux('send-keys', '-t', dashboard.name, 'Tab');
			await waitForScreen(dashboard.name, text => / lines\b/.test(text) && /\bn \d+\b/.test(text));
			const cpuBefore = cpuMilliseconds(dashboard.pid);
			const windowStarted = performance.now();
			while (performance.now() - windowStarted < sampleSeconds * 1000) {
				const sampleStarted = performance.now();
				writeDue();
				// The screen is read after this count, so it can only be as new or newer: the lag is never overstated.
				const writtenThen = written;
				const text = await screen(dashboard.name);
				const shown = Math.max(0, ...[...text.matchAll(/\bn (\d+)\b/g)].map(match => Number(match[1])));
				lagLines.push(Math.max(0, writtenThen - shown));
				await sleep(Math.max(0, 100 - (performance.now() - sampleStarted)));
			}

			logsCpu = (cpuMilliseconds(dashboard.pid) - cpuBefore) / (performance.now() - windowStarted) * 100;
			logsResident = residentMegabytes(dashboard.pid);
		} finally {
			await closeDashboard(dashboard);
		}
	} finally {
		clearInterval(writer);
		await log.close();
	}

	const writtenPerSecond = written / ((performance.now() - writerStarted) / 1000);
	const lagMilliseconds = lagLines.map(lines => lines / linesPerSecond * 1000);

	// 3. Idle with real running runs: interactive shells that sleep, started as a user would.
	const workspace = path.join(root, 'workspace');
	await fs.mkdir(workspace);
	await fs.chown(workspace, 1000, 1000);
	const startBegan = performance.now();
	for (let index = 1; index <= runningCount; index++) {
		const started = spawnSync(process.execPath, [cli, 'run', workspace, '-d', '-i', '-n', `idle-${index}`, '--', 'sh', '-c', 'sleep 600'], {env: environmentFor(runningHome), encoding: 'utf8'});
		const id = /run_[\da-f]{12}/.exec(started.stdout)?.[0];
		if (started.status !== 0 || !id) {
			throw new Error(`moat run -d exited ${started.status}: ${started.stderr}`);
		}

		startedRuns.add(id);
	}

	const startSeconds = (performance.now() - startBegan) / 1000;
	const idle = await openDashboard(runningHome);
	let idleCpu: number;
	let idleResident: number;
	try {
		await waitForScreen(idle.name, fullPaint(runningCount, `idle-${runningCount}`));
		// The selected run's pane loaded: the dashboard itself is up, not only the first frame drawn before it.
		await waitForScreen(idle.name, text => !text.includes('Loading…'));
		await sleep(3000);
		idleCpu = await cpuPercentOver(idle.pid, sampleSeconds * 1000);
		idleResident = residentMegabytes(idle.pid);
	} finally {
		await closeDashboard(idle);
	}

	// ------------------------------------------------------------ the report
	const paint = median(paints);
	const list = median(lists);
	const maxLag = Math.max(...lagMilliseconds);
	const p50Lag = median(lagMilliseconds);
	console.log(`bench:dashboard  runs=${runCount}  rounds=${paintRounds}  terminal=${columns}×${rows} (tmux)  node ${process.version}  cores=${os.availableParallelism()}  load before ${loadBefore}`);
	console.log('');
	console.log(`  first paint, ${runCount} runs`);
	console.log(`    first frame (title on screen)  median ${median(firstFrames).toFixed(0)} ms`);
	console.log(`    first full paint               median ${paint.toFixed(0)} ms  (${paints.map(value => value.toFixed(0)).join(', ')})`);
	console.log(`    selected run's pane loaded     median ${median(panesLoaded).toFixed(0)} ms`);
	console.log(`    moat list --json               median ${list.toFixed(0)} ms  (${lists.map(value => value.toFixed(0)).join(', ')})  (baseline)`);
	console.log(`    ratio ${(paint / list).toFixed(2)}×  (target: first paint < 300 ms and ≤ 1× moat list --json)`);
	console.log(`    RSS at first paint             median ${median(residents).toFixed(0)} MB${listCost ? `  vs moat list --json peak ${listCost.rss.toFixed(0)} MB (baseline) = ${(median(residents) / listCost.rss).toFixed(2)}×` : ''}`);
	console.log(`    idle CPU, ${runCount} stopped runs      ${idleStoppedCpu.toFixed(2)}% of a core${listCost ? `  = ${(idleStoppedCpu * 10 / listCost.cpu).toFixed(2)} moat list --json per second (one costs ${listCost.cpu.toFixed(0)} ms CPU)` : ''}`);
	console.log('');
	console.log(`  Logs pane, one run writing ${linesPerSecond} lines/s (${writtenPerSecond.toFixed(0)} achieved), ${lagLines.length} samples over ${sampleSeconds} s`);
	console.log(`    lag behind the file            max ${maxLag.toFixed(0)} ms (${Math.max(...lagLines)} lines)  p50 ${p50Lag.toFixed(0)} ms (${median(lagLines)} lines)  (target: never > 1000 ms)`);
	console.log(`    dashboard CPU                  ${logsCpu.toFixed(1)}% of a core  RSS ${logsResident.toFixed(0)} MB`);
	console.log('');
	console.log(`  idle, ${runningCount} running runs (started in ${startSeconds.toFixed(1)} s)`);
	console.log(`    dashboard CPU over ${sampleSeconds} s        ${idleCpu.toFixed(2)}% of a core  RSS ${idleResident.toFixed(0)} MB${listCost ? `  = ${(idleCpu * 10 / listCost.cpu).toFixed(2)} moat list --json per second` : ''}  (target < 2%)`);
	console.log('');
	const verdict = (ok: boolean) => (ok ? '✓' : '✗');
	const table = [
		['figure', 'measured', 'target', ''],
		['first full paint (500 runs)', `${paint.toFixed(0)} ms (${(paint / list).toFixed(2)}× list --json)`, '< 300 ms, ≤ 1× list --json', verdict(paint < 300 && paint <= list)],
		['RSS at first paint', `${median(residents).toFixed(0)} MB`, '-', ''],
		['Logs pane lag, max', `${maxLag.toFixed(0)} ms`, '≤ 1000 ms', verdict(maxLag <= 1000)],
		['Logs pane lag, p50', `${p50Lag.toFixed(0)} ms`, '-', ''],
		['CPU at 5,000 lines/s', `${logsCpu.toFixed(1)}%`, '-', ''],
		[`idle CPU, ${runningCount} running runs`, `${idleCpu.toFixed(2)}%`, '< 2%', verdict(idleCpu < 2)],
	];
	reportFigures('dashboard', table.slice(1).filter(row => row[2] !== '-').map(([figure, measured, target, mark]) => ({figure: figure!, measured: measured!, target: target!, met: mark === '✓'})));
	const widths = [0, 1, 2].map(column => Math.max(...table.map(row => row[column]!.length)));
	for (const row of table) {
		console.log(`  ${row.map((cell, column) => (column < 3 ? cell.padEnd(widths[column]!) : cell)).join('  ')}`);
	}
} finally {
	await cleanup();
}
