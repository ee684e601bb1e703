/**
 * The client load of bench:proxy's gateway figures: one shell script of
 * curl commands, run unchanged on the host (direct, or through moat's proxy
 * on 127.0.0.1) and inside a real bottle (through moat's gateway), so the
 * figures differ only by the path the bytes take. The script writes its
 * results to files, because a bottle's output reaches the host through the
 * run's log, and a file in the mounted workspace arrives as written.
 */
import {execFile} from 'node:child_process';
import fs from 'node:fs/promises';
import type {IncomingMessage, ServerResponse} from 'node:http';
import path from 'node:path';
import {promisify} from 'node:util';
import type {HttpsStandIn} from '../helpers/https-stand-in.js';
import {createSandbox, createWorkspace, destroyRuns, moat} from '../helpers/moat.js';
import {credentialVariables} from '../helpers/proxy-world.js';

const execFileAsync = promisify(execFile);

/** The name the bottle asks for; MOAT_UPSTREAM_OVERRIDES sends it to the stand-in. */
export const benchHost = 'bench.test';
/** 200 MB (decimal, as download speeds are quoted). */
export const downloadBytes = 200 * 1000 * 1000;
const downloadPath = '/download';

/** The stand-in's answer: a short body, or `downloadBytes` of zeros for the download. */
export function answerBench(request: IncomingMessage, response: ServerResponse): void {
	if (request.url !== downloadPath) {
		response.end('ok\n');
		return;
	}

	response.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': String(downloadBytes)});
	const chunk = Buffer.alloc(1024 * 1024);
	let left = downloadBytes;
	// Honour backpressure: the slowest hop (the gateway) sets the pace, not the stand-in's memory.
	const write = () => {
		while (left > 0) {
			const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
			left -= piece.length;
			if (!response.write(piece)) {
				response.once('drain', write);
				return;
			}
		}

		response.end();
	};

	write();
}

export type LoadShape = {requests: number; connections: number; sequential: number};

/**
 * `sh client.sh OUT [curl arguments…]`. A warm-up first (the proxy mints
 * the host's certificate, Node's JIT settles), then: `requests` over
 * `connections` kept-alive connections (wall time from the shell's clock),
 * `sequential` requests one after another on one kept-alive connection (per
 * request latency with nothing queued), and one download.
 */
export function clientScript(shape: LoadShape): string {
	const parallel = `--parallel --parallel-max ${shape.connections} --parallel-immediate`;
	const url = `https://${benchHost}`;
	return [
		'out="$1"; shift',
		'mkdir -p "$out"',
		`curl -s ${parallel} "$@" -o /dev/null -w '%{http_code}\\n' '${url}/warm[1-200]' > "$out/warm.txt"; echo $? > "$out/warm.exit"`,
		'start=$(date +%s%N)',
		`curl -s ${parallel} "$@" -o /dev/null -w '%{http_code} %{time_total}\\n' '${url}/x[1-${shape.requests}]' > "$out/parallel.txt"; echo $? > "$out/parallel.exit"`,
		'end=$(date +%s%N)',
		'echo $((end - start)) > "$out/parallel.ns"',
		`curl -s "$@" -o /dev/null -w '%{http_code} %{time_total}\\n' '${url}/s[1-${shape.sequential}]' > "$out/sequential.txt"; echo $? > "$out/sequential.exit"`,
		`curl -s "$@" -o /dev/null -w '%{http_code} %{time_total} %{size_download}\\n' '${url}${downloadPath}' > "$out/download.txt"; echo $? > "$out/download.exit"`,
		'',
	].join('\n');
}

export type LoadFigures = {
	perSecond: number;
	/** Per-request latency under the parallel load (queueing included). */
	parallelP50: number;
	/** Per-request latency one at a time on a kept-alive connection. */
	sequentialP50: number;
	sequentialP99: number;
	/** Bytes per second of the one download. */
	downloadPerSecond: number;
	downloadSeconds: number;
};

