/**
 * bench:run — wall time of `moat run -- true` against `docker run --rm
 * --init` of the same image on a cached image, median of several
 * alternating rounds, printed as a ratio. Target: ≤ 1.2×. The figure is
 * for a warm gateway: the daemon and the gateway container still running
 * from the previous run of the same MOAT_HOME, as for every run but the
 * first of a session. Printed beside it, for where the time goes: the very
 * first run of a fresh MOAT_HOME, a start with the daemon stopped but the
 * gateway kept (the daemon stops after 30 s idle; the gateway stays), and a
 * cold start with neither (images cached).
 *
 * Not a test: it prints figures and never fails on them.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {removeEngineObjectsOf, stopDaemonOf} from '../helpers/moat.js';
import {reportFigures} from './bench-report.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const coldRounds = Number(process.env.BENCH_COLD_ROUNDS ?? 3);
const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): number {
	const start = process.hrtime.bigint();
	const result = spawnSync(command, args, {env, stdio: ['ignore', 'pipe', 'pipe']});
	const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
	if (result.status !== 0) {
		throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`);
	}

	return elapsed;
}

const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)]!;
};

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-'));
const workspace = path.join(root, 'workspace');
await fs.mkdir(workspace);
await fs.chown(workspace, 1000, 1000);
const moatHome = path.join(root, 'home');
const env: Record<string, string> = {...process.env as Record<string, string>, MOAT_HOME: moatHome};
const moatRun = [cli, 'run', workspace, '--', 'true'];

/** This MOAT_HOME's gateway container, by id (empty when there is none). */
function gatewayContainer(): string {
	return spawnSync('docker', ['ps', '-aq', '--filter', 'label=moat.gateway=true', '--filter', `label=moat.home=${moatHome}`]).stdout.toString().trim();
}

function stopDaemon() {
	timed(process.execPath, [cli, 'proxy', 'stop'], env);
}

try {
	// The first run of a fresh MOAT_HOME: it also builds (or finds) the images, so every later start has them cached.
	const first = timed(process.execPath, moatRun, env);
	const image = (JSON.parse(spawnSync(process.execPath, [cli, 'list', '--json'], {env}).stdout.toString()) as Array<{image: string}>)[0]!.image;
	// The image's entrypoint takes the user's variables as moat passes them (none here), as the bottle's user.
	const dockerArgs = ['run', '--rm', '--init', '-e', 'MOAT_USER_ENV=', '-u', '1000:1000', '-v', `${workspace}:/workspace`, image, 'true'];
	timed('docker', dockerArgs, env);

	const gatewayKept: number[] = [];
	const cold: number[] = [];
	for (let round = 0; round < coldRounds; round++) {
		stopDaemon();
		gatewayKept.push(timed(process.execPath, moatRun, env));
		stopDaemon();
		spawnSync('docker', ['rm', '-f', gatewayContainer()]);
		cold.push(timed(process.execPath, moatRun, env));
	}

	// The daemon and gateway are up from the cold start just before; the warm rounds must find the same gateway.
	const gatewayBefore = gatewayContainer();
	const moatTimes: number[] = [];
	const dockerTimes: number[] = [];
	for (let round = 0; round < rounds; round++) {
		// Alternate so drift on a busy machine hits both sides alike.
		moatTimes.push(timed(process.execPath, moatRun, env));
		dockerTimes.push(timed('docker', dockerArgs, env));
	}

	const sameGateway = gatewayBefore !== '' && gatewayContainer() === gatewayBefore;
	const moatMedian = median(moatTimes);
	const dockerMedian = median(dockerTimes);
	console.log(`bench:run  rounds=${rounds} (warm), ${coldRounds} (cold)  image=${image}`);
	console.log(`  moat run -- true, warm gateway        median ${moatMedian.toFixed(0)} ms  (daemon and gateway running from the previous run${sameGateway ? '; the same gateway container throughout' : '; WARNING: the gateway container changed during the rounds'})`);
	console.log(`  docker run --rm --init … true         median ${dockerMedian.toFixed(0)} ms  (baseline)`);
	console.log(`  ratio ${(moatMedian / dockerMedian).toFixed(2)}×  (target ≤ 1.20×)`);
	console.log('');
	console.log(`  first run of a fresh MOAT_HOME        ${first.toFixed(0)} ms  (daemon start, gateway image found or built, gateway container made and checked, run image found or built)`);
	console.log(`  daemon stopped, gateway kept          median ${median(gatewayKept).toFixed(0)} ms  (${gatewayKept.map(time => time.toFixed(0)).join(', ')}; as after 30 s idle)`);
	console.log(`  cold: no daemon, no gateway           median ${median(cold).toFixed(0)} ms  (${cold.map(time => time.toFixed(0)).join(', ')}; images cached)`);
	reportFigures('run', [
		{figure: 'moat run -- true, warm', measured: `${moatMedian.toFixed(0)} ms = ${(moatMedian / dockerMedian).toFixed(2)}× docker run --rm --init (${dockerMedian.toFixed(0)} ms)`, target: '≤ 1.2× docker run', met: moatMedian / dockerMedian <= 1.2},
		{figure: 'first run of a fresh MOAT_HOME', measured: `${first.toFixed(0)} ms`, target: '-'},
		{figure: 'daemon stopped, gateway kept', measured: `${median(gatewayKept).toFixed(0)} ms`, target: '-'},
		{figure: 'cold: no daemon, no gateway', measured: `${median(cold).toFixed(0)} ms`, target: '-'},
	]);
} finally {
	// The gateway outlives its daemon on purpose: remove it, the runs' networks and anything left, then the folder.
	spawnSync(process.execPath, [cli, 'proxy', 'stop'], {env});
	await stopDaemonOf(moatHome);
	await removeEngineObjectsOf(moatHome, env);
	await fs.rm(root, {recursive: true, force: true});
}
