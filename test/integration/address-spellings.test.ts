import http from 'node:http';
import type {AddressInfo} from 'node:net';
import os from 'node:os';
import {addressKind, parseIpAddress} from '../../source/network/ip-address.js';
import {dockerTest} from '../helpers/docker.js';
import {eventually} from '../helpers/moat.js';
import {createWorld, newestRunId, parseProbes, probeScript} from '../helpers/proxy-world.js';

/**
 * Issue 17, item 4, performed against the real proxy: a bottle names an
 * address of this machine in every spelling it can think of — resolvers'
 * IPv4 forms, IPv6 forms that carry the IPv4 address, any compression and
 * case — in CONNECT targets and in absolute-form HTTP requests, sent byte
 * for byte as written (no client normalises them first). Every one must be
 * refused with moat's 403 and nothing may arrive at the listener; the same
 * probes reach the listener under an overridden name, so they can fail.
 */

type Listener = {port: number; connections: string[]; requests: string[]; close(): Promise<void>};

/** An HTTP server on every address of this machine (IPv4 and IPv6), recording every TCP connection and request. */
async function startListener(): Promise<Listener> {
	const connections: string[] = [];
	const requests: string[] = [];
	const server = http.createServer((request, response) => {
		requests.push(`${request.headers.host ?? '?'} ${request.url ?? '?'}`);
		const body = `listener ${request.url ?? '?'}\n`;
		response.writeHead(200, {'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close'});
		response.end(body);
	});
	server.on('connection', socket => {
		connections.push(socket.remoteAddress ?? '?');
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen({port: 0, host: '::', ipv6Only: false}, resolve);
	});
	return {
		port: (server.address() as AddressInfo).port,
		connections,
		requests,
		async close() {
			server.closeAllConnections();
			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			});
		},
	};
}

const hex = (value: number, width = 1) => value.toString(16).padStart(width, '0');

/** Every spelling of an IPv4 address a client, a URL parser or a resolver might read as it, as a CONNECT or URL host. */
function spellingsOf(address: string): string[] {
	const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
	const value = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
	const high = hex((a << 8) | b);
	const low = hex((c << 8) | d);
	const inverted = (byte: number) => byte ^ 0xFF;
	return [
		address,
		`${address}.`,
		String(value),
		`0x${hex(value, 8)}`,
		[a, b, c, d].map(byte => `0x${hex(byte).toUpperCase()}`).join('.'),
		[a, b, c, d].map(byte => `0${byte.toString(8)}`).join('.'),
		`${a}.${b}.${(c << 8) | d}`,
		`${a}.${(b << 16) | (c << 8) | d}`,
		`[::ffff:${address}]`,
		`[::ffff:${high}:${low}]`,
		`[::FFFF:${hex((a << 8) | b, 4).toUpperCase()}:${hex((c << 8) | d, 4).toUpperCase()}]`,
		`[0:0:0:0:0:ffff:${high}:${low}]`,
		`[0000:0000:0000:0000:0000:ffff:${hex((a << 8) | b, 4)}:${hex((c << 8) | d, 4)}]`,
		`[0::0:ffff:${high}:${low}]`,
		`[::${address}]`,
		`[::${high}:${low}]`,
		`[::ffff:0:${high}:${low}]`,
		`[64:ff9b::${high}:${low}]`,
		`[64:ff9b::${address}]`,
		`[64:ff9b:1::${high}:${low}]`,
		`[2002:${high}:${low}::]`,
		`[2001:0:${high}:${low}::]`,
		`[2001:0:808:808::${hex((inverted(a) << 8) | inverted(b))}:${hex((inverted(c) << 8) | inverted(d))}]`,
	];
}

/** An IPv6 address with every group written out in full, upper case. */
function expanded(address: string): string {
	const {bytes} = parseIpAddress(address)!;
	return Array.from({length: 8}, (_, index) => hex((bytes[index * 2]! << 8) | bytes[(index * 2) + 1]!, 4).toUpperCase()).join(':');
}

/** Addresses of this machine's interfaces, IPv4 first, those no range refuses (the ones only "it is this machine" protects) first of all. */
function machineAddresses(): string[] {
	const all = Object.values(os.networkInterfaces()).flatMap(entries => entries ?? []).filter(entry => !entry.internal && !entry.address.startsWith('fe80'));
	const publicFirst = (address: string) => (addressKind(parseIpAddress(address)!) === 'public' ? 0 : 1);
	return [...new Set(all.map(entry => entry.address))].sort((x, y) => (x.includes(':') ? 1 : 0) - (y.includes(':') ? 1 : 0) || publicFirst(x) - publicFirst(y));
}

/**
 * A bash function sending one raw request to the run's proxy (from
 * HTTP_PROXY, with the run token) and printing the answer: `connect HOST:PORT
 * LABEL` opens a tunnel and sends a GET for /LABEL through it; `absolute
 * HOST:PORT LABEL` sends `GET http://HOST:PORT/LABEL`. Hosts go out exactly
 * as given.
 */
