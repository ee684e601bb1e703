import type {IncomingHttpHeaders, IncomingMessage, ServerResponse} from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type {LookupFunction} from 'node:net';
import net from 'node:net';
import type {Duplex, Transform} from 'node:stream';
import tls from 'node:tls';
import {Proxy as MitmProxy, type IWebSocketContext} from 'http-mitm-proxy';
import {WebSocketServer} from 'ws';
import {decodersFor, scrubbingStream, scrubBuffer, scrubText, type CredentialForm} from './credential-scrubber.js';
import {mergeHeaderList, type Injection} from './injection-rules.js';

/**
 * Forwarding of the requests the proxy server has judged, and the one
 * adapter over http-mitm-proxy. moat owns the listeners and the TLS
 * termination (proxy-server.ts) — http-mitm-proxy's own `listen` opens an
 * unauthenticated HTTPS listener per host on 0.0.0.0, which a sealed
 * network cannot have. Plain requests are forwarded here on Node's pooled
 * agents, one parse per request and nothing kept per request but the
 * request itself (http-mitm-proxy's pipeline made a context of some twenty
 * closures, a UUID and several filter streams for each, and ignored the
 * client's backpressure); WebSocket upgrades go through http-mitm-proxy's
 * pipeline, steered through its handlers.
 */

/** Where one request goes and what it carries, decided by the proxy server. */
export type ForwardPlan = {
	/** The host the agent asked for: TLS name and Host header stay this. */
	host: string;
	/** Where the connection really goes (an override, or the host itself). */
	address: string;
	port: number;
	secure: boolean;
	injection?: Injection;
	/** Refuses internal addresses when the name is resolved at dial time. */
	lookup?: LookupFunction;
	/**
	 * Credentials the answer must not carry back (a host that gets one may
	 * echo it): replaced in its headers, body and WebSocket messages, and
	 * `found` told which grants' (once per response, or per message).
	 */
	scrub?: {forms: readonly CredentialForm[]; found(grants: string[]): void};
	done(outcome: ForwardOutcome): void;
};

export type ForwardOutcome = {
	status: number; bytesIn: number; bytesOut: number; error?: Error;
	/** Grants whose credential the upstream sent back and moat replaced. */
	scrubbed?: string[];
};

export type MitmEngine = {
	forward(request: IncomingMessage, response: ServerResponse, plan: ForwardPlan): void;
	/** A WebSocket upgrade on an intercepted connection. */
	upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, plan: ForwardPlan): void;
	close(): void;
};

/** Replaces whatever auth the agent sent with the grant's (never merged with it). */
export function applyInjection(headers: Record<string, string | string[] | undefined>, injection: Injection | undefined): void {
	if (!injection) {
		return;
	}

	for (const name of injection.remove) {
		delete headers[name];
	}

	Object.assign(headers, injection.set);
	for (const [name, value] of Object.entries(injection.merge)) {
		const existing = headers[name];
		headers[name] = mergeHeaderList(Array.isArray(existing) ? existing.join(',') : existing, value);
	}
}

/** An answer moat gives in the upstream's place (its status and words), raised while the answer is prepared. */
type AnswerError = Error & {answer?: {status: number; text: string}};

/** Every response header value with the forms replaced; the grants found. */
function scrubHeaders(headers: Record<string, string | string[] | undefined>, forms: readonly CredentialForm[]): string[] {
	const found = new Set<string>();
	for (const [name, value] of Object.entries(headers)) {
		if (value === undefined) {
			continue;
		}

		const scrubbed = (Array.isArray(value) ? value : [value]).map(item => {
			const {output, grants} = scrubText(item, forms);
			for (const grant of grants) {
				found.add(grant);
			}

			return output;
		});
		headers[name] = Array.isArray(value) ? scrubbed : scrubbed[0];
	}

	return [...found];
}

/**
 * The request's headers as they go upstream: all but the proxy's own
 * (Proxy-Authorization carries the run's token and never leaves moat).
 * Node gives header names in lower case.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
	const copy: Record<string, string | string[] | undefined> = {};
	for (const name in headers) {
		if (!name.startsWith('proxy-')) {
			copy[name] = headers[name];
		}
	}

	return copy;
}

/** The path an absolute-form `http://` target asks for (its origin form); any other target as it is. */
export function requestPath(target: string): string {
	if (!target.startsWith('http://')) {
		return target;
	}

	const slash = target.indexOf('/', 'http://'.length);
	return slash === -1 ? '/' : target.slice(slash);
}

