import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import type {Readable} from 'node:stream';
import test from 'ava';
import {allowHostForRun} from '../../source/daemon/daemon-client.js';
import type {DaemonState} from '../../source/daemon/daemon-state.js';
import {createEnvironment} from '../../source/environment.js';
import {MoatError} from '../../source/errors.js';
import {clientTimeoutSeconds, failureTimeoutSeconds} from '../helpers/deadline.js';
import {dockerTest} from '../helpers/docker.js';
import {createWorld, connectStatus, githubToken, newestRunId, parseProbes, parseProxyUrl, probeScript, runIdOf, viaProxy, waitForFile, waitForRunToEnd, type World} from '../helpers/proxy-world.js';
import {collect, createSandbox, createWorkspace, daemonPidOf, docker, eventually, processAlive, spawnMoat} from '../helpers/moat.js';

/**
 * The proxy and the sealed network (README: The network) end to end: real containers,
 * real curl and git inside them, the real daemon. Internet services are
 * local stand-ins (test/helpers/proxy-world.ts). Each test has its own
 * MOAT_HOME, hence its own daemon; the sandbox's cleanup stops it.
 */


/** The forms a GitHub token could leak in: its random part (raw or URL-encoded alike), and base64 as git and Basic auth carry it. */
function leakForms(token: string): string[] {
	return [
		token.slice('ghp_'.length),
		Buffer.from(`x-access-token:${token}`).toString('base64'),
		Buffer.from(token).toString('base64'),
	];
}

async function filesUnder(directory: string): Promise<string[]> {
	const entries = await fs.readdir(directory, {recursive: true, withFileTypes: true});
	return entries.filter(entry => entry.isFile()).map(entry => path.join(entry.parentPath, entry.name));
}

/** Which needles occur in a stream, read in chunks with enough overlap to catch one split across chunks. */
async function needlesInStream(stream: Readable, needles: readonly string[]): Promise<{found: string[]; bytes: number}> {
	const patterns = needles.map(needle => Buffer.from(needle));
	const overlap = Math.max(...patterns.map(pattern => pattern.length)) - 1;
	const found = new Set<string>();
	let tail = Buffer.alloc(0);
	let bytes = 0;
	for await (const chunk of stream) {
		const buffer = chunk as Buffer;
		bytes += buffer.length;
		const window = Buffer.concat([tail, buffer]);
		for (const [index, pattern] of patterns.entries()) {
			if (window.includes(pattern)) {
				found.add(needles[index]!);
			}
		}

		tail = window.subarray(Math.max(0, window.length - overlap));
	}

	return {found: [...found], bytes};
}


async function daemonPid(world: World): Promise<number> {
	return daemonPidOf(world.sandbox.moatHome);
}

const alive = processAlive;

const blockedText = (host: string) => `Moat: request blocked by network policy.\nHost "${host}" is not in the allow list.\nAdd it to network.allow in agent.yaml or use policy: permissive.`;

const blockedInternalText = (host: string, reason: string) => `Moat: request blocked by network policy.\nHost "${host}" is refused: ${reason}\nAgents reach only public hosts, whatever the policy.\n`;

/** A raw request to the daemon's API on its socket, for the statuses and words a client turns into errors. */
async function daemonRequest(moatHome: string, method: string, route: string, body?: unknown): Promise<{status: number; body: {error?: string}}> {
	return new Promise((resolve, reject) => {
		const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
		const request = http.request({socketPath: path.join(moatHome, 'daemon.sock'), method, path: route, timeout: clientTimeoutSeconds * 1000, headers: payload ? {'content-type': 'application/json'} : {}}, response => {
			let text = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => {
				text += chunk;
			});
			response.on('end', () => {
				resolve({status: response.statusCode ?? 0, body: JSON.parse(text) as {error?: string}});
			});
		});
		request.on('timeout', () => request.destroy(new Error('the daemon did not answer in time')));
		request.on('error', reject);
		request.end(payload);
	});
}

/** One git smart-HTTP packet line. */
const packetLine = (text: string) => (text.length + 4).toString(16).padStart(4, '0') + text;

// --- The daemon without runs ---

dockerTest('moat proxy status exits 1 before any run; moat proxy start starts the daemon, whose address status and moat status then show', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const before = await world.moat(['proxy', 'status']);
	t.is(before.code, 1, before.stderr);
	t.regex(before.stdout, /^Daemon {4}not running\b/);
	t.regex((await world.moat(['status'])).stdout, /^Daemon {4}not running\b/m);

	const started = await world.moat(['proxy', 'start']);
	t.is(started.code, 0, started.stderr);
	// proxy start waits for the gateway: it is ready, on this machine's engine, reached over the daemon's socket.
	const gateway = /^Gateway {3}ready \((moat-gateway-[\da-f]{10})\): Linux engine on this host, carried over the daemon's socket$/m.exec(started.stdout);
	t.truthy(gateway, started.stdout);
	const pid = await daemonPid(world);
	t.true(alive(pid), 'daemon.lock names a live process');

	const status = await world.moat(['proxy', 'status']);
	t.is(status.code, 0, status.stderr);
	t.regex(status.stdout, new RegExp(`^Daemon {4}running \\(pid ${pid}, `, 'm'));
	t.true(status.stdout.includes(gateway![0]), status.stdout);
	t.regex(status.stdout, /^Runs {6}0 registered$/m);

	const overall = await world.moat(['status']);
	t.regex(overall.stdout, new RegExp(`^Daemon {4}running \\(pid ${pid}\\), 0 runs registered$`, 'm'));
	t.true(overall.stdout.includes(gateway![0]), overall.stdout);

	// The gateway is a container of this MOAT_HOME, with nothing it does not need, and nothing of moat listens on the host.
	const [container] = JSON.parse(await docker('inspect', gateway![1]!)) as Array<{Config: {Labels: Record<string, string>; User: string}; HostConfig: {CapDrop: string[]; ReadonlyRootfs: boolean; NetworkMode: string}}>;
	t.is(container!.Config.Labels['moat.gateway'], 'true');
	t.is(container!.Config.Labels['moat.home'], world.sandbox.moatHome);
	t.is(container!.Config.User, `${process.getuid!()}:${process.getgid!()}`);
	t.deepEqual(container!.HostConfig.CapDrop, ['ALL']);
	t.true(container!.HostConfig.ReadonlyRootfs);
	await t.throwsAsync(viaProxy({host: '127.0.0.1', port: 3128}, 'http://example.test/'), undefined, 'nothing answers on the gateway port on loopback');
});

