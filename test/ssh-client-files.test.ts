import {spawn} from 'node:child_process';
import net from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {blockedResponseText} from '../source/proxy/network-policy.js';
import {fingerprintOf} from '../source/sshagent/agent-client.js';
import {blobFromText, publicKeyFromBlob} from '../source/sshagent/agent-protocol.js';
import {parseKeyscan} from '../source/sshagent/host-key-scan.js';
import {sshRuleOf} from '../source/sshagent/run-ssh.js';
import {containerAgentSocket, knownHostsName, knownHostsText, pinnedHostKeys, sshClientConfig, sshProxyScript} from '../source/sshagent/ssh-client-files.js';
import type {Grant} from '../source/credentials/grant.js';
import {waitDeadlineMilliseconds} from './helpers/deadline.js';

// The files the bottle's ssh reads besides the agent socket.

/** The forges' published SHA-256 fingerprints (GitHub, GitLab and Bitbucket documentation). */
const publishedFingerprints: Record<string, Record<string, string>> = {
	'github.com': {
		'ssh-ed25519': 'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU',
		'ecdsa-sha2-nistp256': 'SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM',
		'ssh-rsa': 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
	},
	'gitlab.com': {'ssh-ed25519': 'SHA256:eUXGGm1YGsMAS7vkcx6JOJdOGHPem5gQp4taiCfCLB8'},
	'bitbucket.org': {'ssh-ed25519': 'SHA256:ybgmFkzwOSotHTHLJgHO0QN8L0xErw6vd0VhFA9m3SM'},
};

test('the pinned host keys are exactly the forges\' published keys, by SHA-256 fingerprint', t => {
	t.deepEqual(Object.keys(pinnedHostKeys).sort(), Object.keys(publishedFingerprints).sort());
	for (const [host, keys] of Object.entries(pinnedHostKeys)) {
		const fingerprints = Object.fromEntries(keys.map(text => {
			const blob = blobFromText(text);
			t.truthy(blob, `${host}: ${text.slice(0, 30)}… is a readable key`);
			return [text.split(' ')[0]!, fingerprintOf(blob!)];
		}));
		t.deepEqual(fingerprints, publishedFingerprints[host], host);
	}
});

test('every pinned host key is one the agent can check a session-bind signature with', t => {
	for (const [host, keys] of Object.entries(pinnedHostKeys)) {
		for (const text of keys) {
			t.notThrows(() => publicKeyFromBlob(blobFromText(text)!), `${host} ${text.split(' ')[0]!}`);
		}
	}
});

function sshGrant(host: string, publicKey: string, hostKeys?: string): Grant {
	return {
		provider: 'ssh', name: `ssh:${host}`, source: 'SSH agent key test', login: null, scopes: [], expiresAt: null, createdAt: '2024-01-01T00:00:00.000Z',
		details: {host, fingerprint: fingerprintOf(blobFromText(publicKey)!), ...hostKeys === undefined ? {} : {hostKeys}},
		secret: {publicKey},
	};
}

const userKey = pinnedHostKeys['gitlab.com']![0]!;
const recordedKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIazEu89wgQZ4bqs3d63QSMzYVa0MuJ2e2gKTKqu+UUO';

test('sshRuleOf: a forge\'s grant trusts its pinned keys, never host keys recorded in the grant', t => {
	const rule = sshRuleOf(sshGrant('github.com', `${userKey} me@laptop`, recordedKey));
	t.deepEqual(rule?.hostKeyTexts, pinnedHostKeys['github.com']);
	t.is(rule?.hostKeys.length, 3);
	t.false(rule!.hostKeys.some(blob => blob.equals(blobFromText(recordedKey)!)));
	t.deepEqual(rule?.keyBlob, blobFromText(userKey));
});

test('sshRuleOf: another host\'s grant trusts the keys recorded at grant time, and a grant without a usable key makes no rule', t => {
	const rule = sshRuleOf(sshGrant('git.test:2222', userKey, `${recordedKey}\n\nnot a key\n`));
	t.is(rule?.host, 'git.test:2222');
	t.deepEqual(rule?.hostKeys, [blobFromText(recordedKey)]);
	t.deepEqual(sshRuleOf(sshGrant('git.test', userKey))?.hostKeys, [], 'no recorded keys: no server qualifies');
	t.is(sshRuleOf({...sshGrant('git.test', userKey), secret: {}}), undefined);
	t.is(sshRuleOf({...sshGrant('git.test', userKey), secret: {publicKey: 'ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIIazEu89wgQZ4bqs3d63QSMzYVa0MuJ2e2gKTKqu+UUO'}}), undefined);
});

const hostNames: Array<[string, string]> = [
	['github.com', 'github.com'],
	['git.test:22', 'git.test'],
	['git.test:2222', '[git.test]:2222'],
];
for (const [host, name] of hostNames) {
	test(`knownHostsName: ${host} is written ${name}`, t => {
		t.is(knownHostsName(host), name);
	});
}

