/**
 * The program inside moat's gateway container (README: The gateway). It is
 * copied into the gateway image as one file and runs on the engine, so it
 * imports nothing but Node's own modules and holds no credential: every
 * connection a bottle makes to it is carried, byte for byte, to the daemon,
 * where the proxy decides, injects and records.
 *
 * Two ways to the daemon, tried in this order for each connection:
 * - a Unix socket the daemon listens on, mounted into the gateway, when the
 *   engine shares this machine's files (a Linux engine on the same host);
 * - HTTP/2 over a stream of the Docker API: the daemon runs
 *   `gateway.mjs channel` in the container (an exec) and speaks HTTP/2 over
 *   its stdin and stdout. The gateway is the HTTP/2 client there (it opens a
 *   CONNECT stream per bottle connection); a second exec, `gateway.mjs
 *   dialer`, is the other way round, for the daemon's router to reach a
 *   bottle's port.
 *
 * Subcommands: `serve` (the container's main process), `channel` and
 * `dialer` (pipes between an exec's stdio and the main process), `probe`
 * (the seal check: can any of these addresses be reached from here?),
 * `probe-proxy`, and `relay`: the main process of a run's relay, a small
 * container of the same image beside the bottle, which serves the SSH agent
 * socket in a volume the bottle mounts and the host ports the run was given,
 * carrying each connection through the gateway with the run's token (which
 * the bottle holds anyway).
 */

import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import process from 'node:process';

/** Where the main process waits for the exec pipes (a tmpfs in the container). */
const channelSocket = '/tmp/moat-gateway/channel.sock';
const dialerSocket = '/tmp/moat-gateway/dialer.sock';

/** Large windows: a bottle's download must not stall on HTTP/2's default 64 KiB. */
const gatewayWindowBytes = 16 * 1024 * 1024;
const http2Settings = {initialWindowSize: gatewayWindowBytes, maxConcurrentStreams: 10_000};

/** How long a bottle's connection waits for a daemon that is (re)starting. */
const waitForDaemonMilliseconds = 15_000;