// --- Injection ---

dockerTest('with a github grant, curl gets Bearer on api.github.com whatever auth it sent, and curl and git get Basic x-access-token on github.com', async t => {
	const token = githubToken();
	const basic = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
	const commit = randomBytes(20).toString('hex');
	const world = await createWorld(t, {
		hosts: ['api.github.com', 'github.com'],
		handler(request, response) {
			if (request.headers.host === 'api.github.com') {
				response.writeHead(200, {'content-type': 'application/json'});
				response.end(JSON.stringify({login: 'stand-in-octocat'}));
				return;
			}

			if (request.url === '/org/repo.git/info/refs?service=git-upload-pack') {
				// Like GitHub: without the right credential, ask for one.
				if (request.headers.authorization !== basic) {
					response.writeHead(401, {'www-authenticate': 'Basic realm="GitHub"'});
					response.end();
					return;
				}

				response.writeHead(200, {'content-type': 'application/x-git-upload-pack-advertisement', 'cache-control': 'no-cache'});
				response.end(packetLine('# service=git-upload-pack\n') + '0000' + packetLine(`${commit} refs/heads/main\0side-band-64k ofs-delta agent=stand-in\n`) + '0000');
				return;
			}

			response.writeHead(request.headers.authorization === basic ? 200 : 401, {'content-type': 'text/plain'});
			response.end(request.headers.authorization === basic ? 'signed in\n' : 'who are you?\n');
		},
	});
	await world.grantGithub(token);

	const result = await world.moat(['run', world.workspace, '--grant', 'github', '-e', 'GIT_TERMINAL_PROMPT=0', '--', 'sh', '-c', probeScript([
		['api', 'curl -sS https://api.github.com/user'],
		['api-own-auth', 'curl -sS -H "Authorization: token fake-agent-token" "https://api.github.com/user?again=1"'],
		['web', 'curl -sS -u agent:agent-password https://github.com/login'],
		['git', 'git ls-remote https://github.com/org/repo.git'],
	])]);
	t.is(result.code, 0, result.stderr);
	const probes = parseProbes(result.stdout);
	t.deepEqual(probes.api, {code: 0, output: '{"login":"stand-in-octocat"}'});
	t.deepEqual(probes['api-own-auth'], {code: 0, output: '{"login":"stand-in-octocat"}'});
	t.deepEqual(probes.web, {code: 0, output: 'signed in'});
	t.deepEqual(probes.git, {code: 0, output: `${commit}\trefs/heads/main`}, 'git got the refs: its request carried the credential');

	const api = world.standIn.requests.filter(request => request.headers.host === 'api.github.com');
	t.deepEqual(api.map(request => [request.url, request.headers.authorization]), [['/user', `Bearer ${token}`], ['/user?again=1', `Bearer ${token}`]]);
	const web = world.standIn.requests.filter(request => request.headers.host === 'github.com');
	t.deepEqual(web.map(request => [request.url, request.headers.authorization]), [['/login', basic], ['/org/repo.git/info/refs?service=git-upload-pack', basic]]);
	t.regex(String(web[1]!.headers['user-agent']), /^git\//, 'the last request is git\'s own');
	const received = JSON.stringify(world.standIn.requests);
	t.false(received.includes('fake-agent-token'), 'the agent\'s own auth header is replaced, not forwarded');
	t.false(received.includes(Buffer.from('agent:agent-password').toString('base64')), 'the agent\'s own Basic credential is replaced, not forwarded');

	const runId = await newestRunId(world);
	await eventually(async () => (await world.networkEntries(runId)).length === 4);
	const entries = await world.networkEntries(runId);
	t.deepEqual(entries.map(entry => [entry.method, entry.url, entry.status, entry.grant, entry.blocked]), [
		['GET', 'https://api.github.com/user', 200, 'github', false],
		['GET', 'https://api.github.com/user?again=1', 200, 'github', false],
		['GET', 'https://github.com/login', 200, 'github', false],
		['GET', 'https://github.com/org/repo.git/info/refs?service=git-upload-pack', 200, 'github', false],
	]);
	const trace = await world.moat(['trace', runId]);
	t.is(trace.code, 0, trace.stderr);
	t.regex(trace.stdout, /^\[\d{2}:\d{2}:\d{2}\.\d{3}] GET https:\/\/api\.github\.com\/user 200 \(\d+ms\) {2}\[github\]$/m);
	t.regex(trace.stdout, /^\[\d{2}:\d{2}:\d{2}\.\d{3}] GET https:\/\/github\.com\/org\/repo\.git\/info\/refs\?service=git-upload-pack 200 \(\d+ms\) {2}\[github\]$/m);

	await eventually(async () => (await world.auditRecords(runId)).filter(record => record.type === 'credential.injected').length === 4);
	const injected = (await world.auditRecords(runId)).filter(record => record.type === 'credential.injected').map(record => record.data);
	t.deepEqual(injected, [
		{grant: 'github', host: 'api.github.com'},
		{grant: 'github', host: 'api.github.com'},
		{grant: 'github', host: 'github.com'},
		{grant: 'github', host: 'github.com'},
	]);
	for (const output of world.outputs) {
		t.false(output.includes(token), 'moat never prints the token');
	}
});

// --- The token never reaches the container, the disk or the logs ---

dockerTest('the real token appears nowhere: not in output, the container\'s environment, /proc, an export of the kept container, MOAT_HOME (except the encrypted grant) or daemon.log', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com', 'github.com']});
	const token = await world.grantGithub();
	const forms = leakForms(token);

	const script = [
		'curl -sS -o /workspace/answer.txt https://api.github.com/user',
		'git ls-remote https://github.com/org/repo.git > /workspace/git.txt 2>&1',
		'env > /workspace/env.txt',
		'for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do printf "== %s\\n" "$f"; tr "\\0" "\\n" < "$f"; echo; done > /workspace/proc.txt 2>&1',
		'touch /workspace/ready',
		'while [ ! -e /workspace/stop ]; do sleep 0.2; done',
		'echo finished',
	].join('\n');
	const started = await world.moat(['run', world.workspace, '-d', '--keep', '--grant', 'github', '-e', 'GIT_TERMINAL_PROMPT=0', '--', 'sh', '-c', script]);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	await waitForFile(path.join(world.workspace, 'ready'));

	// The proxy did use the token during the run, so its absence below means something.
	t.is(world.standIn.requests.find(request => request.headers.host === 'api.github.com')?.headers.authorization, `Bearer ${token}`);
	t.is(world.standIn.requests.find(request => request.headers.host === 'github.com')?.headers.authorization, `Basic ${forms[1]!}`);

	// What the agent itself can see, searched here on the host (the probe never held the token).
	const seen = {
		env: await fs.readFile(path.join(world.workspace, 'env.txt'), 'utf8'),
		proc: await fs.readFile(path.join(world.workspace, 'proc.txt'), 'utf8'),
		answer: await fs.readFile(path.join(world.workspace, 'answer.txt'), 'utf8'),
		git: await fs.readFile(path.join(world.workspace, 'git.txt'), 'utf8'),
	};
	t.regex(seen.env, /^GH_TOKEN=moat-placeholder-github-token$/m, 'the container sees the placeholder');
	t.regex(seen.env, /^HTTPS_PROXY=http:\/\/moat:[\da-f]+@/m);
	t.regex(seen.proc, /^== \/proc\/1\/cmdline\n/m);
	t.regex(seen.proc, /^HTTPS_PROXY=/m, 'the /proc dump holds environments');
	// Everything PID 1 and the rest hold, read as root from outside the agent's reach.
	const rootView = await docker('exec', '-u', '0', `moat-${runId}`, 'sh', '-c', 'for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat "$f"; echo; done');
	t.true(rootView.includes('GH_TOKEN=moat-placeholder-github-token'));
	const inspected = await docker('inspect', `moat-${runId}`);
	for (const form of forms) {
		for (const [name, text] of Object.entries({...seen, rootView, inspected})) {
			t.false(text.includes(form), `the token (as ${form.slice(0, 6)}…) is in the container's ${name}`);
		}
	}

	await fs.writeFile(path.join(world.workspace, 'stop'), '');
	const ended = await waitForRunToEnd(world, runId);
	t.is(ended.state, 'stopped');
	t.truthy(ended.containerId, '--keep kept the container');
	const logs = await world.moat(['logs', runId]);
	t.is(logs.stdout, 'finished\n');

	const exporter = spawn('docker', ['export', ended.containerId!], {stdio: ['ignore', 'pipe', 'inherit']});
	const exited = new Promise<number>(resolve => {
		exporter.on('close', code => {
			resolve(code ?? -1);
		});
	});
	// The bundle moat-init wrote at start: proof the export holds the container's own changes.
	const exported = await needlesInStream(exporter.stdout, [...forms, 'etc/moat/ca-bundle.pem']);
	t.is(await exited, 0);
	t.true(exported.bytes > 10_000_000, `docker export gave ${exported.bytes} bytes`);
	t.true(exported.found.includes('etc/moat/ca-bundle.pem'));
	t.deepEqual(exported.found.filter(found => forms.includes(found)), [], 'the exported filesystem holds the token');

	const files = await filesUnder(world.sandbox.moatHome);
	const scanned = files.filter(file => !(path.dirname(file) === path.join(world.sandbox.moatHome, 'credentials') && file.endsWith('.enc')));
	t.true(scanned.includes(path.join(world.sandbox.moatHome, 'daemon.log')));
	t.true(scanned.includes(path.join(world.sandbox.moatHome, 'runs', runId, 'network.jsonl')));
	t.true(scanned.some(file => file.endsWith(path.join(runId, 'audit', 'entries.jsonl'))));
	for (const file of scanned) {
		const content = await fs.readFile(file);
		for (const form of forms) {
			t.false(content.includes(form), `${path.relative(world.sandbox.moatHome, file)} holds the token`);
		}
	}

	for (const output of world.outputs) {
		for (const form of forms) {
			t.false(output.includes(form), 'moat printed the token');
		}
	}
});

