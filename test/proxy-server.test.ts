import {execFile} from 'node:child_process';
import {X509Certificate} from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import type {Duplex} from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import tls from 'node:tls';
import {promisify} from 'node:util';
import {WebSocket, WebSocketServer} from 'ws';
import test, {type ExecutionContext} from 'ava';
import {openCertificateAuthority, type CertificateAuthority} from '../source/proxy/certificate-authority.js';
import {parseUpstreamOverrides} from '../source/network/upstream-overrides.js';
import {guardedLookup, startProxyServer, type NetworkEntry, type ProxyRun} from '../source/proxy/proxy-server.js';
import {parseAllowEntry} from '../source/proxy/network-policy.js';
import {clientTimeoutSeconds, until, waitDeadlineMilliseconds} from './helpers/deadline.js';
import {startHttpsStandIn, type HttpsStandIn, type StandInHandler} from './helpers/https-stand-in.js';
import type {ConnectionLimits} from '../source/proxy/connection-limits.js';

const execFileAsync = promisify(execFile);

/**
 * The proxy in this process, against local stand-ins, driven by the real
 * curl: TLS interception with moat's CA, injection, refusals and reports.
 * The containers' side (the sealed network) is in integration/proxy.test.ts.
 */

const realToken = 'ghp_inprocess0123456789abcdef';
// A ChatGPT login is a JWT whose claims name the account; its signature is what makes it a credential.
const chatgptSignature = 'chatgpt-signature-0123456789abcdef';
const chatgptToken = [{alg: 'RS256', typ: 'JWT'}, {exp: 2_000_000_000, 'https://api.openai.com/auth': {chatgpt_account_id: 'acct-1'}}]
	.map(part => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + `.${chatgptSignature}`;

type World = {
	/** Revokes the run's token, as the daemon does when the run ends. */
	revoke(): void;
	authority: CertificateAuthority;
	standIn: HttpsStandIn;
	port: number;
	entries: Array<{runId: string; entry: NetworkEntry}>;
	injected: string[];
	blocked: string[];
	scrubbed: string[];
	activities: string[];
	curl(...args: string[]): Promise<{code: number; stdout: string; stderr: string}>;
	directory: string;
};

type WorldOptions = {
	overrides?: (standIn: HttpsStandIn) => string; strict?: string[]; awsCredentials?: ProxyRun['awsCredentials']; standInHosts?: string[];
	handler?: StandInHandler; limits?: ConnectionLimits;
};

async function createWorld(t: ExecutionContext, options: WorldOptions = {}): Promise<World> {
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-proxy-'));
	const standIn = await startHttpsStandIn(options.standInHosts ?? ['api.github.com', 'github.com', 'api.allowed.test', 'chatgpt.com', 'auth.openai.com'], options.handler ?? ((request, response) => {
		response.end(`stand-in: ${request.method} ${request.url}\n`);
	}));
	const authority = await openCertificateAuthority(path.join(directory, 'proxy'));
	const entries: World['entries'] = [];
	const injected: string[] = [];
	const blocked: string[] = [];
	const scrubbed: string[] = [];
	const activities: string[] = [];
	const run: ProxyRun = {
		runId: 'run_000000000001',
		agent: null,
		policy: options.strict ? {mode: 'strict', allow: options.strict.map(entry => parseAllowEntry(entry)!)} : {mode: 'permissive', allow: []},
		grantKinds: [{provider: 'github', kind: 'api-key'}, {provider: 'openai', kind: 'chatgpt'}],
		grants: async () => [{name: 'github', provider: 'github', kind: 'api-key', token: realToken}, {name: 'openai', provider: 'openai', kind: 'chatgpt', token: chatgptToken}],
		...options.awsCredentials ? {awsCredentials: options.awsCredentials} : {},
	};
	let revoked = false;
	const proxy = await startProxyServer({
		listen: {host: '127.0.0.1', port: 0},
		authority,
		overrides: parseUpstreamOverrides(options.overrides?.(standIn) ?? ['api.github.com', 'github.com', 'api.allowed.test', 'chatgpt.com', 'auth.openai.com'].map(host => `${host}=127.0.0.1:${standIn.port}`).join(',')),
		extraTrust: [await fs.readFile(standIn.caFile, 'utf8')],
		...options.limits ? {limits: options.limits} : {},
		runForToken: token => (token === 'run-token' && !revoked ? run : undefined),
		observer: {
			activity(runId, state) {
				activities.push(`${runId}:${state}`);
			},
			request(runId, entry) {
				entries.push({runId, entry});
			},
			injected(_runId, grant, host) {
				injected.push(`${grant}@${host}`);
			},
			scrubbed(_runId, grants, host) {
				scrubbed.push(`${grants.join('+')}@${host}`);
			},
			blocked(_runId, host) {
				blocked.push(host);
			},
		},
	});
	t.teardown(async () => {
		await proxy.close();
		await standIn.close();
		await fs.rm(directory, {recursive: true, force: true});
	});
	return {
		revoke() {
			revoked = true;
		},
		authority, standIn, port: proxy.port, entries, injected, blocked, scrubbed, activities, directory,
		async curl(...args) {
			try {
				const {stdout, stderr} = await execFileAsync('curl', ['-sS', '-m', String(clientTimeoutSeconds), '--cacert', authority.certificateFile, ...args]);
				return {code: 0, stdout, stderr};
			} catch (error) {
				const failure = error as {code: number; stdout: string; stderr: string};
				return {code: failure.code, stdout: failure.stdout, stderr: failure.stderr};
			}
		},
	};
}

const via = (world: World, token = 'run-token') => ['--proxy', `http://moat:${token}@127.0.0.1:${world.port}`];

test('a github request through the proxy reaches the upstream with the real token in place of the client\'s', async t => {
	const world = await createWorld(t);
	const result = await world.curl(...via(world), '-H', 'Authorization: token placeholder', 'https://api.github.com/user');
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'stand-in: GET /user\n');
	t.is(world.standIn.requests.length, 1);
	t.is(world.standIn.requests[0]!.headers.authorization, `Bearer ${realToken}`);
	t.deepEqual(world.injected, ['github@api.github.com']);
	t.like(world.entries[0]!.entry, {method: 'GET', url: 'https://api.github.com/user', status: 200, grant: 'github', blocked: false, error: null});
	t.is(world.entries[0]!.entry.bytes_in, 'stand-in: GET /user\n'.length);
});

