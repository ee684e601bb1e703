import dgram from 'node:dgram';
import fs from 'node:fs/promises';
import type {ExecutionContext} from 'ava';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {docker, eventually} from '../helpers/moat.js';
import {createWorld, newestRunId, parseProbes, probeScript, runIdOf, startPlainServer} from '../helpers/proxy-world.js';
import {dockerTest, farEngine, farEngineTest} from '../helpers/docker.js';

/**
 * The seal (README: The gateway): a bottle reaches nothing of the host but
 * moat, whatever address it tries; the gateway comes back when it dies; a
 * run whose egress cannot work is refused. The attacks are real: raw
 * sockets and proxy requests from a real bottle at real listeners.
 */

type Canary = {port: number; tcp: string[]; udp: string[]; close(): Promise<void>};

/** A TCP and a UDP listener on every address of this machine (IPv4 and IPv6), same port, recording who came. */
async function startCanary(): Promise<Canary> {
	const tcp: string[] = [];
	const udp: string[] = [];
	const server = net.createServer(socket => {
		tcp.push(socket.remoteAddress ?? '?');
		socket.end('canary\n');
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen({port: 0, host: '::', ipv6Only: false}, resolve);
	});
	const {port} = server.address() as net.AddressInfo;
	const socket = dgram.createSocket({type: 'udp6', ipv6Only: false});
	socket.on('message', (_message, from) => udp.push(from.address));
	await new Promise<void>((resolve, reject) => {
		socket.once('error', reject);
		socket.bind(port, '::', resolve);
	});
	return {
		port,
		tcp,
		udp,
		async close() {
			socket.close();
			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			});
		},
	};
}

/** Every address of this machine a bottle might try: each interface's, Docker's bridges included. */
function hostAddresses(): string[] {
	return [...new Set(Object.values(os.networkInterfaces()).flat()
		.filter(entry => entry && !entry.internal && !entry.address.startsWith('fe80'))
		.map(entry => entry!.address))];
}

const urlHost = (address: string) => address.includes(':') ? `[${address}]` : address;

dockerTest('a bottle reaches no host service: TCP and UDP listeners on every address get nothing, raw or through the proxy, from any host address or the network\'s own gateway address', async t => {
	const canary = await startCanary();
	t.teardown(async () => canary.close());
	const world = await createWorld(t, {hosts: ['api.github.com']});

	// The probe works: a container on Docker's default bridge does reach the canary through its gateway.
	const control = await docker('run', '--rm', 'debian:bookworm-slim', 'bash', '-c', `printf x > /dev/udp/172.17.0.1/${canary.port}; curl -sS --max-time 10 telnet://172.17.0.1:${canary.port} </dev/null || true`);
	t.true(canary.tcp.length > 0, `the control container reached the canary over TCP: ${control}`);
	await eventually(async () => canary.udp.length > 0);
	canary.tcp.length = 0;
	canary.udp.length = 0;

	// docker0 drops out of the interface list while no container is on it (no carrier): named on purpose.
	const targets = [...new Set([...hostAddresses(), '172.17.0.1'])];
	const probes: Array<[string, string]> = [];
	// The run network's .1 (the engine's idea of its gateway), from the proxy address the bottle was given (.2).
	const networkGateway = 'gw=$(printf %s "$HTTP_PROXY" | sed -E "s#.*@([0-9.]+):.*#\\1#"); gw=${gw%.*}.$(( ${gw##*.} - 1 ))';
	// Each address as a URL host and as a bare address (for bash's /dev/udp); the shell expands $gw.
	const spellings = [...targets.map(address => [urlHost(address), address]), ['$gw', '$gw']];
	for (const [index, [host, bare]] of spellings.entries()) {
		probes.push(
			[`raw-tcp-${index}`, `${networkGateway}; curl -sS --noproxy '*' --max-time 5 telnet://${host!}:${canary.port} </dev/null`],
			[`raw-udp-${index}`, `${networkGateway}; printf x > /dev/udp/${bare!}/${canary.port}`],
			[`proxy-http-${index}`, `${networkGateway}; curl -sS --max-time 10 -o /dev/null -w '%{http_code}' http://${host!}:${canary.port}/`],
			[`proxy-connect-${index}`, `${networkGateway}; curl -sS -p --max-time 10 -o /dev/null -w '%{http_code}' http://${host!}:${canary.port}/`],
		);
	}

	const result = await world.moat(['run', world.workspace, '--', 'bash', '-c', probeScript(probes)]);
	t.is(result.code, 0, result.stderr);
	const outcomes = parseProbes(result.stdout);
	t.is(Object.keys(outcomes).length, probes.length, result.stdout);
	for (const [label] of probes) {
		const outcome = outcomes[label]!;
		if (label.startsWith('raw-tcp')) {
			t.not(outcome.code, 0, `${label} connected: ${outcome.output}`);
		} else if (label.startsWith('proxy-http')) {
			t.regex(outcome.output, /403$/, `${label}: ${outcome.output}`);
		} else if (label.startsWith('proxy-connect')) {
			// Refused before the tunnel's 200, and answered inside it, where curl reads it.
			t.regex(outcome.output, /403$/, `${label}: ${outcome.output}`);
		}
	}

	t.deepEqual(canary.tcp, [], 'no TCP connection reached the host');
	// A datagram that got out would have arrived long before the run ended; the control's arrived.
	t.deepEqual(canary.udp, [], 'no UDP datagram reached the host');
});