// --- Strict policy ---

dockerTest('strict policy: only *.allowed.test (subdomains, ports 80 and 443) gets through; blocked requests get the readable 403, show in network.jsonl, moat trace and the audit log', async t => {
	const world = await createWorld(t, {
		// Every name reaches the stand-in if the proxy lets it through: a block is the policy's doing.
		hosts: ['api.allowed.test', 'deep.api.allowed.test', 'allowed.test', 'blocked.test'],
		files: {'agent.yaml': 'network:\n  policy: strict\n  allow:\n    - "*.allowed.test"\n'},
	});
	const result = await world.moat(['run', world.workspace, '--', 'sh', '-c', probeScript([
		['https-blocked', 'curl -sS https://blocked.test/'],
		['http-blocked', 'curl -sS -o /workspace/blocked.txt -w "%{http_code}" http://blocked.test/page'],
		['allowed', 'curl -sS https://api.allowed.test/hello'],
		['allowed-deep', 'curl -sS https://deep.api.allowed.test/'],
		['apex', 'curl -sS https://allowed.test/'],
		['other-port', 'curl -sS https://api.allowed.test:8443/'],
	])]);
	t.is(result.code, 0, result.stderr);
	const probes = parseProbes(result.stdout);
	// Over HTTPS the reason is answered inside the tunnel, over TLS with moat's certificate: curl prints it.
	t.deepEqual(probes['https-blocked'], {code: 0, output: blockedText('blocked.test')});
	t.deepEqual(probes['http-blocked'], {code: 0, output: '403'});
	t.is(await fs.readFile(path.join(world.workspace, 'blocked.txt'), 'utf8'), blockedText('blocked.test') + '\n');
	t.deepEqual(probes.allowed, {code: 0, output: 'stand-in api.allowed.test GET /hello'});
	t.deepEqual(probes['allowed-deep'], {code: 0, output: 'stand-in deep.api.allowed.test GET /'});
	t.deepEqual(probes.apex, {code: 0, output: blockedText('allowed.test')}, '*.allowed.test does not match allowed.test itself');
	t.deepEqual(probes['other-port'], {code: 0, output: blockedText('api.allowed.test')}, 'a pattern without a port allows only 80 and 443');
	t.deepEqual(world.standIn.requests.map(request => request.headers.host), ['api.allowed.test', 'deep.api.allowed.test']);

	const runId = await newestRunId(world);
	await eventually(async () => (await world.networkEntries(runId)).length === 6);
	const entries = await world.networkEntries(runId);
	t.deepEqual(entries.map(entry => [entry.method, entry.url, entry.status, entry.blocked, entry.error]), [
		['GET', 'https://blocked.test/', 403, true, 'Host "blocked.test" is not in the allow list.'],
		['GET', 'http://blocked.test/page', 403, true, 'Host "blocked.test" is not in the allow list.'],
		['GET', 'https://api.allowed.test/hello', 200, false, null],
		['GET', 'https://deep.api.allowed.test/', 200, false, null],
		['GET', 'https://allowed.test/', 403, true, 'Host "allowed.test" is not in the allow list.'],
		['GET', 'https://api.allowed.test:8443/', 403, true, 'Host "api.allowed.test" is not in the allow list.'],
	]);

	const json = await world.moat(['trace', runId, '--json']);
	t.is(json.code, 0, json.stderr);
	t.deepEqual(JSON.parse(json.stdout), entries);
	const text = await world.moat(['trace', runId, '--network']);
	t.is(text.code, 0, text.stderr);
	const lines = text.stdout.trimEnd().split('\n');
	t.is(lines.length, 6);
	t.regex(lines[0]!, /^\[\d{2}:\d{2}:\d{2}\.\d{3}] GET https:\/\/blocked\.test\/ 403 \(\d+ms\) {2}BLOCKED \(Host "blocked\.test" is not in the allow list\.\)$/);
	t.regex(lines[2]!, /^\[\d{2}:\d{2}:\d{2}\.\d{3}] GET https:\/\/api\.allowed\.test\/hello 200 \(\d+ms\)$/);
	t.is(lines.filter(line => line.includes('BLOCKED')).length, 4);

	await eventually(async () => (await world.auditRecords(runId)).filter(record => record.type === 'request.blocked').length === 4);
	const blocked = (await world.auditRecords(runId)).filter(record => record.type === 'request.blocked').map(record => record.data);
	t.deepEqual(blocked, [
		{host: 'blocked.test', reason: 'Host "blocked.test" is not in the allow list.'},
		{host: 'blocked.test', reason: 'Host "blocked.test" is not in the allow list.'},
		{host: 'allowed.test', reason: 'Host "allowed.test" is not in the allow list.'},
		{host: 'api.allowed.test', reason: 'Host "api.allowed.test" is not in the allow list.'},
	]);
	const audit = await world.moat(['audit', runId]);
	t.is(audit.code, 0, audit.stdout + audit.stderr);
	t.regex(audit.stdout, /^ {2}request\.blocked +4$/m);
});

