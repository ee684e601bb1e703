/**
 * bench:capture — how fast a detached run's output reaches logs.jsonl, and
 * whether all of it does, against two baselines measured in the same run:
 *   1. the producer's own rate: `docker run -d` of the same command and
 *      image, logging to Docker's json-file log only (the engine's start
 *      and finish times of the container);
 *   2. `docker logs` reading the same run's output back from the engine.
 * moat's rate is its copy's: the first to the last line's stamp in
 * logs.jsonl (the time `moat run -d` takes to start is bench:run's).
 * Target: capture ≥ 0.9× the producer's rate, with no line lost or doubled.
 *
 * Not a test: it prints figures and never fails on them.
 */
import {spawn, spawnSync} from 'node:child_process';
import {createReadStream} from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {createInterface} from 'node:readline';
import {fileURLToPath} from 'node:url';
import {reportFigures} from './bench-report.js';

const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));
const lines = Number(process.env.BENCH_LINES ?? 2_000_000);
const command = `seq 1 ${lines}; echo END`;

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-capture-'));
const workspace = path.join(root, 'workspace');
await fs.mkdir(workspace);
await fs.chown(workspace, 1000, 1000);
const env = {...process.env, MOAT_HOME: path.join(root, 'home')};

function run(program: string, args: string[]): string {
	const result = spawnSync(program, args, {env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024});
	if (result.status !== 0) {
		throw new Error(`${program} ${args.join(' ')}: ${result.stderr}`);
	}

	return result.stdout.trim();
}

function seconds(since: bigint): number {
	return Number(process.hrtime.bigint() - since) / 1e9;
}

/** Whether the file ends with END, read from its end. */
async function endsWithEnd(file: string): Promise<boolean> {
	const handle = await fs.open(file, 'r').catch(() => undefined);
	if (!handle) {
		return false;
	}

	try {
		const {size} = await handle.stat();
		const buffer = Buffer.alloc(Math.min(size, 256));
		await handle.read(buffer, 0, buffer.length, size - buffer.length);
		return buffer.toString('utf8').includes('"line":"END"');
	} finally {
		await handle.close();
	}
}

/** Lines missing or out of place in logs.jsonl against 1…lines, END; and the first and last stamps. */
async function departures(file: string): Promise<{wrong: number; first: string; last: string}> {
	let index = 0;
	let wrong = 0;
	let first = '';
	let last = '';
	for await (const text of createInterface({input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY})) {
		index++;
		const {line, ts} = JSON.parse(text) as {line: string; ts: string};
		first ||= ts;
		last = ts;
		if (line !== (index <= lines ? String(index) : 'END')) {
			wrong++;
		}
	}

	return {wrong: wrong + Math.abs(index - (lines + 1)), first, last};
}

async function countLines(program: string, args: string[]): Promise<number> {
	const child = spawn(program, args, {env, stdio: ['ignore', 'pipe', 'ignore']});
	let count = 0;
	child.stdout.on('data', (chunk: Buffer) => {
		for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) {
			count++;
		}
	});
	await new Promise(resolve => {
		child.on('close', resolve);
	});
	return count;
}

try {
	// The image, built once so neither side pays for it.
	run(process.execPath, [cli, 'run', workspace, '--', 'true']);
	const image = (JSON.parse(run(process.execPath, [cli, 'list', '--json'])) as Array<{image: string}>)[0]!.image;

	// The producer alone: Docker's log is its only reader. The image's
	// entrypoint needs what moat gives it, so sh is the entrypoint here.
	const container = run('docker', ['run', '-d', '--init', '--log-opt', 'max-size=100m', '--log-opt', 'max-file=3', '--entrypoint', 'sh', image, '-c', command]);
	run('docker', ['wait', container]);
	const [startedAt, finishedAt] = run('docker', ['inspect', '-f', '{{.State.StartedAt}} {{.State.FinishedAt}}', container]).split(' ');
	const producerSeconds = (Date.parse(finishedAt!) - Date.parse(startedAt!)) / 1000;
	const producerLast = run('docker', ['logs', '--tail', '1', container]);
	run('docker', ['rm', '-f', container]);
	if (producerLast !== 'END') {
		throw new Error(`the producer did not finish its output (last line ${JSON.stringify(producerLast)})`);
	}

	// moat: from the command to the last line in logs.jsonl.
	const moatStart = process.hrtime.bigint();
	const runId = run(process.execPath, [cli, 'run', '-d', '--keep', workspace, '--', 'sh', '-c', command]);
	const file = path.join(env.MOAT_HOME, 'runs', runId, 'logs.jsonl');
	while (!(await endsWithEnd(file))) {
		await new Promise(resolve => {
			setTimeout(resolve, 50);
		});
	}

	const totalSeconds = seconds(moatStart);
	const {wrong, first, last} = await departures(file);
	const captureSeconds = (Date.parse(last) - Date.parse(first)) / 1000;

	// docker logs reading the same run's output back.
	const containerId = (JSON.parse(run(process.execPath, [cli, 'list', '--json'])) as Array<{id: string; containerId: string}>).find(entry => entry.id === runId)!.containerId;
	const logsStart = process.hrtime.bigint();
	const logged = await countLines('docker', ['logs', containerId]);
	const logsSeconds = seconds(logsStart);
	run(process.execPath, [cli, 'destroy', '-f', runId]);

	const rate = (count: number, taken: number) => `${Math.round(count / taken).toLocaleString('en')} lines/s`;
	console.log(`bench:capture  lines=${lines.toLocaleString('en')}  image=${image}`);
	console.log(`  producer alone (docker run -d, json-file)  ${rate(lines + 1, producerSeconds)}  (${producerSeconds.toFixed(2)} s)  baseline`);
	console.log(`  moat capture into logs.jsonl               ${rate(lines + 1, captureSeconds)}  (${captureSeconds.toFixed(2)} s, ${wrong} lines lost, doubled or out of place)`);
	console.log(`  moat run -d to the last line in the file   ${totalSeconds.toFixed(2)} s`);
	console.log(`  docker logs of the same run                ${rate(logged, logsSeconds)}  (${logsSeconds.toFixed(2)} s, ${logged.toLocaleString('en')} lines)  peer`);
	console.log(`  capture / producer  ${(producerSeconds / captureSeconds).toFixed(2)}×  (target ≥ 0.90×, no loss)`);
	console.log(`  capture / docker logs  ${((lines + 1) / captureSeconds / (logged / logsSeconds)).toFixed(2)}×`);
	reportFigures('capture', [
		{figure: 'capture into logs.jsonl', measured: `${rate(lines + 1, captureSeconds)} = ${(producerSeconds / captureSeconds).toFixed(2)}× the producer, ${((lines + 1) / captureSeconds / (logged / logsSeconds)).toFixed(2)}× docker logs, ${wrong} lost`, target: '≥ 0.9× the producer, no loss', met: producerSeconds / captureSeconds >= 0.9 && wrong === 0},
	]);
} finally {
	spawnSync(process.execPath, [cli, 'proxy', 'stop'], {env});
	// The gateway and the run networks outlive the daemon: remove this home's.
	for (const kind of [['ps', '-aq'], ['network', 'ls', '-q']]) {
		const ids = spawnSync('docker', [...kind, '--filter', `label=moat.home=${env.MOAT_HOME}`], {encoding: 'utf8'}).stdout.split('\n').filter(Boolean);
		if (ids.length > 0) {
			spawnSync('docker', kind[0] === 'ps' ? ['rm', '-f', ...ids] : ['network', 'rm', ...ids]);
		}
	}

	await fs.rm(root, {recursive: true, force: true});
}
