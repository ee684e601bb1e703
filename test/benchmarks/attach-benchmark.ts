/**
 * bench:attach — two figures, each against a baseline measured in the same run:
 *   1. keystroke-to-echo latency through `moat attach` against `docker attach`
 *      to the same kind of container (median and p99, ratio; target ≤ 1.2);
 *   2. throughput of 50 MB of output through an attached `moat run` against
 *      `docker run` of the same image (ratio; target ≥ 0.8).
 * Both terminals are real PTYs made by util-linux `script`.
 *
 * Not a test: it prints figures and never fails on them.
 */
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {reportFigures} from './bench-report.js';

const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));
const keystrokes = Number(process.env.BENCH_KEYSTROKES ?? 60);
const megabytes = Number(process.env.BENCH_MEGABYTES ?? 50);

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-attach-'));
const workspace = path.join(root, 'workspace');
await fs.mkdir(workspace);
await fs.chown(workspace, 1000, 1000);
const env = {...process.env, MOAT_HOME: path.join(root, 'home'), TERM: 'xterm-256color'};

function quote(word: string): string {
	return `'${word.replaceAll('\'', String.raw`'\''`)}'`;
}

function moatCommand(...args: string[]): string {
	return [process.execPath, cli, ...args].map(word => quote(word)).join(' ');
}

/** Types `keystrokes` keys into a PTY running `command`; milliseconds from each key to its echo. */
async function echoLatencies(command: string): Promise<number[]> {
	const child = spawn('script', ['-qfec', command, '/dev/null'], {env, stdio: ['pipe', 'pipe', 'pipe']});
	let output = '';
	let waiter: (() => void) | undefined;
	child.stdout.on('data', (chunk: Buffer) => {
		output += chunk.toString('latin1');
		waiter?.();
	});
	const waitFor = async (predicate: () => boolean) => {
		while (!predicate()) {
			await new Promise<void>(resolve => {
				waiter = resolve;
			});
		}
	};

	await waitFor(() => output.includes('ready'));
	// Let the attach settle (footer, resize) before measuring.
	await new Promise(resolve => {
		setTimeout(resolve, 500);
	});
	const latencies: number[] = [];
	for (let index = 0; index < keystrokes; index++) {
		const seen = output.split('z').length;
		const start = process.hrtime.bigint();
		child.stdin.write('z');
		await waitFor(() => output.split('z').length > seen);
		latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
	}

	child.kill('SIGKILL');
	return latencies;
}

function percentile(values: number[], fraction: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

function run(command: string, args: string[]): string {
	const result = spawnSync(command, args, {env, encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024});
	if (result.status !== 0) {
		throw new Error(`${command} ${args.join(' ')}: ${result.stderr}`);
	}

	return result.stdout.trim();
}

/** Wall time of a command whose output goes to a consumer that only counts it. */
async function throughputSeconds(command: string, args: string[]): Promise<{seconds: number; bytes: number}> {
	const start = process.hrtime.bigint();
	const child = spawn(command, args, {env, stdio: ['ignore', 'pipe', 'ignore']});
	let bytes = 0;
	child.stdout.on('data', (chunk: Buffer) => {
		bytes += chunk.length;
	});
	await new Promise(resolve => {
		child.on('close', resolve);
	});
	return {seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes};
}

try {
	// The image, built once so neither side pays for it.
	run(process.execPath, [cli, 'run', workspace, '--', 'true']);
	const image = (JSON.parse(run(process.execPath, [cli, 'list', '--json'])) as Array<{image: string}>)[0]!.image;
	const echoProgram = 'echo ready; exec cat';

	const moatRun = run(process.execPath, [cli, 'run', '-d', '-i', workspace, '--', 'sh', '-c', echoProgram]);
	const moatLatencies = await echoLatencies(moatCommand('attach', moatRun));
	run(process.execPath, [cli, 'destroy', '-f', moatRun]);

	// The image's entrypoint takes the user's variables as moat passes them (none here), as the bottle's user.
	const asBottle = ['--init', '-e', 'MOAT_USER_ENV=', '-u', '1000:1000'];
	const dockerContainer = run('docker', ['run', '-dit', ...asBottle, image, 'sh', '-c', `sleep 1; ${echoProgram}`]);
	const dockerLatencies = await echoLatencies(`docker attach ${dockerContainer}`);
	run('docker', ['rm', '-f', dockerContainer]);

	const producer = `yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c ${megabytes * 1_000_000}`;
	const moatOutput = await throughputSeconds(process.execPath, [cli, 'run', workspace, '--', 'sh', '-c', producer]);
	const dockerOutput = await throughputSeconds('docker', ['run', '--rm', ...asBottle, image, 'sh', '-c', producer]);

	const moatMedian = percentile(moatLatencies, 0.5);
	const dockerMedian = percentile(dockerLatencies, 0.5);
	console.log(`bench:attach  keystrokes=${keystrokes}  output=${megabytes} MB  image=${image}`);
	console.log(`  echo latency  moat attach   median ${moatMedian.toFixed(2)} ms  p99 ${percentile(moatLatencies, 0.99).toFixed(2)} ms`);
	console.log(`  echo latency  docker attach median ${dockerMedian.toFixed(2)} ms  p99 ${percentile(dockerLatencies, 0.99).toFixed(2)} ms  (baseline)`);
	console.log(`  latency ratio ${(moatMedian / dockerMedian).toFixed(2)}×  (target ≤ 1.20×)`);
	console.log(`  throughput    moat run      ${(moatOutput.bytes / 1e6 / moatOutput.seconds).toFixed(1)} MB/s (${(moatOutput.bytes / 1e6).toFixed(0)} MB in ${moatOutput.seconds.toFixed(2)} s)`);
	console.log(`  throughput    docker run    ${(dockerOutput.bytes / 1e6 / dockerOutput.seconds).toFixed(1)} MB/s (${(dockerOutput.bytes / 1e6).toFixed(0)} MB in ${dockerOutput.seconds.toFixed(2)} s)  (baseline)`);
	console.log(`  throughput ratio ${((moatOutput.bytes / moatOutput.seconds) / (dockerOutput.bytes / dockerOutput.seconds)).toFixed(2)}×  (target ≥ 0.90×)`);
	const throughputRatio = (moatOutput.bytes / moatOutput.seconds) / (dockerOutput.bytes / dockerOutput.seconds);
	reportFigures('attach', [
		{figure: 'attach echo latency', measured: `${moatMedian.toFixed(2)} ms = ${(moatMedian / dockerMedian).toFixed(2)}× docker attach`, target: '≤ 1.2× docker attach', met: moatMedian / dockerMedian <= 1.2},
		{figure: 'attached output throughput', measured: `${(moatOutput.bytes / 1e6 / moatOutput.seconds).toFixed(1)} MB/s = ${throughputRatio.toFixed(2)}× docker run`, target: '≥ 0.9× docker run', met: throughputRatio >= 0.9},
	]);
} finally {
	await fs.rm(root, {recursive: true, force: true});
}