// --- Allowing a host for a running run ---

dockerTest('a host allowed through the daemon for a running strict run gets through from then on, without a restart; the allow list is persisted once and the audit log says the user changed the policy', async t => {
	const world = await createWorld(t, {
		hosts: ['late.test'],
		files: {'agent.yaml': 'network:\n  policy: strict\n'},
	});
	// One curl after another: the first CONNECT status and then the response status, one line each.
	const loop = `for i in $(seq 1 400); do [ -e /workspace/stop ] && break; curl -s -o /dev/null --max-time ${clientTimeoutSeconds} -w "%{http_connect} %{http_code}\\n" https://late.test/x; sleep 0.25; done`;
	const started = await world.moat(['run', world.workspace, '-d', '--', 'sh', '-c', loop]);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	await eventually(async () => (await world.networkEntries(runId)).length >= 2);
	t.is(world.standIn.requests.length, 0, 'strict policy let late.test through before it was allowed');

	const environment = createEnvironment(world.env, world.sandbox.userHome);
	const allowed = await allowHostForRun(environment, runId, 'Late.test');
	t.deepEqual(allowed, {runId, entry: 'late.test', added: true, policy: {mode: 'strict', allow: ['late.test']}});
	await eventually(async () => world.standIn.requests.length >= 3);
	const again = await allowHostForRun(environment, runId, 'late.test');
	t.false(again.added, 'allowing it again changes nothing');
	const state = JSON.parse(await fs.readFile(path.join(world.sandbox.moatHome, 'daemon-state.json'), 'utf8')) as DaemonState;
	t.deepEqual(state.runs[runId]?.policy, {mode: 'strict', allow: ['late.test']});

	await fs.writeFile(path.join(world.workspace, 'stop'), '');
	await waitForRunToEnd(world, runId);
	// Blocked, then once allowed always through: the change is live for the next request.
	const codes = (await world.moat(['logs', runId])).stdout.trim().split('\n');
	const firstThrough = codes.indexOf('200 200');
	t.true(firstThrough >= 2, codes.join(', '));
	// Refused inside the tunnel: the CONNECT got 200, the request moat's 403.
	t.true(codes.slice(0, firstThrough).every(code => code === '200 403'), codes.join(', '));
	t.true(codes.slice(firstThrough).every(code => code === '200 200'), codes.join(', '));
	const entries = (await world.networkEntries(runId)).map(entry => [entry.method, entry.url, entry.status, entry.blocked]);
	t.deepEqual(entries.slice(0, firstThrough), Array.from({length: firstThrough}, () => ['GET', 'https://late.test/x', 403, true]));
	t.deepEqual(entries.slice(firstThrough), Array.from({length: codes.length - firstThrough}, () => ['GET', 'https://late.test/x', 200, false]));

	const records = await world.auditRecords(runId);
	const changes = records.filter(record => record.type === 'policy.changed');
	t.deepEqual(changes.map(record => record.data), [{allow: 'late.test', by: 'user'}]);
	const blocked = records.filter(record => record.type === 'request.blocked');
	t.is(blocked.length, firstThrough);
	t.true(blocked.every(record => record.seq < changes[0]!.seq), 'nothing was blocked after the change');
	t.deepEqual(blocked[0]!.data, {host: 'late.test', reason: 'Host "late.test" is not in the allow list.'});
	const audit = await world.moat(['audit', runId]);
	t.is(audit.code, 0, audit.stdout + audit.stderr);
	t.regex(audit.stdout, /^ {2}policy\.changed +1$/m);

	// The run has ended and its token with it: there is nothing left to allow a host for.
	const ended = await t.throwsAsync(allowHostForRun(environment, runId, 'other.test'), {instanceOf: MoatError});
	t.is(ended.message, `Cannot allow other.test for ${runId}: no run ${runId} is running under this daemon.`);
	t.is((ended as MoatError).exitCode, 4);
});