test('an upstream whose certificate does not name the host asked for gets no request and no credential, though a CA moat trusts signed it', async t => {
	const world = await createWorld(t, {standInHosts: ['impostor.test']});
	const result = await world.curl(...via(world), '-o', '/dev/null', '-w', '%{http_code}', 'https://api.github.com/user');
	t.is(result.stdout, '502');
	t.deepEqual(world.standIn.requests, [], 'nothing, credential or not, was sent to it');
	t.like(world.entries[0]!.entry, {url: 'https://api.github.com/user', status: 502});
});

test('upstream connections are kept alive: twenty requests on one client connection open one TLS connection upstream', async t => {
	const world = await createWorld(t);
	let handshakes = 0;
	world.standIn.server.on('secureConnection', () => {
		handshakes++;
	});
	const result = await world.curl(...via(world), '-o', '/dev/null', '-w', '%{http_code} ', 'https://api.github.com/x[1-20]');
	t.is(result.stdout, '200 '.repeat(20));
	t.is(world.standIn.requests.length, 20);
	t.is(handshakes, 1);
});

test('git over HTTPS to github.com gets Basic x-access-token', async t => {
	const world = await createWorld(t);
	await world.curl(...via(world), 'https://github.com/org/repo.git/info/refs?service=git-upload-pack');
	t.is(world.standIn.requests[0]!.headers.authorization, `Basic ${Buffer.from(`x-access-token:${realToken}`).toString('base64')}`);
});

test('request bodies are forwarded and counted', async t => {
	const world = await createWorld(t);
	const result = await world.curl(...via(world), '--data-binary', 'twelve bytes', 'https://api.github.com/repos');
	t.is(result.stdout, 'stand-in: POST /repos\n');
	t.like(world.entries[0]!.entry, {method: 'POST', bytes_out: 12});
});

test('the proxy presents a certificate for the host, signed by moat\'s CA, minted once, with the one leaf key every host shares', async t => {
	const world = await createWorld(t);
	const first = await world.authority.leafFor('api.github.com');
	const again = await world.authority.leafFor('API.GITHUB.COM');
	t.is(first, again);
	const certificate = new X509Certificate(first.cert);
	t.true(certificate.checkIssued(new X509Certificate(world.authority.certificatePem)));
	t.true(certificate.verify(new X509Certificate(world.authority.certificatePem).publicKey));
	t.is(certificate.checkHost('api.github.com'), 'api.github.com');
	t.is(certificate.checkHost('github.com'), undefined);
	// Minting is a signature, not a key generation: a new host gets the same
	// key (how fast that is, bench:proxy measures).
	const fresh = await world.authority.leafFor('never-seen-before.example');
	t.is(fresh.key, first.key);
	t.true(new X509Certificate(fresh.cert).publicKey.equals(certificate.publicKey));
	t.is(new X509Certificate(fresh.cert).checkHost('never-seen-before.example'), 'never-seen-before.example');
});

test('the CA is kept in MOAT_HOME with a private key only its owner can read, and reused', async t => {
	const world = await createWorld(t);
	const stat = await fs.stat(path.join(world.directory, 'proxy', 'ca-key.pem'));
	t.is(stat.mode & 0o777, 0o600);
	const reopened = await openCertificateAuthority(path.join(world.directory, 'proxy'));
	t.is(reopened.certificatePem, world.authority.certificatePem);
});

test('without a token, or with a wrong one, the proxy answers 407', async t => {
	const world = await createWorld(t);
	const none = await world.curl('--proxy', `http://127.0.0.1:${world.port}`, '-o', '/dev/null', '-w', '%{http_code}', 'http://example.com/');
	t.is(none.stdout, '407');
	const wrong = await world.curl(...via(world, 'not-the-token'), 'https://api.github.com/user');
	t.not(wrong.code, 0);
	t.regex(wrong.stderr, /407/);
	t.is(world.standIn.requests.length, 0);
});