dockerTest('a gateway that is removed behind moat\'s back is made again, and a detached run\'s requests get through again with the credential', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const token = await world.grantGithub();
	const loop = 'for i in $(seq 1 600); do [ -e /workspace/stop ] && break; curl -s -o /dev/null --max-time 10 -w "%{http_code}\\n" https://api.github.com/x; sleep 0.25; done';
	const started = await world.moat(['run', world.workspace, '-d', '--grant', 'github', '--', 'sh', '-c', loop]);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	await eventually(async () => world.standIn.requests.length >= 2);

	const gateway = await docker('ps', '-q', '--filter', `label=moat.home=${world.sandbox.moatHome}`, '--filter', 'label=moat.gateway=true');
	t.truthy(gateway);
	await docker('rm', '-f', gateway);
	const countAtRemoval = world.standIn.requests.length;

	await eventually(async () => world.standIn.requests.length >= countAtRemoval + 3);
	t.is(world.standIn.requests.at(-1)!.headers.authorization, `Bearer ${token}`);
	const again = await docker('ps', '-q', '--filter', `label=moat.home=${world.sandbox.moatHome}`, '--filter', 'label=moat.gateway=true');
	t.truthy(again);
	t.not(again, gateway, 'a new gateway container');
	// Traffic flows once the channels are open; the checks that follow make the status ready.
	await eventually(async () => /^Gateway {3}ready /m.test((await world.moat(['proxy', 'status'])).stdout));
	t.true((await world.moat(['proxy', 'status'])).stdout.includes(runId));
});