dockerTest('allowing a host refuses what is not a host (400), internal addresses in any mode (400) and runs the daemon does not serve (404), and changes nothing', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const started = await world.moat(['run', world.workspace, '-d', '--', 'sleep', '120']);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	const route = `/runs/${runId}/allow`;
	const answers = await Promise.all([
		daemonRequest(world.sandbox.moatHome, 'POST', route, {host: 'https://api.example.com/'}),
		daemonRequest(world.sandbox.moatHome, 'POST', route, {host: '169.254.169.254'}),
		daemonRequest(world.sandbox.moatHome, 'POST', route, {host: 'localhost:8080'}),
		daemonRequest(world.sandbox.moatHome, 'POST', route, {name: 'api.example.com'}),
		daemonRequest(world.sandbox.moatHome, 'POST', '/runs/run_000000000000/allow', {host: 'api.example.com'}),
	]);
	t.deepEqual(answers, [
		{status: 400, body: {error: '"https://api.example.com/" is not an allow entry: use host, host:port, *.domain or *.domain:port'}},
		{status: 400, body: {error: '"169.254.169.254" is a link-local address (cloud metadata lives there), which agents may never reach, whatever the allow list'}},
		{status: 400, body: {error: '"localhost:8080" is a loopback address, which agents may never reach, whatever the allow list'}},
		{status: 400, body: {error: 'the body needs a host, as {"host": "api.example.com"}'}},
		{status: 404, body: {error: 'no run run_000000000000 is running under this daemon'}},
	]);

	const environment = createEnvironment(world.env, world.sandbox.userHome);
	const bad = await t.throwsAsync(allowHostForRun(environment, runId, 'api.example.com/path'), {instanceOf: MoatError});
	t.is(bad.message, `Cannot allow api.example.com/path for ${runId}: "api.example.com/path" is not an allow entry: use host, host:port, *.domain or *.domain:port.`);
	t.is((bad as MoatError).exitCode, 2);
	t.regex((bad as MoatError).hint, /api\.example\.com:8443/);
	const unknown = await t.throwsAsync(allowHostForRun(environment, 'run_000000000000', 'api.example.com'), {instanceOf: MoatError});
	t.is((unknown as MoatError).exitCode, 4);
	t.regex((unknown as MoatError).hint, /running run/);

	const state = JSON.parse(await fs.readFile(path.join(world.sandbox.moatHome, 'daemon-state.json'), 'utf8')) as DaemonState;
	t.deepEqual(state.runs[runId]?.policy, {mode: 'permissive', allow: []});
	t.deepEqual((await world.auditRecords(runId)).filter(record => record.type === 'policy.changed'), []);
});

test('allowing a host with no daemon running says so and starts none', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const error = await t.throwsAsync(allowHostForRun(createEnvironment(sandbox.env, sandbox.userHome), 'run_0123456789ab', 'api.example.com'), {instanceOf: MoatError});
	t.is(error.message, 'Cannot allow api.example.com for run_0123456789ab: the moat daemon is not running.');
	t.regex((error as MoatError).hint, /moat proxy start/);
	t.is((error as MoatError).exitCode, 4);
	await t.throwsAsync(fs.stat(path.join(sandbox.moatHome, 'daemon.sock')));
});

// --- Bypasses ---