const rawRequests = String.raw`
p=\${HTTP_PROXY#http://}; auth=\${p%@*}; token=\${auth#*:}; hp=\${p#*@}; hp=\${hp%/}; ph=\${hp%:*}; pp=\${hp##*:}
send() { exec 3<>"/dev/tcp/$ph/$pp" || return 9; cat >&3; timeout 30 cat <&3 | head -c 3000 | tr -d '\r'; exec 3>&-; }
connect() { printf 'CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Bearer %s\r\n\r\nGET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" "$1" "$token" "$2" "$1" | send; }
absolute() { printf 'GET http://%s/%s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Bearer %s\r\nConnection: close\r\n\r\n' "$1" "$2" "$1" "$token" | send; }
`.replaceAll('\\$', '$');

dockerTest('an address of this machine is refused in every spelling — resolvers\' IPv4 forms, IPv4-mapped, -compatible, NAT64, 6to4 and Teredo IPv6, any case and compression — in CONNECT and absolute-form requests alike, and nothing reaches a listener the same requests reach under an overridden name', async t => {
	const listener = await startListener();
	t.teardown(async () => listener.close());
	const [primary, ...others] = machineAddresses();
	if (!primary?.includes('.')) {
		t.fail('this machine has no non-loopback IPv4 address to test with');
		return;
	}

	t.log(`attacking ${primary} (${addressKind(parseIpAddress(primary)!)} by range), and ${others.join(', ')}`);
	const world = await createWorld(t, {
		hosts: ['api.github.com'],
		// The control: a name the user routed to the listener, on the same address and port.
		variables: {MOAT_UPSTREAM_OVERRIDES: `control.test=${primary}:${listener.port}`},
	});

	const hosts = [
		...spellingsOf(primary),
		...others.flatMap(address => (address.includes(':')
			? [`[${address}]`, `[${expanded(address)}]`]
			: [`[::ffff:${address}]`, String(address.split('.').reduce((sum, part) => (sum * 256) + Number(part), 0))])),
		// Loopback, where the listener is too.
		'0x7f.1', '2130706433', '0177.0.0.1', '127.1', '[::ffff:7f00:1]', '[0:0:0:0:0:0:0:1]', '[::1]', 'LOCALHOST.',
	];
	const attacks = hosts.flatMap((host, index) => [
		[`connect-${index}`, `connect '${host}:${listener.port}' connect-${index}`],
		[`absolute-${index}`, `absolute '${host}:${listener.port}' absolute-${index}`],
	] as const);
	const controls = [
		['control-connect', `connect 'control.test:${listener.port}' control-connect`],
		['control-absolute', `absolute 'control.test:${listener.port}' control-absolute`],
	] as const;

	const result = await world.moat(['run', world.workspace, '--', 'bash', '-c', `${rawRequests}\n${probeScript([...controls, ...attacks])}`]);
	t.is(result.code, 0, result.stderr);
	const probes = parseProbes(result.stdout);
	t.is(Object.keys(probes).length, controls.length + attacks.length, result.stdout);

	// The probes work: through the tunnel and as an absolute-form request, the listener answered.
	t.regex(probes['control-connect']!.output, /^HTTP\/1\.1 200 Connection Established\n\nHTTP\/1\.1 200 OK\n[^]*listener \/control-connect$/, probes['control-connect']!.output);
	t.regex(probes['control-absolute']!.output, /^HTTP\/1\.1 200 OK\n[^]*listener \/control-absolute$/, probes['control-absolute']!.output);

	// Each refusal is moat's 403 saying why (inside the tunnel for a CONNECT: decided before
	// its 200, answered where the client reads it); any other answer is listed with its spelling.
	const refusal = /^(HTTP\/1\.1 200 Connection Established\n\n)?HTTP\/1\.1 403 Forbidden\n[^]*\nMoat: request blocked by network policy\.\nHost "[^"]+" is refused: it is (an address of the machine moat runs on|a loopback address|a private address|a link-local address|an unspecified address|a reserved address), which agents may never reach\./;
	const notRefused = hosts.flatMap((host, index) => [`connect-${index}`, `absolute-${index}`]
		.filter(label => !refusal.test(probes[label]!.output))
		.map(label => `${label} ${host}: ${probes[label]!.output.split('\n')[0]!}`));
	t.deepEqual(notRefused, [], 'every spelling is refused with the reason');
	t.deepEqual(listener.requests.map(request => request.split(' ')[1]).sort(), ['/control-absolute', '/control-connect'], 'nothing but the controls reached the listener');
	t.is(listener.connections.length, 2, `only the controls' connections arrived: ${listener.connections.join(', ')}`);

	const runId = await newestRunId(world);
	await eventually(async () => (await world.networkEntries(runId)).filter(entry => entry.blocked).length >= attacks.length);
	const entries = await world.networkEntries(runId);
	t.is(entries.filter(entry => entry.status === 403 && entry.blocked && entry.error?.startsWith('internal address: ')).length, attacks.length, JSON.stringify(entries.filter(entry => !entry.blocked)));
});
