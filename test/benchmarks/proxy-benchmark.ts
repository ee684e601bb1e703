/**
 * bench:proxy — 2,000 HTTPS requests over keep-alive (8 connections) from
 * the real curl to a local HTTPS upstream: direct, through moat's proxy and
 * through mitmproxy (`mitmdump`), all in this run. Prints requests/s and
 * p50/p99 latency with the ratios the issue names (moat ≥ 2× mitmproxy's
 * throughput, ≥ 0.6× direct), and the time to first byte for a host the
 * proxy has never seen (certificate minting; target < 20 ms added).
 *
 * Not a test: it prints figures and never fails on them.
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {startHttpsStandIn} from '../helpers/https-stand-in.js';

const execFileAsync = promisify(execFile);
const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);
const freshHosts = 5;

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-proxy-'));
const hosts = ['localhost', 'warm.localhost', ...Array.from({length: freshHosts}, (_, index) => `fresh${index}.localhost`)];
const upstream = await startHttpsStandIn(hosts, (_request, response) => {
	response.end('ok\n');
});
const children: ChildProcess[] = [];

async function cleanup() {
	for (const child of children) {
		child.kill('SIGTERM');
	}

	await upstream.close();
	await fs.rm(root, {recursive: true, force: true});
}

function percentile(values: number[], fraction: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

type Figures = {perSecond: number; p50: number; p99: number};

/** One curl, `requests` URLs over `connections` kept-alive connections. */
async function load(proxyArguments: string[], caFile: string): Promise<Figures> {
	const url = `https://localhost:${upstream.port}/x[1-${requests}]`;
	const started = performance.now();
	const {stdout} = await execFileAsync('curl', [
		'-s', '--parallel', '--parallel-max', String(connections), '--parallel-immediate',
		'--cacert', caFile, ...proxyArguments, '-o', '/dev/null', '-w', '%{time_total}\\n', url,
	], {maxBuffer: 64 * 1024 * 1024});
	const seconds = (performance.now() - started) / 1000;
	const latencies = stdout.trim().split('\n').map(line => Number(line) * 1000);
	return {perSecond: requests / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99)};
}

async function waitForLine(child: ChildProcess): Promise<string> {
	return new Promise((resolve, reject) => {
		let text = '';
		child.stdout!.on('data', (chunk: Buffer) => {
			text += String(chunk);
			if (text.includes('\n')) {
				resolve(text.split('\n')[0]!.trim());
			}
		});
		child.once('exit', code => {
			reject(new Error(`exited with ${code}`));
		});
	});
}

async function freePort(): Promise<number> {
	const net = await import('node:net');
	return new Promise(resolve => {
		const server = net.createServer().listen(0, '127.0.0.1', () => {
			const {port} = server.address() as import('node:net').AddressInfo;
			server.close(() => {
				resolve(port);
			});
		});
	});
}

try {
	const trust = path.join(root, 'trust.pem');
	await fs.copyFile(upstream.caFile, trust);
	const overrides = hosts.map(host => `${host}=127.0.0.1:${upstream.port}`).join(',');
	const moat = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : []), fileURLToPath(new URL('proxy-host.js', import.meta.url))], {
		env: {...process.env, BENCH_CA_DIRECTORY: path.join(root, 'moat-ca'), MOAT_UPSTREAM_OVERRIDES: overrides, NODE_EXTRA_CA_CERTS: trust},
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	children.push(moat);
	const moatPort = Number(await waitForLine(moat));
	const moatCa = path.join(root, 'moat-ca', 'ca.pem');
	const moatProxy = ['--proxy', `http://moat:bench@127.0.0.1:${moatPort}`];

	const direct = await load(['--resolve', `localhost:${upstream.port}:127.0.0.1`], upstream.caFile);
	const throughMoat = await load(moatProxy, moatCa);

	let throughMitm: Figures | undefined;
	if (existsSync('/usr/bin/mitmdump')) {
		const mitmPort = await freePort();
		const confdir = path.join(root, 'mitmproxy');
		const mitm = spawn('mitmdump', ['-q', '--listen-host', '127.0.0.1', '--listen-port', String(mitmPort), '--set', `confdir=${confdir}`, '--set', `ssl_verify_upstream_trusted_ca=${upstream.caFile}`], {stdio: 'ignore'});
		children.push(mitm);
		const mitmCa = path.join(confdir, 'mitmproxy-ca-cert.pem');
		for (let attempt = 0; attempt < 100 && !existsSync(mitmCa); attempt++) {
			await new Promise(resolve => setTimeout(resolve, 100));
		}

		await new Promise(resolve => setTimeout(resolve, 1000));
		throughMitm = await load(['--proxy', `http://127.0.0.1:${mitmPort}`], mitmCa);
	}

	// A host seen before versus one never seen: each a fresh curl (new tunnel, new TLS), time to first byte.
	const firstByte = async (host: string) => {
		const {stdout} = await execFileAsync('curl', ['-s', '--cacert', moatCa, ...moatProxy, '-o', '/dev/null', '-w', '%{time_starttransfer}', `https://${host}:${upstream.port}/`]);
		return Number(stdout) * 1000;
	};

	await firstByte('warm.localhost');
	const warm: number[] = [];
	const fresh: number[] = [];
	for (let index = 0; index < freshHosts; index++) {
		warm.push(await firstByte('warm.localhost'));
		fresh.push(await firstByte(`fresh${index}.localhost`));
	}

	const format = (figures: Figures) => `${figures.perSecond.toFixed(0).padStart(6)} req/s   p50 ${figures.p50.toFixed(2)} ms   p99 ${figures.p99.toFixed(2)} ms`;
	console.log(`bench:proxy — ${requests} HTTPS requests, ${connections} keep-alive connections, curl ${(await execFileAsync('curl', ['--version'])).stdout.split(' ')[1]}`);
	console.log(`  direct        ${format(direct)}`);
	console.log(`  moat          ${format(throughMoat)}`);
	if (throughMitm) {
		console.log(`  mitmdump      ${format(throughMitm)}`);
	}

	console.log('');
	console.log(`  throughput   moat / direct   = ${(throughMoat.perSecond / direct.perSecond).toFixed(2)}×  (target ≥ 0.6)`);
	if (throughMitm) {
		console.log(`  throughput   moat / mitmdump = ${(throughMoat.perSecond / throughMitm.perSecond).toFixed(2)}×  (target ≥ 2)`);
		const added = (figures: Figures, key: 'p50' | 'p99') => Math.max(0.001, figures[key] - direct[key]);
		console.log(`  added p50    moat ${added(throughMoat, 'p50').toFixed(2)} ms vs mitmdump ${added(throughMitm, 'p50').toFixed(2)} ms = ${(added(throughMoat, 'p50') / added(throughMitm, 'p50')).toFixed(2)}×`);
		console.log(`  added p99    moat ${added(throughMoat, 'p99').toFixed(2)} ms vs mitmdump ${added(throughMitm, 'p99').toFixed(2)} ms = ${(added(throughMoat, 'p99') / added(throughMitm, 'p99')).toFixed(2)}×`);
	} else {
		console.log('  mitmdump not installed (apt-get install mitmproxy): no comparison');
	}

	const median = (values: number[]) => percentile(values, 0.5);
	console.log(`  new host     first byte ${median(fresh).toFixed(1)} ms vs a seen host ${median(warm).toFixed(1)} ms: +${(median(fresh) - median(warm)).toFixed(1)} ms (target < 20 ms)`);
} finally {
	await cleanup();
}
