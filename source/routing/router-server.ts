import http, {type IncomingMessage, type ServerResponse} from 'node:http';
import net from 'node:net';
import type {Duplex} from 'node:stream';
import tls from 'node:tls';
import type {CertificateAuthority} from '../proxy/certificate-authority.js';
import {decideRoute, notUpPage, parseRouteHost, refusalPage, type RouteRun} from './route-decisions.js';

/**
 * The hostname router: one port on loopback serving every run's declared
 * services by name, over HTTP or HTTPS (the first byte tells which; HTTPS
 * uses a certificate from moat's CA for the name asked), WebSockets
 * included. Runs with the same internal ports sit side by side: each is
 * reached at its own container address.
 */
export type RouterServer = {port: number; close(): Promise<void>};

/** How long a connection may stay silent before its first bytes, and how many are served at once. */
const firstByteMilliseconds = 30_000;
const maximumConnections = 512;

export type RouterOptions = {
	host: string;
	port: number;
	authority: CertificateAuthority;
	/** The runs as the router needs them (name, ports, state, container address). */
	runs(): Promise<RouteRun[]>;
	/** Reaches a bottle's port; the gateway does it, since bottles' networks have no address here. Direct when absent. */
	connect?(host: string, port: number): Promise<Duplex>;
};

export async function startRouterServer(options: RouterOptions): Promise<RouterServer> {
	const dial = options.connect ?? (async (host: string, port: number) => new Promise<Duplex>((resolve, reject) => {
		const socket = net.connect(port, host, () => {
			socket.off('error', reject);
			resolve(socket);
		});
		socket.once('error', reject);
	}));
	const sockets = new Set<Duplex>();
	const track = (socket: Duplex) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	};

	const contexts = new Map<string, Promise<tls.SecureContext>>();
	const contextFor = async (name: string) => {
		let context = contexts.get(name);
		if (!context) {
			if (contexts.size >= 256) {
				contexts.clear();
			}

			context = options.authority.leafFor(name).then(leaf => tls.createSecureContext({cert: leaf.cert, key: leaf.key}));
			contexts.set(name, context);
			context.catch(() => contexts.delete(name));
		}

		return context;
	};

	async function route(request: IncomingMessage) {
		return decideRoute(request.headers.host, await options.runs());
	}

	function refuse(response: ServerResponse, status: number, page: string) {
		response.writeHead(status, {'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store'}).end(page);
	}

	const inner = http.createServer((request, response) => {
		route(request).then(decision => {
			if (decision.kind === 'refuse') {
				refuse(response, decision.status, refusalPage(decision));
				return;
			}

			const upstream = http.request({
				host: decision.address, port: decision.port, method: request.method, path: request.url, headers: request.headers,
				createConnection(_options: unknown, created: (error: Error | null, socket?: Duplex) => void) {
					dial(decision.address, decision.port).then(socket => {
						created(null, socket);
					}, (error: unknown) => {
						created(error as Error);
					});
					return undefined;
				},
			} as http.RequestOptions, answer => {
				response.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(response);
			});
			upstream.on('error', error => {
				const named = parseRouteHost(request.headers.host)!;
				if (response.headersSent) {
					response.destroy();
				} else {
					refuse(response, 502, notUpPage(named.service, named.runName, decision.port, (error as NodeJS.ErrnoException).code ?? error.message));
				}
			});
			request.pipe(upstream);
		}, (error: unknown) => {
			refuse(response, 500, refusalPage({kind: 'refuse', status: 500, title: 'moat could not look up the runs', detail: (error as Error).message}));
		});
	});

	inner.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
		route(request).then(decision => {
			if (decision.kind === 'refuse') {
				socket.end(`HTTP/1.1 ${decision.status} Refused\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${decision.title}\n`);
				return;
			}

			socket.on('error', () => socket.destroy());
			return dial(decision.address, decision.port).then(upstream => {
				const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/1.1`];
				for (let index = 0; index < request.rawHeaders.length; index += 2) {
					lines.push(`${request.rawHeaders[index]!}: ${request.rawHeaders[index + 1]!}`);
				}

				upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
				upstream.write(head);
				socket.pipe(upstream).pipe(socket);
				upstream.on('error', () => socket.destroy());
				socket.on('close', () => upstream.destroy());
			});
		}).catch(() => socket.destroy());
	});

	const front = net.createServer(socket => {
		track(socket);
		socket.on('error', () => undefined);
		// Anything local (a browser page too) can connect: one that never says anything is closed
		// (after its first bytes, the HTTP server's own timeouts apply).
		socket.setTimeout(firstByteMilliseconds, () => socket.destroy());
		socket.once('data', (first: Buffer) => {
			socket.setTimeout(0);
			if (first[0] !== 0x16) {
				// The HTTP server reads the socket's handle directly once it has it,
				// past anything put back into the stream: it is given the first bytes itself.
				inner.emit('connection', socket);
				socket.emit('data', first);
				return;
			}

			socket.pause();
			socket.unshift(first);

			const secure = new tls.TLSSocket(socket, {
				isServer: true,
				ALPNProtocols: ['http/1.1'],
				SNICallback(name, callback) {
					// Only service names get a certificate: the router is not a general TLS endpoint.
					// Only names of a run's declared service get a certificate: any page in a
					// browser can ask for endless *.localhost names, and each would cost a key.
					options.runs().then(async runs => {
						const decision = decideRoute(name, runs);
						if (decision.kind === 'refuse' && decision.status === 404) {
							throw new Error(`${name} is not a moat service name`);
						}

						callback(null, await contextFor(name.toLowerCase()));
					}).catch((error: unknown) => {
						callback(error as Error);
					});
				},
			});
			secure.on('error', () => secure.destroy());
			track(secure);
			inner.emit('connection', secure);
		});
	});

	front.maxConnections = maximumConnections;
	await new Promise<void>((resolve, reject) => {
		front.once('error', reject);
		front.listen(options.port, options.host, () => {
			front.off('error', reject);
			resolve();
		});
	});
	return {
		port: (front.address() as net.AddressInfo).port,
		async close() {
			for (const socket of sockets) {
				socket.destroy();
			}

			await new Promise<void>(resolve => {
				front.close(() => {
					resolve();
				});
			});
		},
	};
}