dockerTest('bypasses fail: --noproxy to a name, a public IPv4 or IPv6 address, DNS, a CONNECT whose Host differs, plain HTTP for a credential, and the proxy asked for loopback, link-local or private addresses', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com'], plainRoutes: ['api.github.com:80']});
	const token = await world.grantGithub();
	const canary = world.plain.port;
	// A name (not an address) that resolves to loopback here, when the machine has one: /etc/hosts usually maps its own name so.
	const ownName = os.hostname();
	const ownAddresses = await dns.promises.lookup(ownName, {all: true}).catch(() => []);
	const ownNameIsInternal = ownAddresses.length > 0 && ownAddresses.every(({address}) => /^127\.|^::1$/.test(address));
	const result = await world.moat(['run', world.workspace, '--keep', '--grant', 'github', '--', 'sh', '-c', probeScript([
		// These must fail; failureTimeoutSeconds says why their bound is long.
		['noproxy-name', `curl -sS --noproxy "*" --max-time ${failureTimeoutSeconds} https://example.com/`],
		['noproxy-ipv4', `curl -sS --noproxy "*" --max-time ${failureTimeoutSeconds} http://1.1.1.1/`],
		['noproxy-ipv6', `curl -sS --noproxy "*" --max-time ${failureTimeoutSeconds} "http://[2606:4700:4700::1111]/"`],
		['dns', `timeout ${failureTimeoutSeconds} getent hosts example.com`],
		['host-mismatch', 'curl -sS --proxy-header "Host: other.test" https://api.github.com/user'],
		['plain-http', 'curl -sS http://api.github.com/plain'],
		['loopback', `curl -sS --noproxy "" -w "%{http_code}" http://127.0.0.1:${canary}/canary`],
		['localhost', `curl -sS --noproxy "" -o /dev/null -w "%{http_code}" http://localhost:${canary}/canary`],
		['loopback-ipv6', `curl -sS --noproxy "" -o /dev/null -w "%{http_code}" "http://[::1]:${canary}/canary"`],
		['loopback-connect', `curl -sS --noproxy "" https://127.0.0.1:${canary}/canary`],
		['metadata', 'curl -sS -w "%{http_code}" http://169.254.169.254/latest/meta-data/'],
		['private', 'curl -sS -o /dev/null -w "%{http_code}" http://10.0.0.1/'],
		...(ownNameIsInternal ? [
			['resolves-to-loopback', `curl -sS --noproxy "" -w "%{http_code}" http://${ownName}:${canary}/canary`] as const,
			// Over HTTPS the name is resolved and refused before the tunnel is answered; the reason comes inside it.
			['resolves-to-loopback-https', `curl -sS -w "%{http_connect} %{http_code}" https://${ownName}:${canary}/canary`] as const,
		] : []),
	])]);
	t.is(result.code, 0, result.stderr);
	const probes = parseProbes(result.stdout);

	for (const label of ['noproxy-name', 'noproxy-ipv4', 'noproxy-ipv6', 'dns']) {
		t.not(probes[label]!.code, 0, `${label} got through: ${probes[label]!.output}`);
	}

	t.is(probes.dns!.output, '', 'no address came back');
	t.not(probes['host-mismatch']!.code, 0);
	t.regex(probes['host-mismatch']!.output, /CONNECT tunnel failed, response 400/);
	t.is(world.standIn.requests.length, 0, 'the mismatched CONNECT reached nothing');

	t.deepEqual(probes['plain-http'], {code: 0, output: 'stand-in api.github.com GET /plain'});
	const plainRequest = world.plain.requests.find(request => request.headers.host === 'api.github.com');
	t.truthy(plainRequest);
	t.is(plainRequest!.headers.authorization, undefined, 'no credential over plain HTTP');
	for (const form of leakForms(token)) {
		t.false(JSON.stringify(world.plain.requests).includes(form), 'the token went out over plain HTTP');
	}

	t.deepEqual(probes.loopback, {code: 0, output: `${blockedInternalText('127.0.0.1', 'it is a loopback address, which agents may never reach.')}403`});
	t.deepEqual(probes.localhost, {code: 0, output: '403'});
	t.deepEqual(probes['loopback-ipv6'], {code: 0, output: '403'});
	t.deepEqual(probes['loopback-connect'], {code: 0, output: blockedInternalText('127.0.0.1', 'it is a loopback address, which agents may never reach.').trimEnd()});
	t.regex(probes.metadata!.output, /^Moat: request blocked by network policy\.\nHost "169\.254\.169\.254" is refused: it is a link-local address \(cloud metadata lives there\)[^\n]*\n[^\n]*\n403$/);
	t.deepEqual(probes.private, {code: 0, output: '403'});
	if (ownNameIsInternal) {
		t.deepEqual(probes['resolves-to-loopback'], {code: 0, output: `${blockedInternalText(ownName, `it resolves to ${ownAddresses[0]!.address}, an internal address agents may never reach.`)}403`});
		t.deepEqual(probes['resolves-to-loopback-https'], {code: 0, output: `${blockedInternalText(ownName, `it resolves to ${ownAddresses[0]!.address}, an internal address agents may never reach.`)}200 403`});
	} else {
		t.log(`${ownName} does not resolve to loopback here: the name-resolving-to-loopback case is not exercised`);
	}

	t.deepEqual(world.plain.requests.map(request => request.headers.host), ['api.github.com'], 'the server on the host\'s loopback was never contacted for the agent');

	// Why the direct attempts fail: the container's only network is the run's own, internal, with no address on the host.
	const runId = await newestRunId(world);
	const [container] = JSON.parse(await docker('inspect', `moat-${runId}`)) as Array<{HostConfig: {NetworkMode: string}; NetworkSettings: {Networks: Record<string, unknown>}}>;
	t.is(container!.HostConfig.NetworkMode, `moat-run-${runId}`);
	t.deepEqual(Object.keys(container!.NetworkSettings.Networks), [`moat-run-${runId}`]);
	// The daemon takes the network down just after the run's token dies, without holding the run's end for it.
	await eventually(async () => docker('network', 'inspect', `moat-run-${runId}`).then(() => false, () => true));

	await eventually(async () => (await world.networkEntries(runId)).some(entry => entry.status === 400));
	const entries = await world.networkEntries(runId);
	t.like(entries.find(entry => entry.method === 'CONNECT' && entry.status === 400), {url: 'api.github.com:443', blocked: true});
	t.like(entries.find(entry => entry.url === 'http://api.github.com/plain'), {status: 200, grant: null, blocked: false});
	t.like(entries.find(entry => entry.url === 'http://169.254.169.254/latest/meta-data/'), {status: 403, blocked: true, error: 'internal address: link-local'});
	if (ownNameIsInternal) {
		// What curl saw is what network.jsonl says: its GET answered 403 by moat, nothing dialled.
		t.like(entries.find(entry => entry.url === `https://${ownName.toLowerCase()}:${canary}/canary`), {method: 'GET', status: 403, blocked: true, error: 'Moat: request blocked by network policy.'});
		const records = await world.auditRecords(runId);
		t.true(records.some(record => record.type === 'request.blocked' && record.data.host === ownName.toLowerCase() && record.data.reason === 'internal address'));
	}
});

// --- Proxy authentication ---

dockerTest('without a valid run token the proxy answers 407; the run\'s token works while it runs and gets 407 once the run has ended', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com'], plainRoutes: ['plain.test:80']});
	const child = spawnMoat(['run', world.workspace, '--', 'sh', '-c', 'printf "%s" "$HTTP_PROXY" > /workspace/proxy-url; while [ ! -e /workspace/stop ]; do sleep 0.2; done; echo ended'], {env: world.env});
	const done = collect(child);
	const {token} = parseProxyUrl(await waitForFile(path.join(world.workspace, 'proxy-url')));
	t.regex(token, /^[\da-f]{48}$/);
	// From the host, the proxy is reached where the gateway reaches it: the daemon's socket.
	const proxy = {socketPath: path.join(world.sandbox.moatHome, 'gateway', 'proxy.sock'), token};

	const anonymous = await viaProxy(proxy, 'http://plain.test/anonymous');
	t.is(anonymous.status, 407);
	t.is(anonymous.headers['proxy-authenticate'], 'Basic realm="moat"');
	t.is((await viaProxy(proxy, 'http://plain.test/wrong', `moat:${'0'.repeat(48)}`)).status, 407);
	t.is(await connectStatus(proxy, 'api.github.com:443'), 407);
	t.is(world.plain.requests.length, 0);

	const allowed = await viaProxy(proxy, 'http://plain.test/with-token', `moat:${proxy.token}`);
	t.is(allowed.status, 200);
	t.is(allowed.body, 'stand-in plain.test GET /with-token\n');
	t.is(await connectStatus(proxy, 'api.github.com:443', `moat:${proxy.token}`), 200);

	await fs.writeFile(path.join(world.workspace, 'stop'), '');
	const result = await done;
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'ended\n');

	const after = await viaProxy(proxy, 'http://plain.test/after', `moat:${proxy.token}`);
	t.is(after.status, 407, 'the token died with the run');
	t.is(await connectStatus(proxy, 'api.github.com:443', `moat:${proxy.token}`), 407);
	t.deepEqual(world.plain.requests.map(request => request.url), ['/with-token']);
});

