import type {IncomingMessage, ServerResponse} from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type {LookupFunction} from 'node:net';
import net from 'node:net';
import type {Duplex} from 'node:stream';
import tls from 'node:tls';
import {Proxy as MitmProxy, type IContext, type IWebSocketContext} from 'http-mitm-proxy';
import {WebSocketServer} from 'ws';
import {decodersFor, scrubbingStream, scrubBuffer, scrubText, type CredentialForm} from './credential-scrubber.js';
import {mergeHeaderList, type Injection} from './injection-rules.js';

/**
 * The one adapter over http-mitm-proxy. moat owns the listeners and the TLS
 * termination (proxy-server.ts) — http-mitm-proxy's own `listen` opens an
 * unauthenticated HTTPS listener per host on 0.0.0.0, which a sealed
 * network cannot have — and hands each decrypted or plain request to
 * http-mitm-proxy's request pipeline, steering where it goes and what
 * headers it carries through its handlers.
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

type Outcome = {plan: ForwardPlan; bytesIn: number; bytesOut: number; status: number; reported: boolean; scrubbed: Set<string>};

/** An answer moat gives in the upstream's place (its status and words), raised from a handler. */
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
	const plans = new WeakMap<IncomingMessage, Outcome>();
	Object.assign(proxy, {
		options: {}, keepAlive: true, httpsAgent, httpAgent, connectRequests: {}, timeout: 0,
		// http-mitm-proxy prints every error and answers with its name; moat
		// reports it through the plan (network.jsonl) and answers in words.
		_onError(_kind: string, context: IContext | null, error: Error) {
			const outcome = context ? plans.get(context.clientToProxyRequest) : undefined;
			if (!outcome || !context) {
				return;
			}

			const response = context.proxyToClientResponse;
			if (!response.headersSent) {
				const blocked = (error as NodeJS.ErrnoException).code === 'EMOATBLOCKED';
				const answer = (error as AnswerError).answer;
				outcome.status = answer?.status ?? (blocked ? 403 : 502);
				response.writeHead(outcome.status, {'content-type': 'text/plain; charset=utf-8', connection: 'close'});
				response.end(answer?.text ?? (blocked ? error.message : `Moat: could not reach ${outcome.plan.host}: ${error.message}\n`));
			} else {
				response.destroy();
			}

			report(outcome, error);
		},
	});

	function report(outcome: Outcome, error?: Error) {
		if (!outcome.reported) {
			outcome.reported = true;
			if (outcome.scrubbed.size > 0) {
				outcome.plan.scrub?.found([...outcome.scrubbed]);
			}

			outcome.plan.done({status: outcome.status, bytesIn: outcome.bytesIn, bytesOut: outcome.bytesOut, error, ...outcome.scrubbed.size > 0 ? {scrubbed: [...outcome.scrubbed]} : {}});
		}
	}

	proxy.onRequest((context, callback) => {
		const outcome = plans.get(context.clientToProxyRequest);
		const options = context.proxyToServerRequestOptions;
		if (!outcome || !options) {
			callback(new Error('request without a plan'));
			return;
		}

		const {plan} = outcome;
		const headers = options.headers as Record<string, string | string[] | undefined>;
		applyInjection(headers, plan.injection);
		Object.assign(options, {
			host: plan.address,
			port: plan.port,
			...(plan.lookup ? {lookup: plan.lookup} : {}),
			...(plan.secure ? {
				rejectUnauthorized: true,
				// The certificate must name the host the agent asked for, whatever address was dialled.
				// TLS checks it against the server name, so a name needs nothing more; and a
				// per-request checkServerIdentity would stop Node's agent from ever reusing the
				// connection (one TLS handshake per request). Only an address dialled under
				// another address (an override) needs the explicit check.
				...net.isIP(plan.host)
					? (plan.host === plan.address ? {} : {checkServerIdentity: (_address: string, certificate: tls.PeerCertificate) => tls.checkServerIdentity(plan.host, certificate)})
					: {servername: plan.host},
			} : {}),
		});
		context.clientToProxyRequest.on('data', (chunk: Buffer) => {
			outcome.bytesOut += chunk.length;
		});
		context.proxyToClientResponse.on('close', () => {
			report(outcome, context.proxyToClientResponse.writableFinished ? undefined : new Error('the client closed the connection'));
		});
		callback();
	});

	proxy.onResponse((context, callback) => {
		const outcome = plans.get(context.clientToProxyRequest);
		const upstream = context.serverToProxyResponse;
		if (outcome && upstream) {
			outcome.status = upstream.statusCode ?? 0;
			upstream.on('data', (chunk: Buffer) => {
				outcome.bytesIn += chunk.length;
			});
			const forms = outcome.plan.scrub?.forms ?? [];
			if (forms.length > 0) {
				try {
					scrubResponse(context, outcome, forms);
				} catch (error) {
					callback(error as Error);
					return;
				}
			}
		}

		callback();
	});

	/**
	 * Headers are scrubbed in place; the body passes through the scrubber,
	 * decoded first when it is compressed (and then sent uncompressed, its
	 * length unknown). A coding moat cannot undo ends the response unsent.
	 */
	function scrubResponse(context: IContext, outcome: Outcome, forms: readonly CredentialForm[]) {
		const upstream = context.serverToProxyResponse!;
		const headers = upstream.headers as Record<string, string | string[] | undefined>;
		const found = (grants: string[]) => {
			for (const grant of grants) {
				outcome.scrubbed.add(grant);
			}
		};

		found(scrubHeaders(headers, forms));
		const encoding = headers['content-encoding'];
		const decoders = decodersFor(Array.isArray(encoding) ? encoding.join(',') : encoding);
		if (!decoders) {
			upstream.resume();
			throw Object.assign(new Error(`unreadable Content-Encoding ${String(encoding)}`), {answer: {
				status: 502,
				text: `Moat: ${outcome.plan.host} answered in an encoding moat cannot read (Content-Encoding: ${String(encoding)}), so moat cannot check that the answer does not carry the credential back; it is not delivered.\nAsk for gzip, deflate, br or zstd, or no encoding.\n`,
			}});
		}

		if (decoders.length > 0) {
			delete headers['content-encoding'];
			// http-mitm-proxy then drops Content-Length and sends the body chunked.
			Object.assign(context, {responseContentPotentiallyModified: true});
			for (const decoder of decoders) {
				context.addResponseFilter(decoder);
			}
		}

		// Added to the list itself: addResponseFilter would also drop a Content-Length the scrubber keeps true.
		context.responseFilters.push(scrubbingStream(forms, found));
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
		forward(request, response, plan) {
			plans.set(request, {plan, bytesIn: 0, bytesOut: 0, status: 0, reported: false, scrubbed: new Set()});
			proxy._onHttpServerRequest(plan.secure, request, response);
		},
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