/**
 * The upstream's headers as the client gets them: names trimmed, and
 * public-key pins dropped (they would pin the client to the upstream's
 * key, which moat's certificate does not have).
 */
export function clientHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
	const copy: Record<string, string | string[] | undefined> = {};
	for (const name in headers) {
		if (!name.startsWith('public-key-pins')) {
			copy[name.trim()] = headers[name];
		}
	}

	return copy;
}

/** Whether a host is an IP address; a name (most hosts) is told at a glance, an address ends in a digit or has a colon. */
function isAddress(host: string): boolean {
	const last = host.codePointAt(host.length - 1) ?? 0;
	return (host.includes(':') || (last >= 0x30 && last <= 0x39)) && net.isIP(host) !== 0;
}

/**
 * `extraTrust`: CA certificates to trust besides Node's own (in-process
 * tests; the daemon gets NODE_EXTRA_CA_CERTS, which Node already trusts).
 */
export function createMitmEngine(extraTrust: readonly string[] = []): MitmEngine {
	const proxy = new MitmProxy();
	const ca = extraTrust.length > 0 ? [...tls.rootCertificates, ...extraTrust] : undefined;
	// Pooled upstream connections: keyed by address, port and TLS name.
	// Verification is stated, not inherited: NODE_TLS_REJECT_UNAUTHORIZED=0 in the
	// user's shell must never let a credential go to an unverified upstream.
	// Small writes (headers, SSE events) go out at once: Nagle would hold them for the upstream's ACK.
	// @types/node lists noDelay for sockets, not agents, though agents pass it on to their sockets.
	const pooling = {keepAlive: true, noDelay: true, maxFreeSockets: 64};
	const httpsAgent = new https.Agent({...pooling, rejectUnauthorized: true, ...(ca ? {ca} : {})});
	const httpAgent = new http.Agent(pooling);
	Object.assign(proxy, {
		options: {}, keepAlive: true, httpsAgent, httpAgent, connectRequests: {}, timeout: 0,
		// http-mitm-proxy prints every error; moat reports through the plan (network.jsonl).
		_onError() {},
	});

	/**
	 * Where the upstream connection goes and how it is verified. The
	 * certificate must name the host the agent asked for, whatever address
	 * was dialled. TLS checks it against the server name, so a name needs
	 * nothing more; and a per-request checkServerIdentity would stop Node's
	 * agent from ever reusing the connection (one TLS handshake per
	 * request). Only an address dialled under another address (an
	 * override) needs the explicit check.
	 */
	function upstreamOptions(plan: ForwardPlan): https.RequestOptions {
		const options: https.RequestOptions = {host: plan.address, port: plan.port, agent: plan.secure ? httpsAgent : httpAgent};
		if (plan.lookup) {
			options.lookup = plan.lookup;
		}

		if (plan.secure) {
			options.rejectUnauthorized = true;
			if (!isAddress(plan.host)) {
				options.servername = plan.host;
			} else if (plan.host !== plan.address) {
				options.checkServerIdentity = (_address: string, certificate: tls.PeerCertificate) => tls.checkServerIdentity(plan.host, certificate);
			}
		}

		return options;
	}

	/**
	 * One request, forwarded: its headers once parsed by Node's server go
	 * upstream as they are (with the injection applied) on a pooled
	 * connection, and the answer comes back piped, at the pace of the slower
	 * side. Whatever fails answers the client in moat's words if nothing
	 * was sent yet (the connection then closes), or cuts the answer short;
	 * either way the plan hears it once.
	 */
	function forward(request: IncomingMessage, response: ServerResponse, plan: ForwardPlan) {
		let bytesIn = 0;
		let bytesOut = 0;
		let status = 0;
		let reported = false;
		let scrubbed: Set<string> | undefined;
		const report = (error?: Error) => {
			if (reported) {
				return;
			}

			reported = true;
			const grants = scrubbed && scrubbed.size > 0 ? [...scrubbed] : undefined;
			if (grants) {
				plan.scrub?.found(grants);
			}

			plan.done({status, bytesIn, bytesOut, error, ...grants ? {scrubbed: grants} : {}});
		};

		const options = upstreamOptions(plan);
		const headers = upstreamHeaders(request.headers);
		applyInjection(headers, plan.injection);
		options.method = request.method;
		options.path = requestPath(request.url ?? '/');
		options.headers = headers as http.OutgoingHttpHeaders;
		const upstreamRequest = (plan.secure ? https : http).request(options);
		const fail = (error: Error) => {
			if (reported) {
				return;
			}

			if (response.headersSent) {
				response.destroy();
			} else {
				const blocked = (error as NodeJS.ErrnoException).code === 'EMOATBLOCKED';
				const answer = (error as AnswerError).answer;
				status = answer?.status ?? (blocked ? 403 : 502);
				response.writeHead(status, {'content-type': 'text/plain; charset=utf-8', connection: 'close'});
				response.end(answer?.text ?? (blocked ? error.message : `Moat: could not reach ${plan.host}: ${error.message}\n`));
			}

			upstreamRequest.destroy();
			report(error);
		};

		request.on('error', fail);
		response.on('error', fail);
		upstreamRequest.on('error', fail);
		response.on('close', () => {
			if (!response.writableFinished) {
				// Nothing will read the rest of the answer: the upstream connection cannot be reused.
				upstreamRequest.destroy();
			}

			report(response.writableFinished ? undefined : new Error('the client closed the connection'));
		});
		upstreamRequest.on('response', (upstream: IncomingMessage) => {
			upstream.on('error', fail);
			status = upstream.statusCode ?? 0;
			const forms = plan.scrub?.forms ?? [];
			let filters: Transform[] = [];
			if (forms.length > 0) {
				scrubbed = new Set();
				try {
					filters = scrubResponse(plan, upstream, forms, scrubbed);
				} catch (error) {
					fail(error as Error);
					return;
				}
			}

			// A client that asked with Proxy-Connection (an older client's keep-alive) is told the connection stays.
			if (request.headers['proxy-connection']) {
				upstream.headers['proxy-connection'] = 'keep-alive';
				upstream.headers.connection = 'keep-alive';
			}

			response.writeHead(status, clientHeaders(upstream.headers));
			if (filters.length === 0) {
				relay(upstream, response, bytes => {
					bytesIn += bytes;
				});
				return;
			}

			upstream.on('data', (chunk: Buffer) => {
				bytesIn += chunk.length;
			});
			let source: NodeJS.ReadableStream = upstream;
			for (const filter of filters) {
				filter.on('error', fail);
				source = source.pipe(filter);
			}

			source.pipe(response);
		});
		relay(request, upstreamRequest, bytes => {
			bytesOut += bytes;
		});
	}

	/**
	 * `from` into `to`, counted, at the pace of the slower: what `pipe`
	 * does, with one listener for data and count together and one for the
	 * end, where `pipe` adds and later removes half a dozen per request.
	 * Errors are each side's own listeners' (forward's `fail`).
	 */
	function relay(from: IncomingMessage, to: http.ClientRequest | ServerResponse, count: (bytes: number) => void) {
		const resume = () => from.resume();
		from.on('data', (chunk: Buffer) => {
			count(chunk.length);
			if (!to.write(chunk)) {
				from.pause();
				to.once('drain', resume);
			}
		});
		from.once('end', () => {
			to.end();
		});
		from.resume();
	}

	/**
	 * Headers are scrubbed in place; the body passes through the scrubber,
	 * decoded first when it is compressed (and then sent uncompressed and
	 * chunked, its length unknown). A coding moat cannot undo ends the
	 * response unsent. The scrubber keeps the length, so an uncompressed
	 * answer keeps its Content-Length.
	 */
	function scrubResponse(plan: ForwardPlan, upstream: IncomingMessage, forms: readonly CredentialForm[], scrubbed: Set<string>): Transform[] {
		const headers = upstream.headers as Record<string, string | string[] | undefined>;
		const found = (grants: string[]) => {
			for (const grant of grants) {
				scrubbed.add(grant);
			}
		};

		found(scrubHeaders(headers, forms));
		const encoding = headers['content-encoding'];
		const decoders = decodersFor(Array.isArray(encoding) ? encoding.join(',') : encoding);
		if (!decoders) {
			upstream.resume();
			throw Object.assign(new Error(`unreadable Content-Encoding ${String(encoding)}`), {answer: {
				status: 502,
				text: `Moat: ${plan.host} answered in an encoding moat cannot read (Content-Encoding: ${String(encoding)}), so moat cannot check that the answer does not carry the credential back; it is not delivered.\nAsk for gzip, deflate, br or zstd, or no encoding.\n`,
			}});
		}

		if (decoders.length > 0) {
			delete headers['content-encoding'];
			delete headers['content-length'];
			headers['transfer-encoding'] = 'chunked';
		}

		return [...decoders, scrubbingStream(forms, found)];
	}

	const upgrades = new WeakMap<IncomingMessage, ForwardPlan>();
	proxy.onWebSocketConnection((context: IWebSocketContext, callback) => {
		const request = (context.clientToProxyWebSocket as unknown as {upgradeReq: IncomingMessage} | undefined)?.upgradeReq;
		const plan = request && upgrades.get(request);
		const options = context.proxyToServerWebSocketOptions as (Record<string, unknown> & {headers: Record<string, string | string[] | undefined>}) | undefined;
		if (!plan || !options) {
			callback(new Error('upgrade without a plan'));
			return;
		}

		applyInjection(options.headers, plan.injection);
		let reported = false;
		const report = (outcome: ForwardOutcome) => {
			if (!reported) {
				reported = true;
				plan.done(outcome);
			}
		};

		Object.assign(options, {
			agent: undefined,
			// The WebSocket library dials the URL's host; moat dials the plan's address under the real TLS name.
			createConnection() {
				const socket = plan.secure
					? tls.connect({host: plan.address, port: plan.port, ...(ca ? {ca} : {}), rejectUnauthorized: true, servername: net.isIP(plan.host) ? undefined : plan.host, lookup: plan.lookup, checkServerIdentity: (_address, certificate) => tls.checkServerIdentity(plan.host, certificate)})
					: net.connect({host: plan.address, port: plan.port, lookup: plan.lookup});
				socket.once(plan.secure ? 'secureConnect' : 'connect', () => {
					report({status: 101, bytesIn: 0, bytesOut: 0});
				});
				socket.once('error', (error: NodeJS.ErrnoException) => {
					report({status: error.code === 'EMOATBLOCKED' ? 403 : 502, bytesIn: 0, bytesOut: 0, error});
				});
				return socket;
			},
		});
		callback();
	});

	// What a WebSocket upstream sends is a message at a time (ws reassembles frames), each searched whole.
	proxy.onWebSocketFrame((context: IWebSocketContext, type, fromServer, data: unknown, flags, callback) => {
		const request = (context.clientToProxyWebSocket as unknown as {upgradeReq: IncomingMessage} | undefined)?.upgradeReq;
		const scrub = request && upgrades.get(request)?.scrub;
		if (!fromServer || !scrub || scrub.forms.length === 0) {
			callback(null, data, flags);
			return;
		}

		const buffer = Buffer.isBuffer(data) ? data : (Array.isArray(data) ? Buffer.concat(data as Buffer[]) : (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data as ArrayBuffer)));
		const {output, grants} = scrubBuffer(buffer, scrub.forms);
		if (grants.length > 0) {
			scrub.found(grants);
		}

		callback(null, typeof data === 'string' ? output.toString() : output, flags);
	});

	const webSockets = new WebSocketServer({noServer: true});
	return {
		forward,
		upgrade(request, socket, head, plan) {
			upgrades.set(request, plan);
			webSockets.handleUpgrade(request, socket, head, webSocket => {
				Object.assign(webSocket, {upgradeReq: request});
				proxy._onWebSocketServerConnect(plan.secure, webSocket as never, request);
			});
		},
		close() {
			httpsAgent.destroy();
			httpAgent.destroy();
			webSockets.close();
		},
	};
}