export function percentile(values: number[], fraction: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

/** Reads what the script wrote; throws if any curl failed or any answer was not 200, so a broken path never passes as a figure. */
async function readResults(out: string, shape: LoadShape, where: string): Promise<LoadFigures> {
	const read = async (name: string) => (await fs.readFile(path.join(out, name), 'utf8').catch(() => '')).trim();
	const lines = async (step: string, expected: number) => {
		const exit = await read(`${step}.exit`);
		const rows = (await read(`${step}.txt`)).split('\n').filter(Boolean).map(line => line.split(' '));
		const failed = rows.filter(row => row[0] !== '200').length;
		if (exit !== '0' || rows.length !== expected || failed > 0) {
			throw new Error(`${where}: curl ${step} exited ${exit || '?'} with ${rows.length} of ${expected} answers, ${failed} not 200`);
		}

		return rows;
	};

	await lines('warm', 200);
	const parallel = await lines('parallel', shape.requests);
	const sequential = (await lines('sequential', shape.sequential)).map(row => Number(row[1]) * 1000);
	const [download] = await lines('download', 1);
	if (Number(download![2]) !== downloadBytes) {
		throw new Error(`${where}: the download got ${download![2]} bytes of ${downloadBytes}`);
	}

	const seconds = Number(await read('parallel.ns')) / 1e9;
	return {
		perSecond: shape.requests / seconds,
		parallelP50: percentile(parallel.map(row => Number(row[1]) * 1000), 0.5),
		sequentialP50: percentile(sequential, 0.5),
		sequentialP99: percentile(sequential, 0.99),
		downloadPerSecond: downloadBytes / Number(download![1]),
		downloadSeconds: Number(download![1]),
	};
}

/** The script on this machine, with `curlArguments` saying how to reach the stand-in (directly, or through a proxy). */
export async function loadOnHost(directory: string, shape: LoadShape, curlArguments: string[], where: string): Promise<LoadFigures> {
	await fs.mkdir(directory, {recursive: true});
	const script = path.join(directory, 'client.sh');
	await fs.writeFile(script, clientScript(shape));
	const out = path.join(directory, `out-${Date.now()}`);
	await execFileAsync('sh', [script, out, ...curlArguments], {maxBuffer: 16 * 1024 * 1024});
	return readResults(out, shape, where);
}

export type BottleLoad = {
	figures: LoadFigures;
	/** The channel the daemon reports its gateway uses, as `moat proxy status --json` says. */
	channel: string;
	/** Wall time of the whole `moat run` (daemon and gateway start, image cached, plus the load). */
	runMilliseconds: number;
};

/**
 * The script in a real bottle of a MOAT_HOME of its own (its own daemon and
 * gateway), through the gateway over `channel`; everything it made is
 * removed afterwards, whatever happened.
 */
export async function loadInBottle(options: {channel: 'socket' | 'api'; standIn: HttpsStandIn; trustBundle: string; shape: LoadShape}): Promise<BottleLoad> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'client.sh': clientScript(options.shape)});
	const env: Record<string, string> = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		MOAT_UPSTREAM_OVERRIDES: `${benchHost}=127.0.0.1:${options.standIn.port}`,
		NODE_EXTRA_CA_CERTS: options.trustBundle,
		MOAT_GATEWAY_CHANNEL: options.channel,
	};
	for (const name of credentialVariables) {
		delete env[name];
	}

	try {
		const started = performance.now();
		// The bottle has HTTPS_PROXY (the gateway, with the run's token) and trusts moat's CA: curl needs no arguments.
		const result = await moat(['run', workspace, '--', 'sh', '/workspace/client.sh', '/workspace/out'], {env});
		const runMilliseconds = performance.now() - started;
		if (result.code !== 0) {
			throw new Error(`moat run (${options.channel}) exited ${result.code}: ${result.stderr}${result.stdout}`);
		}

		const status = await moat(['proxy', 'status', '--json'], {env});
		const channel = (JSON.parse(status.stdout || '{}') as {gateway?: {channel?: string}}).gateway?.channel ?? 'unknown';
		return {figures: await readResults(path.join(workspace, 'out'), options.shape, `bottle (${options.channel})`), channel, runMilliseconds};
	} finally {
		await destroyRuns(env);
		await moat(['proxy', 'stop'], {env}).catch(() => undefined);
		// The gateway outlives its daemon on purpose; this removes it, the runs' networks and MOAT_HOME.
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	}
}
