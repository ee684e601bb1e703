/**
 * bench:daemon — the daemon's CPU while nothing happens, as % of one core:
 * with 0 runs (the proxy, the router and the gateway up) and with 20
 * detached runs that sit idle (`moat run -d … -- sleep 600`, real
 * containers). Target with 20 runs: < 0.5 %. The 0-run figure is the
 * baseline measured in the same run: what the runs themselves add is the
 * difference. CPU is user plus system time of the whole daemon process
 * from /proc (every thread: libuv's file I/O and the GC count), sampled
 * over BENCH_SECONDS (default 30) several times (BENCH_ROUNDS, default 3).
 * The load average is printed because every figure here moves with it.
 * The dashboard's own idle CPU with 20 running runs is bench:dashboard's.
 *
 * BENCH_RUNNING changes the number of runs; BENCH_INTERACTIVE=1 starts them
 * with -i (a TTY, as the dashboard's benchmark does); BENCH_PROFILE=<folder>
 * writes a CPU profile of the daemon and prints where its samples fell
 * during the idle windows.
 *
 * Not a test: it prints figures and never fails on them.
 */
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {removeEngineObjectsOf, stopDaemonOf} from '../helpers/moat.js';
import {reportFigures} from './bench-report.js';

const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));
const runningCount = Number(process.env.BENCH_RUNNING ?? 20);
const sampleSeconds = Number(process.env.BENCH_SECONDS ?? 30);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const interactive = process.env.BENCH_INTERACTIVE === '1';
const profileDirectory = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : undefined;
/** /proc/<pid>/stat counts CPU time in clock ticks of this length (USER_HZ, 100 on Linux). */
const tickMilliseconds = 10;
const target = 0.5;

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-daemon-'));
const workspace = path.join(root, 'workspace');
await fs.mkdir(workspace);
await fs.chown(workspace, 1000, 1000);
const moatHome = path.join(root, 'home');
// Kept up with no runs for the 0-run figure (it would stop after 30 s idle).
const env: Record<string, string> = {...process.env as Record<string, string>, MOAT_HOME: moatHome, MOAT_DAEMON_IDLE_MS: '3600000'};
delete env.NODE_OPTIONS;

async function sleep(milliseconds: number): Promise<void> {
	return new Promise(resolve => {
		setTimeout(resolve, milliseconds);
	});
}