// --- Daemon crash ---

dockerTest('after kill -9 of the daemon, moat proxy start brings the proxy back behind the same gateway address and a detached run\'s requests succeed again, with the credential', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const token = await world.grantGithub();
	const loop = `for i in $(seq 1 400); do [ -e /workspace/stop ] && break; curl -s -o /dev/null --max-time ${clientTimeoutSeconds} -w "%{http_code}\\n" https://api.github.com/x; sleep 0.25; done`;
	const started = await world.moat(['run', world.workspace, '-d', '--grant', 'github', '--', 'sh', '-c', loop]);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	await eventually(async () => world.standIn.requests.length >= 3);

	const pid = await daemonPid(world);
	process.kill(pid, 'SIGKILL');
	await eventually(async () => !alive(pid));
	const countAtKill = world.standIn.requests.length;
	// While it is down, the loop's requests fail (curl prints 000).
	await eventually(async () => (await world.moat(['logs', runId])).stdout.includes('000\n'));
	t.true(world.standIn.requests.length <= countAtKill + 1, 'nothing reached the stand-in while the daemon was down');
	const down = await world.moat(['proxy', 'status']);
	t.is(down.code, 1, 'a killed daemon is reported as not running');

	const restarted = await world.moat(['proxy', 'start']);
	t.is(restarted.code, 0, restarted.stderr);
	t.regex(restarted.stdout, /^Gateway {3}ready /m);
	t.true(restarted.stdout.includes(runId), 'the new daemon restored the run');
	t.not(await daemonPid(world), pid);

	const countAtRestart = world.standIn.requests.length;
	await eventually(async () => world.standIn.requests.length >= countAtRestart + 3);
	t.is(world.standIn.requests.at(-1)!.headers.authorization, `Bearer ${token}`, 'the new daemon injects the grant for the restored run');

	await fs.writeFile(path.join(world.workspace, 'stop'), '');
	await waitForRunToEnd(world, runId);
	const codes = (await world.moat(['logs', runId])).stdout.trim().split('\n');
	const firstFailure = codes.indexOf('000');
	const lastFailure = codes.lastIndexOf('000');
	t.true(firstFailure > 0, codes.join(' '));
	t.true(codes.slice(0, firstFailure).every(code => code === '200'), codes.join(' '));
	t.true(codes.slice(lastFailure + 1).length >= 3, codes.join(' '));
	t.true(codes.slice(lastFailure + 1).every(code => code === '200'), `after the restart every request succeeds: ${codes.join(' ')}`);
});

// --- Runs are isolated from each other ---

dockerTest('two concurrent runs: the one without the grant never carries the token, and it cannot reach the other container directly or through the proxy', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const token = await world.grantGithub();
	const second = await createWorkspace(1000, 1000);
	t.teardown(async () => {
		await fs.rm(second, {recursive: true, force: true});
	});

	// The first run serves HTTP on 8080 on its own address (perl is in every Debian image).
	const server = 'perl -MIO::Socket::INET -e \'$s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!"; open(F, ">/workspace/listening"); close F; while ($c = $s->accept) { while (<$c>) { last if /^\\r?\\n$/ } print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nfirst run\\n"; close $c }\'';
	const started = await world.moat(['run', world.workspace, '-d', '--grant', 'github', '--', 'sh', '-c', `curl -sS -o /workspace/api.txt "https://api.github.com/user?from=first"; ${server}`]);
	t.is(started.code, 0, started.stderr);
	const firstId = runIdOf(started);
	await waitForFile(path.join(world.workspace, 'listening'));
	const firstAddress = await docker('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', `moat-${firstId}`);
	t.regex(firstAddress, /^\d+\.\d+\.\d+\.\d+$/);
	// The server is there: the first container reaches it on that address itself.
	t.is(await docker('exec', `moat-${firstId}`, 'curl', '-sS', '--noproxy', '*', '--max-time', String(clientTimeoutSeconds), `http://${firstAddress}:8080/`), 'first run');

	const result = await world.moat(['run', second, '--', 'sh', '-c', probeScript([
		['api', 'curl -sS -H "X-From: second" "https://api.github.com/user?from=second"'],
		['gh-token', 'printf "%s" "${GH_TOKEN-unset}"'],
		// Must fail; failureTimeoutSeconds says why its bound is long.
		['direct', `curl -sS --noproxy "*" --max-time ${failureTimeoutSeconds} http://${firstAddress}:8080/`],
		['via-proxy', `curl -sS --noproxy "" -o /dev/null -w "%{http_code}" http://${firstAddress}:8080/`],
	])]);
	t.is(result.code, 0, result.stderr);
	const probes = parseProbes(result.stdout);
	t.deepEqual(probes.api, {code: 0, output: 'stand-in api.github.com GET /user?from=second'});
	t.deepEqual(probes['gh-token'], {code: 0, output: 'unset'}, 'no placeholder without the grant');
	t.not(probes.direct!.code, 0, `the second run reached the first directly: ${probes.direct!.output}`);
	t.deepEqual(probes['via-proxy'], {code: 0, output: '403'}, 'the proxy refuses the first run\'s private address');

	const first = world.standIn.requests.find(request => request.url === '/user?from=first');
	const fromSecond = world.standIn.requests.find(request => request.url === '/user?from=second');
	t.is(first?.headers.authorization, `Bearer ${token}`, 'the first run\'s grant was in use at the same time');
	t.is(fromSecond?.headers['x-from'], 'second');
	t.is(fromSecond?.headers.authorization, undefined);
	for (const form of leakForms(token)) {
		t.false(JSON.stringify(fromSecond).includes(form), 'the second run\'s request carried the token');
	}

	const secondId = await newestRunId(world);
	t.not(secondId, firstId);
	await eventually(async () => (await world.networkEntries(secondId)).length === 2);
	t.deepEqual((await world.networkEntries(secondId)).map(entry => [entry.url, entry.status, entry.grant]), [
		['https://api.github.com/user?from=second', 200, null],
		[`http://${firstAddress}:8080/`, 403, null],
	]);
	t.deepEqual((await world.networkEntries(firstId)).map(entry => [entry.url, entry.grant]), [['https://api.github.com/user?from=first', 'github']]);
});