dockerTest('a run whose gateway cannot be made is refused with the reason and the fix, and leaves no container', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com'], variables: {MOAT_GATEWAY_BASE: 'moat-test/no-such-image:1'}});
	const result = await world.moat(['run', world.workspace, '--', 'echo', 'should not run']);
	t.is(result.code, 1, result.stdout);
	t.false(result.stdout.includes('should not run'));
	t.regex(result.stderr, /^moat: Cannot start the run: The gateway's image could not be built from moat-test\/no-such-image:1: /m);
	t.regex(result.stderr, /set MOAT_GATEWAY_BASE to a local image with Node 22 or newer/);
	t.is(await docker('ps', '-aq', '--filter', `label=moat.home=${world.sandbox.moatHome}`, '--filter', 'label=moat.run-id'), '');

	const status = await world.moat(['proxy', 'status']);
	t.regex(status.stdout, /^Gateway {3}not working, runs are refused: The gateway's image could not be built/m);
});

/** network.host end to end on an engine: the opened port answers by name through the proxy, the closed one is refused. */
async function hostPortsWork(t: ExecutionContext, engine?: string) {
	const opened = await startPlainServer('127.0.0.1');
	const closed = await startPlainServer('127.0.0.1');
	t.teardown(async () => {
		await opened.close();
		await closed.close();
	});
	const world = await createWorld(t, {hosts: ['api.github.com'], engine, files: {'agent.yaml': `network:\n  policy: strict\n  host: [${opened.port}]\n`}});

	// agent.yaml opening a port of this machine needs the user's yes: without a terminal, the flag.
	const refused = await world.moat(['run', world.workspace, '--', 'true']);
	t.is(refused.code, 2, refused.stderr);
	t.true(refused.stderr.includes(`agent.yaml asks for the host port ${opened.port}, which this workspace has not used before.`), refused.stderr);
	t.true(refused.stderr.includes(`--host-port ${opened.port}`), refused.stderr);

	const result = await world.moat(['run', world.workspace, '--host-port', String(opened.port), '--', 'sh', '-c', probeScript([
		['http', `curl -sS http://host.moat.internal:${opened.port}/by-name`],
		['connect', `curl -sS -p http://host.moat.internal:${opened.port}/through-tunnel`],
		['closed', `curl -sS http://host.moat.internal:${closed.port}/not-opened`],
		// A client that knows no proxy (psql, redis-cli) reaches it by name too: the run's relay answers there.
		['direct', `curl -sS --noproxy '*' --max-time 10 http://host.moat.internal:${opened.port}/direct`],
		['direct-closed', `curl -sS --noproxy '*' --max-time 5 http://host.moat.internal:${closed.port}/direct-closed`],
	])]);
	t.is(result.code, 0, result.stderr);
	const probes = parseProbes(result.stdout);
	t.deepEqual(probes.http, {code: 0, output: `stand-in host.moat.internal:${opened.port} GET /by-name`});
	t.deepEqual(probes.connect, {code: 0, output: `stand-in host.moat.internal:${opened.port} GET /through-tunnel`});
	t.true(probes.closed!.output.includes(`Host "host.moat.internal:${closed.port}" is refused: port ${closed.port} of this machine is not open to the run (open: ${opened.port}).`), probes.closed!.output);
	t.deepEqual(probes.direct, {code: 0, output: `stand-in host.moat.internal:${opened.port} GET /direct`});
	t.not(probes['direct-closed']!.code, 0, 'a port not given answers nothing, even by name');
	t.deepEqual(closed.requests, []);
	t.deepEqual(opened.requests.map(request => request.url), ['/by-name', '/through-tunnel', '/direct']);

	const runId = await newestRunId(world);
	await eventually(async () => (await world.networkEntries(runId)).length >= 4);
	const entries = await world.networkEntries(runId);
	t.true(entries.some(entry => entry.url === `http://host.moat.internal:${opened.port}/by-name` && entry.status === 200), JSON.stringify(entries));
	t.true(entries.filter(entry => entry.method === 'CONNECT' && entry.url === `host.moat.internal:${opened.port}` && entry.status === 200).length >= 2, 'the tunnel and the relay\'s connection are logged');
	t.true(entries.some(entry => entry.url === `http://host.moat.internal:${closed.port}/not-opened` && entry.status === 403 && entry.blocked), JSON.stringify(entries));
	const audit = await world.auditRecords(runId);
	t.true(audit.some(record => record.type === 'host.reached' && record.data.port === opened.port));
	t.true(audit.some(record => record.type === 'request.blocked' && record.data.host === 'host.moat.internal'));

	// Approved once with the flag, the workspace's agent.yaml port needs no flag the next time.
	const again = await world.moat(['run', world.workspace, '--', 'curl', '-sS', `http://host.moat.internal:${opened.port}/again`]);
	t.is(again.code, 0, again.stderr);
	t.is(again.stdout, `stand-in host.moat.internal:${opened.port} GET /again\n`);
}

dockerTest('network.host: a port of this machine opened by agent.yaml (approved) or --host-port is reached as host.moat.internal, through the proxy and by clients that know none, logged and audited, in strict mode; any other port is refused', async t => {
	await hostPortsWork(t);
});

farEngineTest('network.host works the same on an engine whose networks are not this machine\'s', async t => {
	await hostPortsWork(t, farEngine);
});

dockerTest('a run an older moat started on the shared network keeps its way out through the new daemon until it ends, and the old network then goes', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const token = await world.grantGithub();
	// The loop reads its proxy from a file, so the test can move it to the old network's address as an older moat would have set it.
	const loop = 'for i in $(seq 1 900); do [ -e /workspace/stop ] && break; proxy=$(cat /workspace/proxy 2>/dev/null || echo "$HTTPS_PROXY"); curl -s -o /dev/null --max-time 10 -x "$proxy" -w "%{http_code}\\n" https://api.github.com/x; sleep 0.25; done';
	const started = await world.moat(['run', world.workspace, '-d', '--grant', 'github', '--', 'sh', '-c', loop]);
	t.is(started.code, 0, started.stderr);
	const runId = runIdOf(started);
	await eventually(async () => world.standIn.requests.length >= 2);
	const variables = await docker('inspect', '-f', '{{range .Config.Env}}{{println .}}{{end}}', `moat-${runId}`);
	const runToken = decodeURIComponent(new URL(/^HTTPS_PROXY=(.+)$/m.exec(variables)![1]!).password);

	// What an older moat left: its daemon gone, the run on a shared internal network whose host-side address was the proxy's.
	t.is((await world.moat(['proxy', 'stop'])).code, 0);
	const oldNetwork = `moat-sealed-${runId.slice(-6)}`;
	await docker('network', 'create', '--internal', '-o', 'com.docker.network.bridge.enable_icc=false', oldNetwork);
	t.teardown(async () => {
		await docker('network', 'rm', oldNetwork).catch(() => undefined);
	});
	await docker('network', 'connect', oldNetwork, `moat-${runId}`);
	await docker('network', 'disconnect', `moat-run-${runId}`, `moat-${runId}`);
	const oldAddress = await docker('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', oldNetwork);
	const oldPort = 20_000 + Math.floor(Math.random() * 20_000);
	const statePath = path.join(world.sandbox.moatHome, 'daemon-state.json');
	const state = JSON.parse(await fs.readFile(statePath, 'utf8')) as {network: string; proxyPort: number};
	await fs.writeFile(statePath, JSON.stringify({...state, network: oldNetwork, proxyPort: oldPort}));
	await fs.writeFile(path.join(world.workspace, 'proxy'), `http://moat:${runToken}@${oldAddress}:${oldPort}`);
	const countBefore = world.standIn.requests.length;

	const restarted = await world.moat(['proxy', 'start']);
	t.is(restarted.code, 0, restarted.stderr);
	t.true(restarted.stdout.includes(runId), 'the run is restored');
	await eventually(async () => world.standIn.requests.length >= countBefore + 3);
	t.is(world.standIn.requests.at(-1)!.headers.authorization, `Bearer ${token}`, 'through the old address, with the credential');
	t.regex(await fs.readFile(path.join(world.sandbox.moatHome, 'daemon.log'), 'utf8'), new RegExp(`serving 1 run\\(s\\) from before the gateway on ${oldAddress.replaceAll('.', String.raw`\.`)}:${oldPort} until they end`));

	await fs.writeFile(path.join(world.workspace, 'stop'), '');
	await eventually(async () => (await world.runs()).some(run => run.id === runId && run.state !== 'running'));
	await eventually(async () => docker('network', 'inspect', oldNetwork).then(() => false, () => true));
	t.regex(await fs.readFile(path.join(world.sandbox.moatHome, 'daemon.log'), 'utf8'), new RegExp(`the last run from before the gateway ended; ${oldNetwork} removed`));
});