test('strict mode blocks an unlisted host with the documented message and allows a listed wildcard host', async t => {
	const world = await createWorld(t, {strict: ['*.allowed.test']});
	const blocked = await world.curl(...via(world), 'http://blocked.test/');
	t.is(blocked.stdout, 'Moat: request blocked by network policy.\nHost "blocked.test" is not in the allow list.\nAdd it to network.allow in agent.yaml or use policy: permissive.\n');
	// Over HTTPS the refusal is answered inside the tunnel, with moat's certificate for the host: curl prints it.
	const tunnel = await world.curl(...via(world), '-w', '%{http_code}', 'https://blocked.test/page');
	t.is(tunnel.stdout, 'Moat: request blocked by network policy.\nHost "blocked.test" is not in the allow list.\nAdd it to network.allow in agent.yaml or use policy: permissive.\n403');
	const allowed = await world.curl(...via(world), 'https://api.allowed.test/ok');
	t.is(allowed.stdout, 'stand-in: GET /ok\n');
	t.deepEqual(world.blocked, ['blocked.test', 'blocked.test']);
	t.deepEqual(world.entries.map(({entry}) => [entry.method, entry.url, entry.status, entry.blocked]), [
		['GET', 'http://blocked.test/', 403, true],
		['GET', 'https://blocked.test/page', 403, true],
		['GET', 'https://api.allowed.test/ok', 200, false],
	]);
	t.deepEqual(world.standIn.requests.map(request => request.url), ['/ok']);
});

test('loopback and cloud metadata are refused even in permissive mode', async t => {
	const world = await createWorld(t);
	const metadata = await world.curl(...via(world), 'http://169.254.169.254/latest/meta-data/');
	t.regex(metadata.stdout, /^Moat: request blocked by network policy\.\nHost "169\.254\.169\.254" is refused: it is a link-local address/);
	const loopback = await world.curl(...via(world), `https://127.0.0.1:${world.standIn.port}/`);
	t.regex(loopback.stdout, /^Moat: request blocked by network policy\.\nHost "127\.0\.0\.1" is refused: it is a loopback address/);
	const mapped = await world.curl(...via(world), `http://[::ffff:127.0.0.1]:${world.standIn.port}/`);
	t.regex(mapped.stdout, /loopback/);
	const localhost = await world.curl(...via(world), 'http://localhost/');
	t.regex(localhost.stdout, /loopback/);
	t.is(world.standIn.requests.length, 0);
});

test('a name that resolves to loopback is refused at dial time, whatever DNS says later', async t => {
	// The gate refuses `localhost` by name; the dial-time check must catch it from DNS alone.
	const outcome = await new Promise<NodeJS.ErrnoException | null>(resolve => {
		guardedLookup('localhost', {}, error => {
			resolve(error);
		});
	});
	t.is(outcome?.code, 'EMOATBLOCKED');
	t.regex(outcome?.message ?? '', /resolves to (127\.0\.0\.1|::1), an internal address/);
});

test('a CONNECT whose Host header names another host is refused', async t => {
	const world = await createWorld(t);
	const result = await world.curl(...via(world), '--proxy-header', 'Host: other.test:443', 'https://api.github.com/user');
	t.regex(result.stderr, /400/);
	t.is(world.standIn.requests.length, 0);
});

test('a TLS server name that differs from the CONNECT host ends the handshake', async t => {
	const world = await createWorld(t);
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	socket.write(`CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com:443\r\nProxy-Authorization: Bearer run-token\r\n\r\n`);
	const reply = await new Promise<string>(resolve => socket.once('data', data => resolve(String(data))));
	t.regex(reply, /^HTTP\/1\.1 200/);
	const secure = tls.connect({socket, servername: 'evil.test', ca: world.authority.certificatePem});
	const outcome = await new Promise<string>(resolve => {
		secure.once('secureConnect', () => resolve('connected'));
		secure.once('error', (error: Error) => resolve(error.message));
	});
	secure.destroy();
	t.not(outcome, 'connected');
	t.deepEqual(world.blocked, ['evil.test']);
});

test('a Host header inside the tunnel that names another host is refused with 421', async t => {
	const world = await createWorld(t);
	const result = await world.curl(...via(world), '-H', 'Host: other.test', '-o', '/dev/null', '-w', '%{http_code}', 'https://api.github.com/user');
	t.is(result.stdout, '421');
	t.is(world.standIn.requests.length, 0);
});