dockerTest('moat destroy -f of a running run revokes its proxy token at once', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com'], plainRoutes: ['plain.test:80']});
	const started = await world.moat(['run', world.workspace, '-d', '--', 'sleep', '120']);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	const variables = await docker('inspect', '-f', '{{range .Config.Env}}{{println .}}{{end}}', `moat-${runId}`);
	const {token} = parseProxyUrl(/^HTTP_PROXY=(.+)$/m.exec(variables)![1]!);
	const proxy = {socketPath: path.join(world.sandbox.moatHome, 'gateway', 'proxy.sock'), token};
	t.is((await viaProxy(proxy, 'http://plain.test/before', `moat:${proxy.token}`)).status, 200);

	// The bottle's network: its own, internal, no address on the host, and the gateway its only peer.
	const [network] = JSON.parse(await docker('network', 'inspect', `moat-run-${runId}`)) as Array<{Internal: boolean; Options: Record<string, string>; Containers: Record<string, {Name: string}>}>;
	t.true(network!.Internal);
	t.is(network!.Options['com.docker.network.bridge.inhibit_ipv4'], 'true');
	t.deepEqual(Object.values(network!.Containers).map(peer => peer.Name.replace(/^moat-gateway-[\da-f]{10}$/, 'the gateway')).sort(), [`moat-${runId}`, 'the gateway'], 'the bottle\'s only peer is the gateway');

	const destroyed = await world.moat(['destroy', '-f', runId]);
	t.is(destroyed.code, 0, destroyed.stderr);
	t.is((await viaProxy(proxy, 'http://plain.test/after', `moat:${proxy.token}`)).status, 407, 'the destroyed run\'s token still works');
});

dockerTest('granting again or revoking a grant a running run uses is written to that run\'s audit log, and not to other runs\'', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	await world.grantGithub();
	const using = await world.moat(['run', world.workspace, '-d', '--grant', 'github', '--', 'sleep', '120']);
	t.is(using.code, 0, using.stderr);
	const other = await world.moat(['run', world.workspace, '-d', '--', 'sleep', '120']);
	t.is(other.code, 0, other.stderr);
	await world.grantGithub();
	const revoked = await world.moat(['revoke', 'github']);
	t.is(revoked.code, 0, revoked.stderr);
	const changes = (await world.auditRecords(runIdOf(using))).filter(record => record.type === 'grant.changed').map(record => record.data);
	t.deepEqual(changes, [{grant: 'github', action: 'granted'}, {grant: 'github', action: 'revoked'}]);
	t.deepEqual((await world.auditRecords(runIdOf(other))).filter(record => record.type === 'grant.changed'), []);
	const audited = await world.moat(['audit', runIdOf(using)]);
	t.is(audited.code, 0, audited.stdout);
	t.regex(audited.stdout, /^ {2}grant\.changed +2$/m);
});

// --- One run cannot starve the others ---

dockerTest('a bottle opening idle tunnels past its connection limit gets 429 with the reason, recorded sparingly in the audit log, while another run registers and gets through', async t => {
	const world = await createWorld(t, {hosts: ['api.allowed.test'], plainRoutes: ['api.allowed.test:80'], variables: {MOAT_RUN_CONNECTIONS: '20'}});
	// Thirty CONNECTs held open from one bottle through the gateway, each answered before the next check; then a plain request on a new connection.
	const script = [
		'p=${HTTP_PROXY#http://}; credentials=${p%@*}; address=${p#*@}; address=${address%/}',
		'authorization=$(printf %s "$credentials" | base64 | tr -d "\\n")',
		'for i in $(seq 1 30); do',
		'  exec {fd}<>"/dev/tcp/${address%:*}/${address#*:}"',
		'  printf "CONNECT api.allowed.test:443 HTTP/1.1\\r\\nHost: api.allowed.test:443\\r\\nProxy-Authorization: Basic %s\\r\\n\\r\\n" "$authorization" >&$fd',
		'  IFS= read -r line <&$fd; printf "%s\\n" "${line%$\'\\r\'}" >> /workspace/tunnels.txt',
		'  fds="$fds $fd"',
		'done',
		'curl -sS -w "%{http_code}" http://api.allowed.test/ > /workspace/over.txt 2>&1',
		'touch /workspace/ready',
		'while [ ! -e /workspace/stop ]; do sleep 0.2; done',
	].join('\n');
	const started = await world.moat(['run', world.workspace, '-d', '--', 'bash', '-c', script]);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	await waitForFile(path.join(world.workspace, 'ready'));

	const answers = (await fs.readFile(path.join(world.workspace, 'tunnels.txt'), 'utf8')).trim().split('\n');
	t.deepEqual(answers, [...Array.from({length: 20}, () => 'HTTP/1.1 200 Connection Established'), ...Array.from({length: 10}, () => 'HTTP/1.1 429 Too Many Requests')]);
	t.regex(await fs.readFile(path.join(world.workspace, 'over.txt'), 'utf8'), /^Moat: connection refused: this run already has 20 connections open through moat, its limit\.\nClose some[^]*429$/);

	// While the first run holds its twenty, another registers and gets through.
	const other = await createWorkspace(1000, 1000, {});
	t.teardown(async () => fs.rm(other, {recursive: true, force: true}));
	const second = await world.moat(['run', other, '--', 'curl', '-sS', 'https://api.allowed.test/second']);
	t.is(second.code, 0, second.stderr);
	t.is(second.stdout.trim(), 'stand-in api.allowed.test GET /second');

	// Eleven refusals (ten tunnels, one request): recorded at the 1st, 2nd, 4th and 8th.
	await eventually(async () => (await world.auditRecords(runId)).filter(record => record.type === 'request.blocked').length === 4);
	const blocked = (await world.auditRecords(runId)).filter(record => record.type === 'request.blocked').map(record => record.data.reason);
	t.deepEqual(blocked, [1, 2, 4, 8].map(count => `too many connections: the run has 20 open, its limit is 20 (${count} refused so far)`));
	const entries = (await world.networkEntries(runId)).filter(entry => entry.status === 429);
	t.is(entries.length, 4);
	t.true(entries.every(entry => entry.blocked));
	await fs.writeFile(path.join(world.workspace, 'stop'), '');
	await waitForRunToEnd(world, runId);
});