function moat(args: string[], extra: Record<string, string> = {}): string {
	const result = spawnSync(process.execPath, [cli, ...args], {env: {...env, ...extra}, encoding: 'utf8'});
	if (result.status !== 0) {
		throw new Error(`moat ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
	}

	return result.stdout;
}

/** User plus system CPU time of a process so far, in milliseconds. */
function cpuMilliseconds(pid: number): number {
	// The command name (field 2) is in parentheses and may hold spaces: count fields after it.
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	// Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
	return (Number(fields[11]) + Number(fields[12])) * tickMilliseconds;
}

/** Monotonic microseconds, the clock V8's profiles use. */
const monotonicMicroseconds = () => Number(process.hrtime.bigint() / 1000n);

type Window = {from: number; to: number};

/** The CPU a process used over `milliseconds` of wall time, as % of one core, and when it was measured. */
async function cpuPercentOver(pid: number, milliseconds: number): Promise<{percent: number; window: Window}> {
	const from = monotonicMicroseconds();
	const cpuBefore = cpuMilliseconds(pid);
	const started = performance.now();
	await sleep(milliseconds);
	const percent = (cpuMilliseconds(pid) - cpuBefore) / (performance.now() - started) * 100;
	return {percent, window: {from, to: monotonicMicroseconds()}};
}

async function sampleRounds(pid: number): Promise<{percents: number[]; windows: Window[]}> {
	const percents: number[] = [];
	const windows: Window[] = [];
	for (let round = 0; round < rounds; round++) {
		const {percent, window} = await cpuPercentOver(pid, sampleSeconds * 1000);
		percents.push(percent);
		windows.push(window);
	}

	return {percents, windows};
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const range = (values: number[]) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)} %`;

type ProfileNode = {id: number; callFrame: {functionName: string; url: string; lineNumber: number}; children?: number[]};
type Profile = {nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[]};

/** Self samples per function (and the stack that led there) within the windows, most first. */
function hotSpots(profile: Profile, windows: Window[]): {total: number; idle: number; lines: string[]} {
	const byId = new Map(profile.nodes.map(node => [node.id, node]));
	const parent = new Map<number, number>();
	for (const node of profile.nodes) {
		for (const child of node.children ?? []) {
			parent.set(child, node.id);
		}
	}

	const name = (node: ProfileNode) => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*?\/(source|node_modules)\//, '$1/')}:${node.callFrame.lineNumber + 1}`;
	const counts = new Map<string, number>();
	let time = profile.startTime;
	let total = 0;
	let idle = 0;
	for (const [index, sample] of profile.samples.entries()) {
		time += profile.timeDeltas[index]!;
		if (!windows.some(window => time >= window.from && time <= window.to)) {
			continue;
		}

		const node = byId.get(sample)!;
		if (node.callFrame.functionName === '(idle)') {
			idle++;
			continue;
		}

		total++;
		// The frame itself and up to three callers that are moat's own code: where the work comes from.
		const chain = [name(node)];
		let up = parent.get(node.id);
		while (up !== undefined && chain.length < 4) {
			const caller = byId.get(up)!;
			if (caller.callFrame.url.includes('/source/')) {
				chain.push(name(caller));
			}

			up = parent.get(up);
		}

		const key = chain.join(' ← ');
		counts.set(key, (counts.get(key) ?? 0) + 1);
	}

	const lines = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([key, count]) => `${String(count).padStart(5)}  ${key}`);
	return {total, idle, lines};
}

let daemonPid = 0;
try {
	if (profileDirectory) {
		await fs.mkdir(profileDirectory, {recursive: true});
	}

	// The daemon is started by the CLI: NODE_OPTIONS in that call's environment reaches it.
	moat(['proxy', 'start'], profileDirectory ? {NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDirectory}`} : {});
	daemonPid = Number(await fs.readFile(path.join(moatHome, 'daemon.lock'), 'utf8'));
	// One run to its end first: the images are built or found and the gateway is up before anything is measured.
	moat(['run', workspace, '--', 'true']);
	await sleep(5000);
	const loadBefore = os.loadavg().map(load => load.toFixed(2)).join(' ');
	const none = await sampleRounds(daemonPid);

	const startBegan = performance.now();
	for (let index = 1; index <= runningCount; index++) {
		const id = /run_[\da-f]{12}/.exec(moat(['run', workspace, '-d', ...interactive ? ['-i'] : [], '-n', `idle-${index}`, '--', 'sh', '-c', 'sleep 600']))?.[0];
		if (!id) {
			throw new Error('moat run -d printed no run id');
		}
	}

	const startSeconds = (performance.now() - startBegan) / 1000;
	// The runs are past their registration's grace once they are a minute old: only then is all of the watch's work done for each.
	const grace = 62_000 - (performance.now() - startBegan);
	await sleep(Math.max(5000, grace));
	const status = JSON.parse(moat(['proxy', 'status', '--json'])) as {runs?: number};
	const running = await sampleRounds(daemonPid);
	const loadAfter = os.loadavg().map(load => load.toFixed(2)).join(' ');

	console.log(`bench:daemon  node ${process.version}  cores=${os.availableParallelism()}  ${rounds} rounds of ${sampleSeconds} s  load ${loadBefore} → ${loadAfter}`);
	console.log(`  daemon CPU, 0 runs                  median ${median(none.percents).toFixed(2)} % of a core  (${range(none.percents)})  (baseline: proxy, router and gateway up)`);
	console.log(`  daemon CPU, ${String(runningCount).padEnd(2)} idle running runs     median ${median(running.percents).toFixed(2)} % of a core  (${range(running.percents)})  (target < ${target} %) ${median(running.percents) < target ? '✓' : '✗'}`);
	console.log(`  what the runs add                   ${(median(running.percents) - median(none.percents)).toFixed(2).replace(/^-0\.00$/, '0.00')} % of a core  (${status.runs ?? '?'} runs registered; started in ${startSeconds.toFixed(1)} s${interactive ? ', with -i' : ''})`);
	console.log('  the dashboard\'s own idle CPU with 20 running runs: npm run bench:dashboard');
	reportFigures('daemon', [
		{figure: `daemon idle CPU, ${runningCount} running runs`, measured: `${median(running.percents).toFixed(2)} % of a core (0 runs: ${median(none.percents).toFixed(2)} %)`, target: `< ${target} %`, met: median(running.percents) < target},
	]);

	if (profileDirectory) {
		const before = new Set(await fs.readdir(profileDirectory));
		spawnSync(process.execPath, [cli, 'proxy', 'stop'], {env});
		await stopDaemonOf(moatHome);
		const file = [...await fs.readdir(profileDirectory)].find(name => name.includes(`.${daemonPid}.`) && name.endsWith('.cpuprofile'));
		if (file) {
			const profile = JSON.parse(await fs.readFile(path.join(profileDirectory, file), 'utf8')) as Profile;
			for (const [label, windows] of [['0 runs', none.windows], [`${runningCount} runs`, running.windows]] as const) {
				const spots = hotSpots(profile, windows);
				console.log('');
				console.log(`  profile, ${label}: ${spots.total} busy samples, ${spots.idle} idle  (${path.join(profileDirectory, file)})`);
				for (const line of spots.lines) {
					console.log(`    ${line}`);
				}
			}
		} else {
			console.log(`  no profile of the daemon (pid ${daemonPid}) in ${profileDirectory}: ${[...before].join(', ')}`);
		}
	}
} finally {
	spawnSync(process.execPath, [cli, 'proxy', 'stop'], {env});
	await stopDaemonOf(moatHome);
	await removeEngineObjectsOf(moatHome, env);
	await fs.rm(root, {recursive: true, force: true});
}