test('plain HTTP to an injected host carries no credential', async t => {
	const received: string[] = [];
	const plain = net.createServer(socket => {
		socket.once('data', data => {
			received.push(String(data));
			socket.end('HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n');
		});
	});
	await new Promise<void>(resolve => {
		plain.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(() => plain.close());
	const port = (plain.address() as net.AddressInfo).port;
	const world = await createWorld(t, {overrides: standIn => `api.github.com:80=127.0.0.1:${port},api.github.com=127.0.0.1:${standIn.port}`});
	const result = await world.curl(...via(world), 'http://api.github.com/user');
	t.is(result.stdout, 'ok\n');
	t.is(received.length, 1);
	t.false(received[0]!.includes(realToken));
	t.false(received[0]!.toLowerCase().includes('authorization'));
	t.deepEqual(world.injected, []);
});

test('a non-TLS CONNECT (ssh to port 22) is tunnelled to the overridden address and reported', async t => {
	const echo = net.createServer(socket => {
		socket.write('SSH-2.0-standin\r\n');
		socket.pipe(socket);
	});
	await new Promise<void>(resolve => {
		echo.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(() => echo.close());
	const echoPort = (echo.address() as net.AddressInfo).port;
	const world = await createWorld(t, {overrides: standIn => `github.com:22=127.0.0.1:${echoPort},api.github.com=127.0.0.1:${standIn.port}`});
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	socket.write('CONNECT github.com:22 HTTP/1.1\r\nHost: github.com:22\r\nProxy-Authorization: Bearer run-token\r\n\r\n');
	let received = '';
	socket.on('data', data => {
		received += String(data);
	});
	const closed = new Promise(resolve => socket.once('close', resolve));
	// The server speaks first; the client answers once it has heard it.
	await until(() => received.includes('SSH-2.0-standin\r\n'), 'the server\'s banner through the tunnel');
	socket.write('SSH-2.0-client\r\n');
	await until(() => received.includes('SSH-2.0-client\r\n'), 'the client\'s line echoed back');
	socket.end();
	await closed;
	await until(() => world.entries.some(({entry}) => entry.method === 'CONNECT' && entry.url === 'github.com:22'), 'the tunnel\'s network entry');
	t.regex(received, /^HTTP\/1\.1 200 Connection Established\r\n\r\nSSH-2\.0-standin\r\nSSH-2\.0-client\r\n$/);
	t.like(world.entries.at(-1)!.entry, {method: 'CONNECT', url: 'github.com:22', status: 200, grant: null, blocked: false});
	t.true(world.entries.at(-1)!.entry.bytes_out > 0);
});

/** Opens a CONNECT tunnel and TLS inside it; resolves with the TLS socket. */
async function openTunnel(world: World, host: string): Promise<tls.TLSSocket> {
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	socket.write(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\nProxy-Authorization: Bearer run-token\r\n\r\n`);
	const reply = await new Promise<string>(resolve => socket.once('data', data => resolve(String(data))));
	if (!reply.startsWith('HTTP/1.1 200')) {
		throw new Error(`CONNECT refused: ${reply}`);
	}

	const secure = tls.connect({socket, servername: host, ca: world.authority.certificatePem});
	await new Promise((resolve, reject) => {
		secure.once('secureConnect', resolve);
		secure.once('error', reject);
	});
	return secure;
}

/**
 * Sends raw HTTP on a socket and collects what comes back until it matches
 * `expected` or the socket closes ('close': only until it closes). After the
 * deadline it returns what it has, for the test's assertion to show.
 */
async function exchange(socket: Duplex, text: string, expected: RegExp | 'close'): Promise<string> {
	let received = '';
	await new Promise<void>(resolve => {
		const timer = setTimeout(resolve, waitDeadlineMilliseconds);
		const done = () => {
			clearTimeout(timer);
			socket.off('data', onData);
			resolve();
		};

		const onData = (data: Buffer) => {
			received += String(data);
			if (expected !== 'close' && expected.test(received)) {
				done();
			}
		};

		socket.on('data', onData);
		socket.once('close', done);
		socket.write(text);
	});
	return received;
}

async function stillServes(t: ExecutionContext, world: World) {
	const result = await world.curl(...via(world), 'https://api.github.com/alive');
	t.is(result.stdout, 'stand-in: GET /alive\n', 'the proxy still serves after the malformed request');
}

test('an IPv6 zone id in a CONNECT target or a Host header is refused, and the proxy lives on', async t => {
	const world = await createWorld(t);
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	t.regex(await exchange(socket, 'CONNECT [fe80::1%1]:443 HTTP/1.1\r\nHost: [fe80::1%1]:443\r\nProxy-Authorization: Bearer run-token\r\n\r\n', /^HTTP\/1\.1 400/), /^HTTP\/1\.1 400/);
	const plain = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => plain.once('connect', resolve));
	t.regex(await exchange(plain, 'GET http://example.com/ HTTP/1.1\r\nHost: fe80::1%1\r\nProxy-Authorization: Bearer run-token\r\n\r\n', /^HTTP\/1\.1 400/), /^HTTP\/1\.1 400/);
	const tunnel = await openTunnel(world, 'api.github.com');
	t.regex(await exchange(tunnel, 'GET / HTTP/1.1\r\nHost: fe80::1%1\r\n\r\n', /^HTTP\/1\.1 4\d\d/), /^HTTP\/1\.1 4\d\d/);
	await stillServes(t, world);
});

test('WebSocket upgrades inside a tunnel with an absolute URL or no Host are refused, and the proxy lives on', async t => {
	const world = await createWorld(t);
	const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
	const absolute = await openTunnel(world, 'api.github.com');
	t.regex(await exchange(absolute, `GET foo://example.com/ HTTP/1.1\r\nHost: api.github.com\r\n${upgrade}`, /^HTTP\/1\.1 421/), /^HTTP\/1\.1 421/);
	const hostless = await openTunnel(world, 'api.github.com');
	t.regex(await exchange(hostless, `GET / HTTP/1.1\r\n${upgrade}`, /^HTTP\/1\.1 421/), /^HTTP\/1\.1 421/);
	t.is(world.standIn.requests.length, 0);
	await stillServes(t, world);
});

test('inside a tunnel, an absolute URL naming another host is refused; one naming the tunnel\'s host becomes its path', async t => {
	const world = await createWorld(t);
	const other = await openTunnel(world, 'api.github.com');
	t.regex(await exchange(other, 'GET https://evil.example/x HTTP/1.1\r\nHost: api.github.com\r\n\r\n', /^HTTP\/1\.1 421/), /^HTTP\/1\.1 421/);
	t.is(world.standIn.requests.length, 0);
	const same = await openTunnel(world, 'api.github.com');
	t.regex(await exchange(same, 'GET https://api.github.com/own?x=1 HTTP/1.1\r\nHost: api.github.com\r\n\r\n', /stand-in: GET \/own\?x=1/), /stand-in: GET \/own\?x=1/);
	t.is(world.standIn.requests[0]!.url, '/own?x=1');
});

test.serial('with NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment, an upstream with an untrusted certificate still gets no credential', async t => {
	const untrusted = await startHttpsStandIn(['api.github.com'], (_request, response) => {
		response.end('untrusted\n');
	});
	t.teardown(async () => untrusted.close());
	const world = await createWorld(t, {overrides: () => `api.github.com=127.0.0.1:${untrusted.port}`});
	const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
	process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
	t.teardown(() => {
		if (previous === undefined) {
			delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
		} else {
			process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
		}
	});
	const result = await world.curl(...via(world), '-o', '/dev/null', '-w', '%{http_code}', 'https://api.github.com/user');
	t.is(result.stdout, '502');
	t.deepEqual(untrusted.requests, []);
	t.regex(world.entries[0]!.entry.error ?? '', /certificate/);
});

test('an address of this machine\'s own interfaces is refused, public or not', async t => {
	const world = await createWorld(t);
	const own = Object.values(os.networkInterfaces()).flatMap(entries => entries ?? []).find(entry => !entry.internal && entry.family === 'IPv4');
	if (!own) {
		t.fail('this machine has no non-loopback IPv4 interface to test with');
		return;
	}

	const result = await world.curl(...via(world), '-o', '/dev/null', '-w', '%{http_code}', `http://${own.address}:9/`);
	t.is(result.stdout, '403');
	t.like(world.entries[0]!.entry, {blocked: true});
});

test('revoking a run\'s token ends its open tunnels: the next request on a kept-alive connection gets 407', async t => {
	const world = await createWorld(t);
	const tunnel = await openTunnel(world, 'api.github.com');
	t.regex(await exchange(tunnel, 'GET /first HTTP/1.1\r\nHost: api.github.com\r\n\r\n', /stand-in: GET \/first/), /stand-in: GET \/first/);
	world.revoke();
	const after = await exchange(tunnel, 'GET /second HTTP/1.1\r\nHost: api.github.com\r\n\r\n', /^HTTP\/1\.1 407/);
	t.regex(after, /^HTTP\/1\.1 407/);
	t.deepEqual(world.standIn.requests.map(request => request.url), ['/first']);
});

test('TRACE to a host that gets credentials is refused, so the token is never echoed back', async t => {
	const world = await createWorld(t);
	const result = await world.curl(...via(world), '-X', 'TRACE', '-w', '%{http_code}', 'https://api.github.com/');
	t.regex(result.stdout, /405$/);
	t.deepEqual(world.standIn.requests, []);
});

test('a tunnel to a server that speaks first (no client bytes) is passed through after a pause', async t => {
	const banner = net.createServer(socket => {
		socket.end('220 smtp.example ESMTP ready\r\n');
	});
	await new Promise<void>(resolve => {
		banner.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(() => banner.close());
	const bannerPort = (banner.address() as net.AddressInfo).port;
	const world = await createWorld(t, {overrides: standIn => `smtp.example:25=127.0.0.1:${bannerPort},api.github.com=127.0.0.1:${standIn.port}`});
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	const received = await exchange(socket, 'CONNECT smtp.example:25 HTTP/1.1\r\nHost: smtp.example:25\r\nProxy-Authorization: Bearer run-token\r\n\r\n', /ESMTP ready\r\n$/);
	t.is(received, 'HTTP/1.1 200 Connection Established\r\n\r\n220 smtp.example ESMTP ready\r\n');
});

test('a WebSocket upgrade inside an intercepted tunnel reaches the upstream with the injected credential, and messages flow both ways', async t => {
	const world = await createWorld(t);
	const seen: Array<string | undefined> = [];
	const upstreamSockets = new WebSocketServer({server: world.standIn.server});
	t.teardown(() => upstreamSockets.close());
	upstreamSockets.on('connection', (socket, request) => {
		seen.push(request.headers.authorization);
		socket.on('message', data => {
			socket.send(`echo: ${String(data as Buffer)}`);
		});
	});
	const tunnel = await openTunnel(world, 'chatgpt.com');
	const client = new WebSocket('wss://chatgpt.com/backend-api/codex/responses', {
		createConnection: () => tunnel,
		headers: {authorization: 'Bearer placeholder'},
	});
	const reply = await new Promise<string>((resolve, reject) => {
		client.once('open', () => client.send('hello'));
		client.once('message', data => resolve(String(data as Buffer)));
		client.once('error', reject);
	});
	client.close();
	t.is(reply, 'echo: hello');
	t.deepEqual(seen, [`Bearer ${chatgptToken}`]);
	t.deepEqual(world.injected, ['openai@chatgpt.com']);
	t.like(world.entries.at(-1)!.entry, {url: 'https://chatgpt.com/backend-api/codex/responses', status: 101, grant: 'openai'});
});

test('an agent hook posting its activity to moat.hooks is answered by the proxy, never forwarded, and needs the run token', async t => {
	const world = await createWorld(t);
	const waiting = await world.curl(...via(world), '-X', 'POST', '--data', 'waiting', '-o', '/dev/null', '-w', '%{http_code}', 'http://moat.hooks/activity');
	t.is(waiting.stdout, '204');
	const wrong = await world.curl(...via(world), '-X', 'POST', '--data', 'sleeping', '-o', '/dev/null', '-w', '%{http_code}', 'http://moat.hooks/activity');
	t.is(wrong.stdout, '400');
	const anonymous = await world.curl('--proxy', `http://127.0.0.1:${world.port}`, '-X', 'POST', '--data', 'working', '-o', '/dev/null', '-w', '%{http_code}', 'http://moat.hooks/activity');
	t.is(anonymous.stdout, '407');
	t.deepEqual(world.activities, ['run_000000000001:waiting']);
	t.deepEqual(world.entries, [], 'hooks are not requests to the outside');
});

const awsSession = {Version: 1, AccessKeyId: 'ASIATEMP1', SecretAccessKey: 'temporary-secret', SessionToken: 'session-token', Expiration: '2030-01-01T01:00:00Z'} as const;

test('a run with an aws grant gets its session from moat.hooks/aws/credentials, answered by the proxy even in strict mode, and logged without values', async t => {
	const world = await createWorld(t, {strict: [], awsCredentials: async () => awsSession});
	const result = await world.curl(...via(world), 'http://moat.hooks/aws/credentials');
	t.is(result.code, 0, result.stderr);
	t.deepEqual(JSON.parse(result.stdout), awsSession);
	t.like(world.entries[0]!.entry, {method: 'GET', url: 'http://moat.hooks/aws/credentials', status: 200, grant: 'aws', blocked: false, error: null});
	t.false(JSON.stringify(world.entries).includes('temporary-secret'));
	const posted = await world.curl(...via(world), '-X', 'POST', '-o', '/dev/null', '-w', '%{http_code}', 'http://moat.hooks/aws/credentials');
	t.is(posted.stdout, '405');
	const anonymous = await world.curl('--proxy', `http://127.0.0.1:${world.port}`, '-o', '/dev/null', '-w', '%{http_code}', 'http://moat.hooks/aws/credentials');
	t.is(anonymous.stdout, '407');
	t.is(world.standIn.requests.length, 0);
});

test('a run without an aws grant is refused AWS credentials with 403 and the fix', async t => {
	const world = await createWorld(t);
	const result = await world.curl(...via(world), '-w', '\n%{http_code}', 'http://moat.hooks/aws/credentials');
	t.is(result.stdout, 'Moat: this run has no aws grant, so it gets no AWS credentials.\nStore one with moat grant aws --role ARN, then start the run with --grant aws.\n\n403');
	t.deepEqual(world.blocked, ['moat.hooks']);
	t.like(world.entries[0]!.entry, {status: 403, grant: null, blocked: true, error: 'no aws grant'});
});

test('STS failing for the run is a 502 with the reason', async t => {
	const world = await createWorld(t, {
		async awsCredentials() {
			throw new Error('AWS refused to let the host\'s credentials assume arn:aws:iam::123456789012:role/agent: not authorized.');
		},
	});
	const result = await world.curl(...via(world), '-w', '\n%{http_code}', 'http://moat.hooks/aws/credentials');
	t.is(result.stdout, 'Moat: no AWS credentials for this run: AWS refused to let the host\'s credentials assume arn:aws:iam::123456789012:role/agent: not authorized.\n\n502');
});

test('a ChatGPT login\'s token refresh to auth.openai.com is answered by the proxy with placeholders and never forwarded; other auth requests are refused', async t => {
	const world = await createWorld(t);
	const refresh = await world.curl(...via(world), '-X', 'POST', '-H', 'content-type: application/json', '--data', '{"grant_type":"refresh_token","refresh_token":"moat-placeholder-refresh-token"}', 'https://auth.openai.com/oauth/token');
	t.is(refresh.code, 0, refresh.stderr);
	const tokens = JSON.parse(refresh.stdout) as {id_token: string; access_token: string; refresh_token: string};
	t.is(tokens.refresh_token, 'moat-placeholder-refresh-token');
	t.false(refresh.stdout.includes(chatgptSignature), 'the real signature is not handed out');
	const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
	t.deepEqual(claims['https://api.openai.com/auth'], {chatgpt_account_id: 'acct-1'}, 'the placeholder carries the account\'s claims');
	const login = await world.curl(...via(world), '-o', '/dev/null', '-w', '%{http_code}', 'https://auth.openai.com/oauth/authorize?client_id=x');
	t.is(login.stdout, '403');
	t.deepEqual(world.standIn.requests, [], 'nothing reached auth.openai.com');
	t.like(world.entries.map(({entry}) => entry), [
		{method: 'POST', url: 'https://auth.openai.com/oauth/token', status: 200, grant: 'openai', blocked: false},
		{method: 'GET', url: 'https://auth.openai.com/oauth/authorize?client_id=x', status: 403, grant: null, blocked: true},
	]);
});

test('a ChatGPT login\'s token goes only to Codex\'s backend paths on chatgpt.com, not to the rest of the account', async t => {
	const world = await createWorld(t);
	const codex = await world.curl(...via(world), 'https://chatgpt.com/backend-api/codex/models');
	t.is(codex.code, 0, codex.stderr);
	const account = await world.curl(...via(world), '-H', 'Authorization: Bearer placeholder', 'https://chatgpt.com/backend-api/conversations');
	t.is(account.code, 0, account.stderr);
	t.is(world.standIn.requests.length, 2);
	t.is(world.standIn.requests[0]!.headers.authorization, `Bearer ${chatgptToken}`);
	t.is(world.standIn.requests[1]!.headers.authorization, 'Bearer placeholder', 'the agent\'s own (placeholder) header goes as it was: no real token');
});

test('a tunnel to port 443 of a host that gets credentials must be TLS: a raw one is closed, not passed through', async t => {
	const world = await createWorld(t);
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	const reply = await exchange(socket, 'CONNECT api.github.com:443 HTTP/1.1\r\nHost: api.github.com:443\r\nProxy-Authorization: Bearer run-token\r\n\r\nGET /user HTTP/1.1\r\nHost: api.github.com\r\n\r\n', 'close');
	t.regex(reply, /^HTTP\/1\.1 200/);
	t.false(reply.includes('stand-in'), 'nothing came back from the upstream');
	t.is(world.standIn.requests.length, 0);
	t.true(world.blocked.includes('api.github.com'));
});

test('a CONNECT to a wildcard name is refused: a pattern is not a host', async t => {
	const world = await createWorld(t);
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	const reply = await exchange(socket, 'CONNECT *.com:443 HTTP/1.1\r\nHost: *.com:443\r\nProxy-Authorization: Bearer run-token\r\n\r\n', /^HTTP\/1\.1 400/);
	t.regex(reply, /^HTTP\/1\.1 400/);
});

test('a name that resolves to this machine is refused before the tunnel is answered: curl reads moat\'s reason over HTTPS, network.jsonl agrees, nothing is dialled', async t => {
	// The machine's own name resolves to loopback or one of its addresses: only DNS makes it internal, the gate cannot tell by the name.
	const name = os.hostname().toLowerCase();
	const world = await createWorld(t);
	const result = await world.curl(...via(world), '-w', '\n%{http_code}', `https://${name}/secret`);
	t.regex(result.stdout, new RegExp(`^Moat: request blocked by network policy\\.\\nHost "${name.replaceAll('.', '\\.')}" is refused: it resolves to \\S+, an internal address agents may never reach\\.\\n[^]*\\n403$`));
	t.deepEqual(world.entries.map(({entry}) => [entry.method, entry.url, entry.status, entry.blocked]), [['GET', `https://${name}/secret`, 403, true]]);
	t.deepEqual(world.blocked, [name]);
	t.is(world.standIn.requests.length, 0);
});

test('a refused tunnel whose client does not speak TLS gets the reason as plain HTTP; one that sends nothing is reported as the CONNECT it was', async t => {
	const world = await createWorld(t, {strict: []});
	const socket = net.connect(world.port, '127.0.0.1');
	await new Promise(resolve => socket.once('connect', resolve));
	const reply = await exchange(socket, 'CONNECT blocked.test:80 HTTP/1.1\r\nHost: blocked.test:80\r\nProxy-Authorization: Bearer run-token\r\n\r\nGET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n', 'close');
	t.regex(reply, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 403 Forbidden\r\n[^]*\r\n\r\nMoat: request blocked by network policy\.\nHost "blocked\.test" is not in the allow list\./);
	await until(() => world.entries.length === 1, 'the refused tunnel\'s network entry');
	t.like(world.entries[0]!.entry, {method: 'CONNECT', url: 'blocked.test:80', status: 403, blocked: true});
});

// --- Credentials an upstream sends back ---

/**
 * An upstream that echoes the Authorization it got in a header, in
 * WWW-Authenticate and in the body: whole, split into a few bytes per write,
 * or compressed (then split) as the query asks.
 */
const echoingHandler: StandInHandler = (request, response) => {
	const url = new URL(request.url ?? '/', 'https://x');
	const authorization = request.headers.authorization ?? '';
	const body = Buffer.from(`{"you sent":"${authorization}","again":"${authorization}"}\n`);
	const encoding = url.searchParams.get('encoding');
	const encoded = encoding === 'gzip' ? zlib.gzipSync(body) : encoding === 'br' ? zlib.brotliCompressSync(body) : encoding === 'deflate' ? zlib.deflateSync(body) : body;
	response.writeHead(401, {
		'x-echo': authorization,
		'www-authenticate': `Bearer realm="echo", error="${authorization}"`,
		...encoding ? {'content-encoding': encoding} : {},
		...url.searchParams.has('split') ? {} : {'content-length': String(encoded.length)},
	});
	if (!url.searchParams.has('split')) {
		response.end(encoded);
		return;
	}

	// Awkward offsets: each write a few bytes, so a token straddles writes (and TLS records) everywhere.
	const step = Number(url.searchParams.get('split'));
	let offset = 0;
	const next = () => {
		if (offset >= encoded.length) {
			response.end();
			return;
		}

		response.write(encoded.subarray(offset, offset + step));
		offset += step;
		setImmediate(next);
	};

	next();
};

test('an upstream echoing the injected credential (body, headers, WWW-Authenticate; split, gzip, br, deflate) hands the agent asterisks, and it is reported', async t => {
	const world = await createWorld(t, {handler: echoingHandler});
	const bearer = `Bearer ${realToken}`;
	const basic = `Basic ${Buffer.from(`x-access-token:${realToken}`).toString('base64')}`;
	const cases = [
		{url: 'https://api.github.com/user', sent: bearer},
		{url: 'https://api.github.com/user?split=3', sent: bearer},
		{url: 'https://api.github.com/user?split=7&encoding=gzip', sent: bearer},
		{url: 'https://github.com/org/repo.git/info/refs?encoding=br', sent: basic},
		{url: 'https://github.com/org/repo.git/info/refs?split=5&encoding=deflate', sent: basic},
		{url: 'https://github.com/org/repo.git/info/refs?split=1', sent: basic},
	];
	for (const {url, sent} of cases) {
		const result = await world.curl(...via(world), '-D', '-', url);
		t.is(result.code, 0, result.stderr);
		const masked = '*'.repeat(sent.length);
		t.true(result.stdout.includes(`{"you sent":"${masked}","again":"${masked}"}\n`), `${url}: ${result.stdout}`);
		t.regex(result.stdout, new RegExp(`^x-echo: \\*{${sent.length}}\\r$`, 'm'), url);
		t.regex(result.stdout, new RegExp(`^www-authenticate: Bearer realm="echo", error="\\*{${sent.length}}"\\r$`, 'm'), url);
		t.false(result.stdout.includes(realToken), url);
		t.false(result.stdout.includes(Buffer.from(`x-access-token:${realToken}`).toString('base64')), url);
		t.false(/content-encoding/i.test(result.stdout), `${url}: decoded, sent as it is`);
	}

	// The upstream did get the credential: the scrubbing is what kept it from the agent.
	t.deepEqual(world.standIn.requests.map(request => request.headers.authorization), cases.map(({sent}) => sent));
	t.deepEqual(world.scrubbed, cases.map(({url}) => `github@${new URL(url).hostname}`));
	t.true(world.entries.every(({entry}) => entry.error === 'the answer carried the github credential back; moat replaced it'));
});

test('an upstream answering a credentialed request in an encoding moat cannot read gets 502 and the body is not delivered', async t => {
	const world = await createWorld(t, {handler(_request, response) {
		response.writeHead(200, {'content-encoding': 'compress'});
		response.end(`raw ${realToken}`);
	}});
	const result = await world.curl(...via(world), '-w', '\n%{http_code}', 'https://api.github.com/user');
	t.regex(result.stdout, /^Moat: api\.github\.com answered in an encoding moat cannot read \(Content-Encoding: compress\)[^]*\n502$/);
	t.false(result.stdout.includes(realToken));
});

test('a host with no credential is not searched: its answer passes as it came', async t => {
	const world = await createWorld(t, {handler(_request, response) {
		response.writeHead(200, {'content-encoding': 'compress', 'x-echo': realToken});
		response.end('as is');
	}});
	const result = await world.curl(...via(world), '-D', '-', 'https://api.allowed.test/');
	t.regex(result.stdout, /^content-encoding: compress\r$/m);
	t.deepEqual(world.scrubbed, []);
});

// --- Ports ---

test('a credential goes only to its provider\'s declared port: api.github.com:9443 gets the request without it', async t => {
	const world = await createWorld(t);
	const result = await world.curl(...via(world), 'https://api.github.com:9443/user');
	t.is(result.stdout, 'stand-in: GET /user\n');
	t.is(world.standIn.requests[0]!.headers.authorization, undefined);
	t.deepEqual(world.injected, []);
	const declared = await world.curl(...via(world), 'https://api.github.com/user');
	t.is(declared.stdout, 'stand-in: GET /user\n');
	t.is(world.standIn.requests[1]!.headers.authorization, `Bearer ${realToken}`);
});

// --- Connection limits ---

test('a run over its connection limit is answered 429 with the reason, refusals are recorded sparingly, and a closed tunnel makes room', async t => {
	const world = await createWorld(t, {limits: {perRun: 3, total: 100}});
	const tunnels = await Promise.all([1, 2, 3].map(async () => openTunnel(world, 'api.allowed.test')));
	const refusals: string[] = [];
	for (let attempt = 0; attempt < 5; attempt++) {
		const socket = net.connect(world.port, '127.0.0.1');
		await new Promise(resolve => socket.once('connect', resolve));
		refusals.push(await exchange(socket, 'CONNECT api.allowed.test:443 HTTP/1.1\r\nHost: api.allowed.test:443\r\nProxy-Authorization: Bearer run-token\r\n\r\n', 'close'));
	}

	for (const refusal of refusals) {
		t.regex(refusal, /^HTTP\/1\.1 429 Too Many Requests\r\n[^]*\r\n\r\nMoat: connection refused: this run already has 3 connections open through moat, its limit\.\nClose some/);
	}

	// The 1st, 2nd and 4th of five refusals are written down, each with its count.
	t.deepEqual(world.entries.map(({entry}) => [entry.method, entry.status, entry.blocked, entry.error]), [1, 2, 4].map(count => ['CONNECT', 429, true, `too many connections: the run has 3 open, its limit is 3 (${count} refused so far)`]));
	t.is(world.blocked.length, 3);

	const plain = await world.curl(...via(world), '-w', '\n%{http_code}', 'http://api.allowed.test/');
	t.regex(plain.stdout, /^Moat: connection refused: this run already has 3 connections open[^]*\n429$/);

	tunnels[0]!.destroy();
	// The proxy hears of the close on its own time: ask until it has.
	let again: tls.TLSSocket | undefined;
	await until(async () => {
		again = await openTunnel(world, 'api.allowed.test').catch(() => undefined);
		return again !== undefined;
	}, 'a tunnel after one closed');
	t.regex(await exchange(again!, 'GET /room HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n', /stand-in: GET \/room/), /stand-in: GET \/room/);
	for (const tunnel of [...tunnels, again!]) {
		tunnel.destroy();
	}
});
