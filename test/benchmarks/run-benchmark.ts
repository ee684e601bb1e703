/**
 * bench:run — wall time of `moat run -- true` against `docker run --rm` of
 * the same image on a cached image, median of several alternating rounds,
 * printed as a ratio. Target: ≤ 1.3×.
 *
 * Not a test: it prints a figure and never fails on it.
 */
import {spawnSync} from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';

const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const cli = fileURLToPath(new URL('../../source/cli.js', import.meta.url));

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
const env = {...process.env, MOAT_HOME: path.join(root, 'home')};

try {
	// Warm up: builds (or finds) the image, so both sides start from a cached image.
	timed(process.execPath, [cli, 'run', workspace, '--', 'true'], env);
	const image = (JSON.parse(spawnSync(process.execPath, [cli, 'list', '--json'], {env}).stdout.toString()) as Array<{image: string}>)[0]!.image;
	const dockerArgs = ['run', '--rm', '--init', '-e', 'MOAT_UID=1000', '-e', 'MOAT_GID=1000', '-v', `${workspace}:/workspace`, image, 'true'];
	timed('docker', dockerArgs, env);

	const moatTimes: number[] = [];
	const dockerTimes: number[] = [];
	for (let round = 0; round < rounds; round++) {
		// Alternate so drift on a busy machine hits both sides alike.
		moatTimes.push(timed(process.execPath, [cli, 'run', workspace, '--', 'true'], env));
		dockerTimes.push(timed('docker', dockerArgs, env));
	}

	const moatMedian = median(moatTimes);
	const dockerMedian = median(dockerTimes);
	console.log(`bench:run  rounds=${rounds}  image=${image}`);
	console.log(`  moat run -- true          median ${moatMedian.toFixed(0)} ms`);
	console.log(`  docker run --rm … true    median ${dockerMedian.toFixed(0)} ms  (baseline)`);
	console.log(`  ratio ${(moatMedian / dockerMedian).toFixed(2)}×  (target ≤ 1.30×)`);
} finally {
	await fs.rm(root, {recursive: true, force: true});
}
