/**
 * bench:proxy — 2,000 HTTPS requests over keep-alive (8 connections) from
 * the real curl to a local HTTPS upstream: direct, through moat's proxy and
 * through mitmproxy (`mitmdump`, installed with apt-get when missing), all
 * in this run, each after the same unmeasured warm-up. Prints requests/s
 * and p50/p99 latency with the ratios the issue names (moat ≥ 3×
 * mitmproxy's throughput, ≥ 0.6× direct), the CPU time each request cost
 * each process (on a shared machine the ratios move with the neighbours;
 * CPU per request much less), and the time to first byte for a host the
 * proxy has never seen (certificate minting; target < 20 ms added).
 *
 * Then the path runs really take: curl inside a real bottle, through moat's
 * gateway container to the daemon, over the daemon's socket and over the
 * Docker API (each its own MOAT_HOME, daemon and gateway), against the same
 * script on the host directly, measured just before (gateway-load.ts):
 * requests/s (≥ 0.5× direct, ≥ 2× mitmdump), p50 added latency one request
 * at a time (≤ 2 ms) and one 200 MB download (≥ 0.5× direct).
 *
 * BENCH_PROFILE=1 (or a folder) runs moat's proxy with --cpu-prof and
 * prints where its time went (self time per function and per module,
 * cpu-profile-summary.ts); the .cpuprofile is kept in that folder.
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
import {summarizeCpuProfile} from './cpu-profile-summary.js';
import {startHttpsStandIn, writeTrustBundle} from '../helpers/https-stand-in.js';
import {answerBench, benchHost, downloadBytes, loadInBottle, loadOnHost, percentile, type BottleLoad, type LoadFigures, type LoadShape} from './gateway-load.js';
import {reportFigures} from './bench-report.js';

const execFileAsync = promisify(execFile);
const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);
const freshHosts = 5;
const shape: LoadShape = {requests, connections, sequential: Number(process.env.BENCH_SEQUENTIAL ?? 300)};
/** `socket,api` by default; BENCH_CHANNELS=socket skips the Docker API channel. */
const channels = (process.env.BENCH_CHANNELS ?? 'socket,api').split(',').filter((channel): channel is 'socket' | 'api' => channel === 'socket' || channel === 'api');

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-proxy-'));
const hosts = ['localhost', 'warm.localhost', benchHost, ...Array.from({length: freshHosts}, (_, index) => `fresh${index}.localhost`)];
const upstream = await startHttpsStandIn(hosts, answerBench);
// TLS connections the stand-in accepted: tells a proxy that keeps its upstream connections from one that dials per request.
let upstreamConnections = 0;
upstream.server.on('secureConnection', () => {
	upstreamConnections++;
});
/** `what`, with the number of upstream TLS connections it made. */
async function counted<T>(what: () => Promise<T>): Promise<{result: T; connections: number}> {
	const before = upstreamConnections;
	const result = await what();
	return {result, connections: upstreamConnections - before};
}