test('knownHostsText writes one line per host key, in [host]:port form off port 22, without the keys\' comments', t => {
	t.is(knownHostsText([
		{host: 'git.test', hostKeys: ['ssh-ed25519 AAAAone host-comment', 'ecdsa-sha2-nistp256 AAAAtwo']},
		{host: 'mirror.test:2222', hostKeys: ['  ssh-rsa AAAAthree  ']},
		{host: 'none.test', hostKeys: []},
	]), 'git.test ssh-ed25519 AAAAone\ngit.test ecdsa-sha2-nistp256 AAAAtwo\n[mirror.test]:2222 ssh-rsa AAAAthree\n');
	t.is(knownHostsText([]), '\n');
});

test('the client config sends every host through the proxy, trusts only moat\'s known hosts and uses only the run\'s agent', t => {
	const config = sshClientConfig();
	t.regex(config, /^Host \*$/m);
	t.regex(config, /^\tProxyCommand \/bin\/bash \/etc\/moat\/ssh\/proxy %h %p$/m);
	t.regex(config, /^\tGlobalKnownHostsFile \/etc\/moat\/ssh\/known_hosts$/m);
	t.regex(config, /^\tUserKnownHostsFile \/dev\/null$/m);
	t.regex(config, /^\tStrictHostKeyChecking yes$/m);
	t.true(config.includes(`\tIdentityAgent ${containerAgentSocket}\n`));
});

const keyscanOutputs: Array<[string, string, string[]]> = [
	['OpenSSH\'s comments and plain lines', [
		'# 127.0.0.1:2222 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3',
		'[127.0.0.1]:2222 ssh-ed25519 AAAAC3one',
		'# 127.0.0.1:2222 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3',
		'[127.0.0.1]:2222 ecdsa-sha2-nistp256 AAAAE2two',
		'[127.0.0.1]:2222 ssh-rsa AAAAB3three',
		'',
	].join('\n'), ['ssh-ed25519 AAAAC3one', 'ecdsa-sha2-nistp256 AAAAE2two', 'ssh-rsa AAAAB3three']],
	['duplicates once', 'host ssh-ed25519 AAAAone\nhost ssh-ed25519 AAAAone\r\n', ['ssh-ed25519 AAAAone']],
	['nothing from no output', '', []],
	['no banner lines, truncated lines or unknown types', 'SSH-2.0-OpenSSH_9.2\nhost ssh-ed25519\nhost x509v3-sign-rsa AAAA\nhost sk-ssh-ed25519@openssh.com AAAA\n', []],
];
for (const [title, output, keys] of keyscanOutputs) {
	test(`parseKeyscan: ${title}`, t => {
		t.deepEqual(parseKeyscan(output), keys);
	});
}

// The proxy command, run by bash against a stand-in proxy on 127.0.0.1.

type StandIn = {
	port: number;
	requests: string[];
	/** Ends the tunnels as the far side would when the session is over (the script's `cat` never half-closes). */
	endTunnels(): void;
	close(): Promise<void>;
};

/**
 * A tiny CONNECT proxy: checks the request (CONNECT line, Host, Basic
 * credentials moat:TOKEN), then answers `answer`; after a 200 it first
 * sends a banner (in the same packet, as an SSH server would at once) and
 * then echoes whatever comes until the client stops writing.
 */
async function startProxy(answer: 'ok' | 'blocked'): Promise<StandIn> {
	const requests: string[] = [];
	const sockets = new Set<net.Socket>();
	const server = net.createServer(socket => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
		socket.on('error', () => undefined);
		let head = '';
		const onHead = (chunk: Buffer) => {
			head += chunk.toString('latin1');
			const end = head.indexOf('\r\n\r\n');
			if (end === -1) {
				return;
			}

			socket.off('data', onHead);
			const request = head.slice(0, end);
			requests.push(request);
			const expected = `Proxy-Authorization: Basic ${Buffer.from('moat:TOKEN').toString('base64')}`;
			if (!request.split('\r\n').includes(expected)) {
				socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nconnection: close\r\n\r\nbad credentials\n');
				return;
			}

			if (answer === 'blocked') {
				const body = blockedResponseText('other.test');
				socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
				return;
			}

			socket.write('HTTP/1.1 200 Connection Established\r\n\r\nSSH-2.0-StandIn\r\n');
			const rest = Buffer.from(head.slice(end + 4), 'latin1');
			if (rest.length > 0) {
				socket.write(rest);
			}

			socket.on('data', data => socket.write(data));
		};

		socket.on('data', onHead);
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	return {
		port: (server.address() as net.AddressInfo).port,
		requests,
		endTunnels() {
			for (const socket of sockets) {
				socket.end();
			}
		},
		async close() {
			for (const socket of sockets) {
				socket.destroy();
			}

			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			});
		},
	};
}

type ScriptRun = {write(text: string): void; endInput(): void; stdout(): string; stderr(): string; exited: Promise<number | null>; waitForStdout(text: string): Promise<void>};