dockerTest('a MOAT_NETWORK_POOL that is not a range is a usage error (exit 2) naming it and the fix, and starts nothing', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com'], variables: {MOAT_NETWORK_POOL: '10.231.0.0/30'}});
	const result = await world.moat(['run', world.workspace, '--', 'echo', 'should not run']);
	t.is(result.code, 2, result.stderr);
	t.is(result.stdout, '');
	t.regex(result.stderr, /^moat: Cannot start the run: MOAT_NETWORK_POOL=10\.231\.0\.0\/30 is not an IPv4 range like 10\.231\.0\.0\/16 \(a prefix of 8 to 29 bits\)\.\nFix MOAT_NETWORK_POOL \(or unset it\) and run moat proxy restart\.\n$/);
	t.is(await docker('ps', '-aq', '--filter', `label=moat.home=${world.sandbox.moatHome}`, '--filter', 'label=moat.run-id'), '');
});

dockerTest('an engine error quoting text moat did not write reaches the terminal without its control bytes', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com'], variables: {MOAT_GATEWAY_BASE: 'moat-test/\u001B[2Jcleared:1'}});
	const result = await world.moat(['run', world.workspace, '--', 'true']);
	t.is(result.code, 1, result.stderr);
	t.regex(result.stderr, /^moat: Cannot start the run: The gateway's image could not be built from moat-test\/\\x1b\[2Jcleared:1/);
	t.false(result.stderr.includes('\u001B'), 'no escape byte reached the terminal');
});