function log(message: string) {
	process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** Pipes two sockets both ways and ends each when the other goes. */
function splice(a: net.Socket | http2.ClientHttp2Stream | http2.ServerHttp2Stream, b: net.Socket | http2.ClientHttp2Stream | http2.ServerHttp2Stream) {
	a.pipe(b);
	b.pipe(a);
	const close = () => {
		a.destroy();
		b.destroy();
	};

	a.on('error', close);
	b.on('error', close);
	a.on('close', close);
	b.on('close', close);
}

/** What moat sets in the container; environment.ts names them too (this file runs alone, importing nothing of moat). */
const variables = {port: 'MOAT_GATEWAY_PORT', daemonSocket: 'MOAT_GATEWAY_DAEMON_SOCKET', runConnections: 'MOAT_GATEWAY_RUN_CONNECTIONS', relaySocket: 'MOAT_RELAY_SOCKET', relayPorts: 'MOAT_RELAY_PORTS', relayProxy: 'MOAT_RELAY_PROXY'} as const;

function serve() {
	const port = Number(process.env[variables.port] ?? 3128);
	const daemonSocket = process.env[variables.daemonSocket] ?? '';
	let session: http2.ClientHttp2Session | undefined;
	const waiting = new Set<() => void>();
	// After a failed dial of the daemon's socket, the API channel carries everything for a while.
	let socketFailedAt = 0;

	const viaChannel = (client: net.Socket) => {
		const send = () => {
			if (!session || session.destroyed) {
				client.destroy();
				return;
			}

			const stream = session.request({':method': 'CONNECT', ':authority': 'proxy:0'});
			splice(client, stream);
		};

		if (session && !session.destroyed) {
			send();
			return;
		}

		// The daemon is starting: hold the connection a little rather than refuse it.
		client.pause();
		const timer = setTimeout(() => {
			waiting.delete(send);
			client.destroy();
		}, waitForDaemonMilliseconds);
		const ready = () => {
			clearTimeout(timer);
			send();
		};

		waiting.add(ready);
		client.once('close', () => {
			clearTimeout(timer);
			waiting.delete(ready);
		});
	};

	// Connections open per run network (the gateway's own address on it): a bottle
	// must not fill the daemon with connections that never say whose they are.
	// The daemon's own, lower, limit on connections that do is what a run meets first.
	const perNetwork = Number(process.env[variables.runConnections] ?? 0);
	const openOf = new Map<string, number>();
	let refusals = 0;
	const admit = (client: net.Socket): boolean => {
		const key = client.localAddress ?? '';
		const open = openOf.get(key) ?? 0;
		if (perNetwork > 0 && open >= perNetwork) {
			// Logged now and then, never once per refusal.
			if ((++refusals & (refusals - 1)) === 0) {
				log(`refused a connection on ${key}: ${open} open, the limit per run (${refusals} refused so far)`);
			}

			const text = `Moat: connection refused: this run already has ${open} connections open to moat's gateway, its limit.\n`;
			client.resume();
			client.end(`HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
			return false;
		}

		openOf.set(key, open + 1);
		client.once('close', () => {
			const left = (openOf.get(key) ?? 1) - 1;
			if (left > 0) {
				openOf.set(key, left);
			} else {
				openOf.delete(key);
			}
		});
		return true;
	};

	const server = net.createServer({noDelay: true, pauseOnConnect: true}, client => {
		client.on('error', () => client.destroy());
		if (!admit(client)) {
			return;
		}

		if (daemonSocket && Date.now() - socketFailedAt > 5000) {
			const daemon = net.connect(daemonSocket);
			daemon.once('connect', () => {
				splice(client, daemon);
				client.resume();
			});
			daemon.once('error', () => {
				if (daemon.connecting || daemon.bytesWritten === 0) {
					socketFailedAt = Date.now();
					viaChannel(client);
				} else {
					client.destroy();
				}
			});
			return;
		}

		viaChannel(client);
	});
	server.listen({host: '0.0.0.0', port}, () => {
		log(`gateway listening on port ${port}${daemonSocket ? `, daemon socket ${daemonSocket}` : ''}`);
	});

	fs.mkdirSync('/tmp/moat-gateway', {recursive: true, mode: 0o700});
	for (const file of [channelSocket, dialerSocket]) {
		fs.rmSync(file, {force: true});
	}

	// Each exec of `channel` is a new daemon (or the same one again): the newest session serves.
	net.createServer(pipe => {
		pipe.on('error', () => pipe.destroy());
		const fresh = http2.connect('http://moat-daemon', {createConnection: () => pipe, settings: http2Settings});
		fresh.on('error', () => fresh.destroy());
		fresh.on('connect', () => {
			fresh.setLocalWindowSize(gatewayWindowBytes);
		});
		fresh.on('close', () => {
			if (session === fresh) {
				session = undefined;
			}
		});
		const old = session;
		session = fresh;
		old?.close();
		for (const ready of waiting) {
			waiting.delete(ready);
			ready();
		}
	}).listen(channelSocket);

	// The router's way in: the daemon asks for a bottle's address and port.
	net.createServer(pipe => {
		pipe.on('error', () => pipe.destroy());
		const dialer = http2.createServer({settings: http2Settings});
		dialer.on('stream', (stream, headers) => {
			const [host, portText] = splitAuthority(String(headers[':authority'] ?? ''));
			const targetPort = Number(portText);
			if (headers[':method'] !== 'CONNECT' || !host || !isBottleAddress(host) || !Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65_535) {
				stream.respond({':status': 403});
				stream.end();
				return;
			}

			const target = net.connect({host, port: targetPort, noDelay: true});
			target.once('connect', () => {
				stream.respond({':status': 200});
				splice(stream, target);
			});
			target.once('error', error => {
				if (!stream.headersSent) {
					stream.respond({':status': 502, 'moat-error': (error as NodeJS.ErrnoException).code ?? 'error'});
					stream.end();
				}
			});
		});
		dialer.emit('connection', pipe);
	}).listen(dialerSocket);

	const stop = () => {
		server.close();
		process.exit(0);
	};

	process.on('SIGTERM', stop);
	process.on('SIGINT', stop);
}

function splitAuthority(authority: string): [string, string] {
	const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(authority);
	if (bracketed) {
		return [bracketed[1]!, bracketed[2]!];
	}

	const colon = authority.lastIndexOf(':');
	return colon === -1 ? [authority, ''] : [authority.slice(0, colon), authority.slice(colon + 1)];
}

/**
 * The router may reach bottles, nothing else: an address on one of the
 * gateway's own networks (each a run's), never the gateway itself.
 */
function isBottleAddress(address: string): boolean {
	if (net.isIPv4(address) === false) {
		return false;
	}

	const value = ipv4Number(address);
	return Object.values(os.networkInterfaces()).flat().some(entry => {
		if (entry?.family !== 'IPv4' || entry.internal || entry.address === address) {
			return false;
		}

		const mask = ipv4Number(entry.netmask);
		return (ipv4Number(entry.address) & mask) === (value & mask);
	});
}

function ipv4Number(address: string): number {
	return address.split('.').reduce((sum, part) => ((sum << 8) | Number(part)) >>> 0, 0) >>> 0;
}

/** `channel` / `dialer`: the exec's stdin and stdout become a connection to the main process. */
function pipeTo(socketPath: string) {
	const socket = net.connect(socketPath);
	process.stdin.pipe(socket);
	socket.pipe(process.stdout);
	const end = () => process.exit(0);
	socket.on('close', end);
	socket.on('error', error => {
		log(`cannot reach the gateway's main process: ${error.message}`);
		process.exit(1);
	});
	process.stdin.on('end', () => socket.end());
}

/**
 * `probe ADDRESS:PORT…`: tries each and prints one JSON line of what
 * answered. The daemon runs it to prove the seal: nothing of the host may.
 */
function probe(targets: string[]) {
	const results: Record<string, string> = {};
	let pending = targets.length;
	const done = () => {
		if (--pending === 0) {
			process.stdout.write(`${JSON.stringify(results)}\n`);
			process.exit(0);
		}
	};

	if (pending === 0) {
		process.stdout.write('{}\n');
		return;
	}

	for (const target of targets) {
		const [host, port] = splitAuthority(target);
		// A path is the daemon's Unix socket: whether this engine shares the host's files.
		const socket = target.startsWith('/') ? net.connect(target) : net.connect({host, port: Number(port)});
		// An address that answers on this machine's kernel connects within
		// milliseconds; one that does not answers only when ARP gives up
		// (about 3 s on Linux), which held every new gateway's start. A second
		// is plenty, and the decision waits one more turn of the event loop so
		// a connect the kernel finished while this process was not scheduled
		// (a loaded machine) is seen first, never taken for a timeout.
		const timer = setTimeout(() => {
			setImmediate(() => {
				if (results[target] === undefined) {
					results[target] = 'timeout';
					socket.destroy();
					done();
				}
			});
		}, 1000);
		socket.once('connect', () => {
			clearTimeout(timer);
			if (results[target] !== undefined) {
				return;
			}

			results[target] = 'connected';
			socket.destroy();
			done();
		});
		socket.once('error', error => {
			clearTimeout(timer);
			if (results[target] !== undefined) {
				return;
			}

			results[target] = (error as NodeJS.ErrnoException).code ?? 'error';
			done();
		});
	}
}

/**
 * `probe-proxy`: one request to this gateway's own proxy port. The daemon's
 * proxy answers 407 (no run token): the whole way from here to the daemon works.
 */
function probeProxy() {
	const port = Number(process.env[variables.port] ?? 3128);
	const socket = net.connect({host: '127.0.0.1', port});
	let answer = '';
	const timer = setTimeout(() => finish('timeout'), 30_000);
	function finish(line: string) {
		clearTimeout(timer);
		process.stdout.write(`${JSON.stringify({status: line})}\n`);
		socket.destroy();
		process.exit(0);
	}

	socket.on('connect', () => {
		socket.write('GET http://moat.hooks/ HTTP/1.1\r\nHost: moat.hooks\r\nConnection: close\r\n\r\n');
	});
	socket.on('data', (chunk: Buffer) => {
		answer += chunk.toString('latin1');
		if (answer.includes('\r\n')) {
			finish(answer.slice(0, answer.indexOf('\r\n')));
		}
	});
	socket.on('error', error => finish((error as NodeJS.ErrnoException).code ?? 'error'));
	socket.on('close', () => finish(answer || 'closed'));
}

/**
 * `relay`: a run's own relay, beside its bottle. It serves the bottle's SSH
 * agent socket (MOAT_RELAY_SOCKET) and listens on the ports of the host the
 * run was given (MOAT_RELAY_PORTS, reached by the bottle as
 * host.moat.internal:PORT without a proxy: psql, redis-cli). Each connection
 * becomes a CONNECT through the gateway with the run's token: `moat.hooks:22`
 * for the agent, `host.moat.internal:PORT` for a port; the daemon decides.
 */
function relay() {
	const socketPath = process.env[variables.relaySocket] ?? '';
	const ports = (process.env[variables.relayPorts] ?? '').split(',').filter(Boolean).map(Number);
	const proxy = new URL(process.env[variables.relayProxy] ?? '');
	const authorization = Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
	const tunnel = (target: string) => (client: net.Socket) => {
		client.pause();
		const upstream = net.connect({host: proxy.hostname, port: Number(proxy.port)});
		let answer = Buffer.alloc(0);
		upstream.on('connect', () => {
			upstream.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: Basic ${authorization}\r\n\r\n`);
		});
		const onAnswer = (chunk: Buffer) => {
			answer = Buffer.concat([answer, chunk]);
			const end = answer.indexOf('\r\n\r\n');
			if (end === -1) {
				if (answer.length > 16_384) {
					upstream.destroy();
				}

				return;
			}

			upstream.off('data', onAnswer);
			if (!answer.subarray(0, end).toString('latin1').startsWith('HTTP/1.1 200')) {
				log(`the daemon refused ${target}: ${answer.subarray(0, answer.indexOf('\r\n')).toString('latin1')}`);
				client.destroy();
				upstream.destroy();
				return;
			}

			const rest = answer.subarray(end + 4);
			if (rest.length > 0) {
				client.write(rest);
			}

			splice(client, upstream);
			client.resume();
		};

		upstream.on('data', onAnswer);
		upstream.on('error', () => client.destroy());
		client.on('error', () => upstream.destroy());
	};

	if (socketPath) {
		fs.rmSync(socketPath, {force: true});
		net.createServer(tunnel('moat.hooks:22')).listen(socketPath, () => {
			// The bottle's user may be anyone; the socket's folder is this run's alone.
			fs.chmodSync(socketPath, 0o666);
			log(`SSH agent relay on ${socketPath}`);
		});
	}

	for (const port of ports) {
		net.createServer({noDelay: true}, tunnel(`host.moat.internal:${port}`)).listen(port, '0.0.0.0', () => {
			log(`host port ${port} relayed`);
		});
	}
}

const [, , command, ...rest] = process.argv;
switch (command) {
	case 'serve': {
		serve();
		break;
	}

	case 'channel': {
		pipeTo(channelSocket);
		break;
	}

	case 'dialer': {
		pipeTo(dialerSocket);
		break;
	}

	case 'probe': {
		probe(rest);
		break;
	}

	case 'probe-proxy': {
		probeProxy();
		break;
	}

	case 'relay': {
		relay();
		break;
	}

	default: {
		log(`unknown gateway command ${command ?? '(none)'}; use serve, channel, dialer or probe`);
		process.exit(2);
	}
}