const children: ChildProcess[] = [];
/** BENCH_PROFILE: `1` for a fresh folder, or the folder the proxy's .cpuprofile goes to. */
const profileDirectory = process.env.BENCH_PROFILE
	? (process.env.BENCH_PROFILE === '1' ? await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-proxy-profile-')) : path.resolve(process.env.BENCH_PROFILE))
	: undefined;

async function cleanup() {
	// Each child ends before the folders go: a profiled proxy writes its profile as it exits.
	await Promise.all(children.map(async child => {
		if (child.exitCode !== null || child.signalCode !== null) {
			return;
		}

		const exited = new Promise(resolve => child.once('exit', resolve));
		child.kill('SIGTERM');
		await exited;
	}));

	await upstream.close();
	await fs.rm(root, {recursive: true, force: true});
}

/**
 * Throughput and latency, with the CPU time each request cost the proxy
 * (when it is a process of its own) and the stand-in upstream (this
 * process): on a shared machine the other processes set the pace, and CPU
 * per request says what each hop costs whatever the pace.
 */
type Figures = {perSecond: number; p50: number; p99: number; proxyMicroseconds?: number; upstreamMicroseconds: number};

/** A process's user and system CPU time so far, in microseconds (Linux /proc; undefined elsewhere). */
async function cpuMicroseconds(pid: number | undefined): Promise<number | undefined> {
	if (pid === undefined) {
		return undefined;
	}

	const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
	// Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks (100 a second).
	const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
	return fields ? (Number(fields[11]) + Number(fields[12])) * 10_000 : undefined;
}

/** One curl, `count` URLs over `connections` kept-alive connections; `proxyPid` is the proxy's process, if it is one. */
async function load(proxyArguments: string[], caFile: string, proxyPid?: number, count = requests): Promise<Figures> {
	const url = `https://localhost:${upstream.port}/x[1-${count}]`;
	const proxyBefore = await cpuMicroseconds(proxyPid);
	const upstreamBefore = process.cpuUsage();
	const started = performance.now();
	const {stdout} = await execFileAsync('curl', [
		'-s', '--parallel', '--parallel-max', String(connections), '--parallel-immediate',
		'--cacert', caFile, ...proxyArguments, '-o', '/dev/null', '-w', '%{http_code} %{time_total}\\n', url,
	], {maxBuffer: 64 * 1024 * 1024});
	const seconds = (performance.now() - started) / 1000;
	const upstreamCpu = process.cpuUsage(upstreamBefore);
	const proxyAfter = await cpuMicroseconds(proxyPid);
	const rows = stdout.trim().split('\n').map(line => line.split(' '));
	// A proxy that answers fast with an error must not pass for a fast proxy.
	const failed = rows.filter(row => row[0] !== '200').length;
	if (rows.length !== count || failed > 0) {
		throw new Error(`curl ${proxyArguments.join(' ')}: ${rows.length} of ${count} answers, ${failed} not 200 (first: ${rows.find(row => row[0] !== '200')?.[0] ?? 'none'})`);
	}

	const latencies = rows.map(row => Number(row[1]) * 1000);
	return {
		perSecond: count / seconds,
		p50: percentile(latencies, 0.5),
		p99: percentile(latencies, 0.99),
		...proxyBefore !== undefined && proxyAfter !== undefined ? {proxyMicroseconds: (proxyAfter - proxyBefore) / count} : {},
		upstreamMicroseconds: (upstreamCpu.user + upstreamCpu.system) / count,
	};
}

/** `warmUp` requests first, unmeasured (new connections, the proxy's certificate for the host, the JIT), then the measured load: the same for every path. */
const warmUp = 200;
async function measured(proxyArguments: string[], caFile: string, proxyPid?: number): Promise<Figures> {
	await load(proxyArguments, caFile, proxyPid, warmUp);
	return load(proxyArguments, caFile, proxyPid);
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

/**
 * mitmdump, the peer the issue compares against: installed from Debian's
 * mitmproxy package when missing, so the comparison is made in this run
 * rather than skipped. Undefined when it cannot be installed here.
 */
async function ensureMitmdump(): Promise<string | undefined> {
	const mitmdump = '/usr/bin/mitmdump';
	if (existsSync(mitmdump)) {
		return mitmdump;
	}

	if (!existsSync('/usr/bin/apt-get') || process.getuid?.() !== 0) {
		return undefined;
	}

	console.error('bench:proxy: mitmdump is missing; apt-get install -y mitmproxy');
	const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'};
	const install = async () => execFileAsync('apt-get', ['install', '-y', '-q', 'mitmproxy'], {env, maxBuffer: 64 * 1024 * 1024});
	try {
		await install();
	} catch {
		// A fresh machine's package lists may be missing or stale: update once, then try again.
		try {
			await execFileAsync('apt-get', ['update', '-q'], {env, maxBuffer: 64 * 1024 * 1024});
			await install();
		} catch (error) {
			console.error(`bench:proxy: mitmproxy could not be installed: ${(error as Error).message.split('\n')[0]!}`);
		}
	}

	return existsSync(mitmdump) ? mitmdump : undefined;
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
	const moat = spawn(process.execPath, [...(profileDirectory ? ['--cpu-prof', '--cpu-prof-dir', profileDirectory] : []), fileURLToPath(new URL('proxy-host.js', import.meta.url))], {
		env: {...process.env, BENCH_CA_DIRECTORY: path.join(root, 'moat-ca'), MOAT_UPSTREAM_OVERRIDES: overrides, NODE_EXTRA_CA_CERTS: trust},
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	children.push(moat);
	const moatPort = Number(await waitForLine(moat));
	const moatCa = path.join(root, 'moat-ca', 'ca.pem');
	const moatProxy = ['--proxy', `http://moat:bench@127.0.0.1:${moatPort}`];

	const direct = await measured(['--resolve', `localhost:${upstream.port}:127.0.0.1`], upstream.caFile);
	const throughMoat = await measured(moatProxy, moatCa, moat.pid);

	let throughMitm: Figures | undefined;
	const mitmdump = await ensureMitmdump();
	if (mitmdump) {
		const mitmPort = await freePort();
		const confdir = path.join(root, 'mitmproxy');
		const mitm = spawn(mitmdump, ['-q', '--listen-host', '127.0.0.1', '--listen-port', String(mitmPort), '--set', `confdir=${confdir}`, '--set', `ssl_verify_upstream_trusted_ca=${upstream.caFile}`], {stdio: 'ignore'});
		children.push(mitm);
		const mitmCa = path.join(confdir, 'mitmproxy-ca-cert.pem');
		for (let attempt = 0; attempt < 100 && !existsSync(mitmCa); attempt++) {
			await new Promise(resolve => setTimeout(resolve, 100));
		}

		await new Promise(resolve => setTimeout(resolve, 1000));
		throughMitm = await measured(['--proxy', `http://127.0.0.1:${mitmPort}`], mitmCa, mitm.pid);
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

	// Through the gateway, per channel, with its direct baseline measured just before it (drift on a shared machine).
	const trustBundle = await writeTrustBundle(path.join(root, 'trust-bundle.pem'), [upstream.caFile]);
	const directArguments = ['--connect-to', `${benchHost}:443:127.0.0.1:${upstream.port}`, '--cacert', upstream.caFile];
	const hostDirect = await counted(async () => loadOnHost(path.join(root, 'direct'), shape, directArguments, 'direct'));
	const hostProxyLoad = await counted(async () => loadOnHost(path.join(root, 'host-proxy'), shape, ['--proxy', `http://moat:bench@127.0.0.1:${moatPort}`, '--cacert', moatCa], 'moat\'s proxy on the host'));
	const gateways: Array<{channel: string; direct: {result: LoadFigures; connections: number}; bottle: {result: BottleLoad | Error; connections: number}}> = [];
	for (const channel of channels) {
		const baseline = await counted(async () => loadOnHost(path.join(root, `direct-${channel}`), shape, directArguments, 'direct'));
		const bottle = await counted(async () => loadInBottle({channel, standIn: upstream, trustBundle, shape}).catch((error: unknown) => error as Error));
		gateways.push({channel, direct: baseline, bottle});
	}

	const cpu = (figures: Figures) => `   CPU per request: ${figures.proxyMicroseconds === undefined ? '' : `proxy ${figures.proxyMicroseconds.toFixed(0)} µs, `}upstream ${figures.upstreamMicroseconds.toFixed(0)} µs`;
	const format = (figures: Figures) => `${figures.perSecond.toFixed(0).padStart(6)} req/s   p50 ${figures.p50.toFixed(2)} ms   p99 ${figures.p99.toFixed(2)} ms${cpu(figures)}`;
	console.log(`bench:proxy — ${requests} HTTPS requests, ${connections} keep-alive connections (after ${warmUp} unmeasured on each path), curl ${(await execFileAsync('curl', ['--version'])).stdout.split(' ')[1]}`);
	console.log('  (curl on the host; "moat" is moat\'s proxy alone in a process on 127.0.0.1, no daemon, no gateway)');
	console.log(`  direct        ${format(direct)}`);
	console.log(`  moat          ${format(throughMoat)}`);
	if (throughMitm) {
		console.log(`  mitmdump      ${format(throughMitm)}`);
	}

	console.log('');
	console.log(`  throughput   moat / direct   = ${(throughMoat.perSecond / direct.perSecond).toFixed(2)}×  (target ≥ 0.6)`);
	reportFigures('proxy', [
		{figure: 'proxy req/s, 8 keep-alive connections', measured: `${throughMoat.perSecond.toFixed(0)}/s = ${(throughMoat.perSecond / direct.perSecond).toFixed(2)}× direct`, target: '≥ 0.6× direct', met: throughMoat.perSecond / direct.perSecond >= 0.6},
		...throughMitm ? [{figure: 'proxy req/s vs mitmdump', measured: `${(throughMoat.perSecond / throughMitm.perSecond).toFixed(2)}× mitmdump (${throughMitm.perSecond.toFixed(0)}/s)`, target: '≥ 3× mitmdump', met: throughMoat.perSecond / throughMitm.perSecond >= 3}] : [],
	]);
	if (throughMitm) {
		console.log(`  throughput   moat / mitmdump = ${(throughMoat.perSecond / throughMitm.perSecond).toFixed(2)}×  (target ≥ 3)`);
		const added = (figures: Figures, key: 'p50' | 'p99') => Math.max(0.001, figures[key] - direct[key]);
		console.log(`  added p50    moat ${added(throughMoat, 'p50').toFixed(2)} ms vs mitmdump ${added(throughMitm, 'p50').toFixed(2)} ms = ${(added(throughMoat, 'p50') / added(throughMitm, 'p50')).toFixed(2)}×`);
		console.log(`  added p99    moat ${added(throughMoat, 'p99').toFixed(2)} ms vs mitmdump ${added(throughMitm, 'p99').toFixed(2)} ms = ${(added(throughMoat, 'p99') / added(throughMitm, 'p99')).toFixed(2)}×`);
	} else {
		console.log('  mitmdump not installed (apt-get install mitmproxy): no comparison');
	}

	if (throughMoat.proxyMicroseconds !== undefined) {
		const mitmCpu = throughMitm?.proxyMicroseconds === undefined ? '' : `, mitmdump ${throughMitm.proxyMicroseconds.toFixed(0)} µs (${(throughMitm.proxyMicroseconds / throughMoat.proxyMicroseconds).toFixed(1)}× moat's)`;
		console.log(`  CPU/request  moat's proxy ${throughMoat.proxyMicroseconds.toFixed(0)} µs = ${(throughMoat.proxyMicroseconds / direct.upstreamMicroseconds).toFixed(1)}× what the upstream server spends on a direct request (${direct.upstreamMicroseconds.toFixed(0)} µs)${mitmCpu}; no target, it explains the ratios on a shared machine`);
	}

	const median = (values: number[]) => percentile(values, 0.5);
	console.log(`  new host     first byte ${median(fresh).toFixed(1)} ms vs a seen host ${median(warm).toFixed(1)} ms: +${(median(fresh) - median(warm)).toFixed(1)} ms (target < 20 ms)`);

	const megabytes = (bytesPerSecond: number) => `${(bytesPerSecond / 1e6).toFixed(0).padStart(5)} MB/s`;
	const row = (label: string, {result: figures, connections: dialled}: {result: LoadFigures; connections: number}) => `  ${label.padEnd(34)}${figures.perSecond.toFixed(0).padStart(6)} req/s   p50 ${figures.parallelP50.toFixed(2).padStart(6)} ms   1-by-1 p50 ${figures.sequentialP50.toFixed(2).padStart(5)} ms p99 ${figures.sequentialP99.toFixed(2).padStart(6)} ms   download ${megabytes(figures.downloadPerSecond)} (${figures.downloadSeconds.toFixed(2)} s)   upstream TLS connections ${dialled}`;
	console.log('');
	console.log(`bench:proxy through the gateway — curl inside a real bottle (moat run): bottle → gateway container → daemon's proxy → stand-in (${benchHost} via MOAT_UPSTREAM_OVERRIDES)`);
	console.log(`  the same script everywhere: 200 to warm up, ${shape.requests} requests over ${shape.connections} kept-alive connections (req/s, p50 under that load), ${shape.sequential} one by one on one kept-alive connection (1-by-1), one ${downloadBytes / 1e6} MB download (${shape.requests + shape.sequential + 201} requests in all)`);
	console.log('  baseline "direct": that script with curl on the host straight to the stand-in, run just before each channel');
	console.log(row('direct (host curl)', hostDirect));
	console.log(row('moat proxy on the host, no gateway', hostProxyLoad));
	for (const {channel, direct: baseline, bottle: {result: bottle, connections: dialled}} of gateways) {
		console.log(row(`direct (again, before ${channel})`, baseline));
		if (bottle instanceof Error) {
			console.log(`  gateway, ${channel} channel: failed: ${bottle.message}`);
			continue;
		}

		console.log(row(`gateway, ${channel} channel`, {result: bottle.figures, connections: dialled}));
	}

	for (const {channel, direct: {result: baseline}, bottle: {result: bottle}} of gateways) {
		if (bottle instanceof Error) {
			continue;
		}

		const figures = bottle.figures;
		console.log('');
		console.log(`  gateway over the ${channel} channel (the daemon reports channel "${bottle.channel}"; the whole moat run took ${(bottle.runMilliseconds / 1000).toFixed(1)} s)`);
		console.log(`    req/s      gateway / direct   = ${(figures.perSecond / baseline.perSecond).toFixed(2)}×  (target ≥ 0.5)`);
		console.log(throughMitm
			? `    req/s      gateway / mitmdump = ${(figures.perSecond / throughMitm.perSecond).toFixed(2)}×  (target ≥ 2; mitmdump on the host, measured above)`
			: '    req/s      gateway / mitmdump: no mitmdump, no comparison');
		console.log(`    added p50  ${(figures.sequentialP50 - baseline.sequentialP50).toFixed(2)} ms per request, one by one on a kept-alive connection (target ≤ 2 ms); under the ${shape.connections}-connection load +${(figures.parallelP50 - baseline.parallelP50).toFixed(2)} ms`);
		console.log(`    download   gateway / direct   = ${(figures.downloadPerSecond / baseline.downloadPerSecond).toFixed(2)}×  (${megabytes(figures.downloadPerSecond).trim()} vs ${megabytes(baseline.downloadPerSecond).trim()}; target ≥ 0.5)`);
	}
} finally {
	await cleanup();
}

if (profileDirectory) {
	console.log('');
	console.log(`bench:proxy profile of moat's proxy process (BENCH_PROFILE; .cpuprofile in ${profileDirectory}):`);
	const profiles = (await fs.readdir(profileDirectory)).filter(name => name.endsWith('.cpuprofile'));
	for (const name of profiles) {
		console.log(await summarizeCpuProfile(path.join(profileDirectory, name), 40));
	}
}