function runProxyScript(t: ExecutionContext, proxyUrl: string, host: string, port: number): ScriptRun {
	// No HOME: bash, finding its stdin a socket (Node's pipes are), takes itself for rshd's child and reads ~/.bashrc.
	const child = spawn('bash', ['-c', sshProxyScript(), 'proxy', host, String(port)], {env: {PATH: process.env.PATH, HOME: '/nonexistent', HTTPS_PROXY: proxyUrl}, stdio: ['pipe', 'pipe', 'pipe']});
	t.teardown(() => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGKILL');
		}
	});
	let stdout = '';
	let stderr = '';
	const listeners = new Set<() => void>();
	child.stdout.on('data', (chunk: Buffer) => {
		stdout += chunk.toString();
		for (const listener of listeners) {
			listener();
		}
	});
	child.stderr.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	child.stdin.on('error', () => undefined);
	return {
		write(text) {
			child.stdin.write(text);
		},
		endInput() {
			child.stdin.end();
		},
		stdout: () => stdout,
		stderr: () => stderr,
		exited: new Promise(resolve => {
			child.on('close', code => {
				resolve(code);
			});
		}),
		async waitForStdout(text) {
			await new Promise<void>((resolve, reject) => {
				const timer = setTimeout(() => {
					reject(new Error(`the script never printed ${JSON.stringify(text)}; stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`));
				}, waitDeadlineMilliseconds);
				const check = () => {
					if (stdout.includes(text)) {
						clearTimeout(timer);
						listeners.delete(check);
						resolve();
					}
				};

				listeners.add(check);
				check();
			});
		},
	};
}

test.serial('the proxy script CONNECTs with the run\'s token, loses nothing sent with the proxy\'s answer, and carries bytes both ways', async t => {
	const proxy = await startProxy('ok');
	t.teardown(proxy.close);
	const script = runProxyScript(t, `http://moat:TOKEN@127.0.0.1:${proxy.port}`, 'git.test', 22);
	await script.waitForStdout('SSH-2.0-StandIn\r\n');
	script.write('first line\n');
	await script.waitForStdout('first line\n');
	script.write('binary \u0000\u00FF and more\n');
	await script.waitForStdout('and more\n');
	script.endInput();
	proxy.endTunnels();
	t.is(await script.exited, 0, script.stderr());
	t.is(script.stdout(), 'SSH-2.0-StandIn\r\nfirst line\nbinary \u0000\u00FF and more\n');
	t.is(proxy.requests[0], `CONNECT git.test:22 HTTP/1.1\r\nHost: git.test:22\r\nProxy-Authorization: Basic ${Buffer.from('moat:TOKEN').toString('base64')}\r\nX-Moat-Refusal: status`);
});

test.serial('the proxy script accepts a proxy URL with a trailing slash and names the port it was given', async t => {
	const proxy = await startProxy('ok');
	t.teardown(proxy.close);
	const script = runProxyScript(t, `http://moat:TOKEN@127.0.0.1:${proxy.port}/`, 'mirror.test', 2222);
	await script.waitForStdout('SSH-2.0-StandIn\r\n');
	script.endInput();
	proxy.endTunnels();
	t.is(await script.exited, 0, script.stderr());
	t.true(proxy.requests[0]!.startsWith('CONNECT mirror.test:2222 HTTP/1.1\r\nHost: mirror.test:2222\r\n'));
});

test.serial('the proxy script exits 1 and prints the proxy\'s reason on stderr when the proxy refuses', async t => {
	const proxy = await startProxy('blocked');
	t.teardown(proxy.close);
	const script = runProxyScript(t, `http://moat:TOKEN@127.0.0.1:${proxy.port}`, 'other.test', 22);
	script.endInput();
	t.is(await script.exited, 1);
	t.is(script.stdout(), '');
	t.regex(script.stderr(), /^moat: the proxy refused ssh to other\.test:22: HTTP\/1\.1 403 Forbidden /);
	for (const line of blockedResponseText('other.test').split('\n').filter(Boolean)) {
		t.true(script.stderr().includes(line), line);
	}
});

test.serial('the proxy script exits 1 on wrong credentials (407) and says so', async t => {
	const proxy = await startProxy('ok');
	t.teardown(proxy.close);
	const script = runProxyScript(t, `http://moat:WRONG@127.0.0.1:${proxy.port}`, 'git.test', 22);
	script.endInput();
	t.is(await script.exited, 1);
	t.regex(script.stderr(), /407 Proxy Authentication Required.*bad credentials/);
});

test('the proxy script exits 1 with a reason when there is no proxy or it cannot be reached', async t => {
	const none = runProxyScript(t, '', 'git.test', 22);
	none.endInput();
	t.is(await none.exited, 1);
	t.regex(none.stderr(), /moat: no proxy in this bottle \(HTTPS_PROXY is not set\)/);

	const closed = await new Promise<number>(resolve => {
		const server = net.createServer();
		server.listen(0, '127.0.0.1', () => {
			const {port} = server.address() as net.AddressInfo;
			server.close(() => {
				resolve(port);
			});
		});
	});
	const unreachable = runProxyScript(t, `http://moat:TOKEN@127.0.0.1:${closed}`, 'git.test', 22);
	unreachable.endInput();
	t.is(await unreachable.exited, 1);
	t.regex(unreachable.stderr(), new RegExp(`moat: cannot reach moat's proxy at 127\\.0\\.0\\.1:${closed}`));
});
