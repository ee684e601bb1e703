import http2 from 'node:http2';
import type {Duplex} from 'node:stream';

/**
 * The daemon's ends of the gateway's Docker API channel (README: The
 * gateway): HTTP/2 over an exec's stdin and stdout. In `serveChannel` the
 * gateway opens a CONNECT stream per bottle connection and the daemon hands
 * each to the proxy; in `openDialer` the daemon asks the gateway to connect
 * to a bottle's port (the hostname router). HTTP/2 brings the multiplexing
 * and the per-stream flow control a byte pipe lacks.
 */

/** Large windows: one stream must not stall a download on HTTP/2's default 64 KiB. */
const windowBytes = 16 * 1024 * 1024;
const settings = {initialWindowSize: windowBytes, maxConcurrentStreams: 10_000};

export type Channel = {
	/** Resolves when the other end has spoken HTTP/2: the channel works. */
	readonly ready: Promise<void>;
	/** Resolves when the channel has ended (the gateway or the exec went away). */
	readonly closed: Promise<void>;
	close(): void;
};

/** Serves the gateway's CONNECT streams over `pipe`, handing each to `accept` as a connection. */
export function serveChannel(pipe: Duplex, accept: (stream: Duplex) => void): Channel {
	const server = http2.createServer({settings});
	let session: http2.ServerHttp2Session | undefined;
	let settled!: () => void;
	const ready = new Promise<void>(resolve => {
		settled = resolve;
	});
	const closed = new Promise<void>(resolve => {
		server.on('session', opened => {
			session = opened;
			opened.once('remoteSettings', () => {
				settled();
			});
			opened.on('connect', () => {
				opened.setLocalWindowSize(windowBytes);
			});
			opened.on('close', () => {
				resolve();
			});
			opened.on('error', () => opened.destroy());
		});
		pipe.on('close', () => {
			resolve();
		});
	});
	server.on('stream', (stream, headers) => {
		if (headers[':method'] !== 'CONNECT') {
			stream.respond({':status': 405});
			stream.end();
			return;
		}

		stream.respond({':status': 200});
		stream.on('error', () => stream.destroy());
		accept(stream);
	});
	pipe.on('error', () => pipe.destroy());
	server.emit('connection', pipe);
	return {
		ready,
		closed,
		close() {
			session?.destroy();
			pipe.destroy();
		},
	};
}

export type Dialer = Channel & {
	/** A connection to `host:port` as the gateway sees it (a bottle's address). */
	dial(host: string, port: number): Promise<Duplex>;
};

export function openDialer(pipe: Duplex): Dialer {
	const session = http2.connect('http://moat-gateway', {createConnection: () => pipe, settings});
	session.on('error', () => session.destroy());
	session.on('connect', () => {
		session.setLocalWindowSize(windowBytes);
	});
	const ready = new Promise<void>(resolve => {
		session.once('remoteSettings', () => {
			resolve();
		});
	});
	const closed = new Promise<void>(resolve => {
		session.on('close', () => {
			resolve();
		});
	});
	return {
		ready,
		closed,
		close() {
			session.destroy();
			pipe.destroy();
		},
		async dial(host, port) {
			if (session.destroyed) {
				throw new Error('the gateway\'s channel is closed');
			}

			const stream = session.request({':method': 'CONNECT', ':authority': host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`});
			return new Promise((resolve, reject) => {
				stream.once('response', headers => {
					const status = Number(headers[':status']);
					if (status === 200) {
						resolve(stream);
					} else {
						stream.destroy();
						reject(new Error(status === 502 ? `connection refused by ${host}:${port} (${String(headers['moat-error'] ?? 'error')})` : `the gateway refused to reach ${host}:${port} (${status})`));
					}
				});
				stream.once('error', reject);
			});
		},
	};
}
