import dns from 'node:dns';
import http, {type IncomingMessage, type ServerResponse} from 'node:http';
import net, {type LookupFunction} from 'node:net';
import os from 'node:os';
import type {Duplex} from 'node:stream';
import tls from 'node:tls';
import type {CredentialProcessOutput} from '../credentials/aws-credential-process.js';
import {answerAuthRequest} from '../credentials/chatgpt-login.js';
import {resolveUpstream, type UpstreamOverrides} from '../network/upstream-overrides.js';
import {agentActivities, type AgentActivity} from '../runs/run-metadata.js';
import type {CertificateAuthority} from './certificate-authority.js';
import {admitConnection, refusalRecorded, type ConnectionLimits} from './connection-limits.js';
import {credentialForms} from './credential-scrubber.js';
import {answeringGrant, injectedEndpoints, injectedHosts, injectionFor, type InjectableGrant} from './injection-rules.js';
import {createMitmEngine, type ForwardOutcome} from './mitm-engine.js';
import {blockedResponseText, decide, namesAgree, type NetworkPolicy} from './network-policy.js';
import {gateRequest, hostPortDecision, hostServicesName, internalAnswer, parseConnectTarget, proxyToken, type GateDecision} from './proxy-decisions.js';
import {awsCredentialsPath, hooksHost, sshAgentPort} from '../network/moat-hooks.js';
import {canonicalHost, formatIpAddress, hostAddressIn, parseIpAddress, type IpAddress} from '../network/ip-address.js';

/**
 * The credential-injecting proxy (README: The network). It listens where the runs'
 * network can reach it and nowhere else, knows each run by the token in its
 * proxy URL, checks every request against the run's policy and the
 * never-dial list, intercepts TLS with moat's CA so credentials can be
 * injected (over verified TLS only), and reports every request.
 */

/** What the proxy knows about a run, looked up by its token. */
export type ProxyRun = {
	runId: string;
	agent: string | null;
	policy: NetworkPolicy;
	/** The run's grants with their values, loaded when first needed. */
	grants(): Promise<InjectableGrant[]>;
	/** Grant provider/kind pairs, known without loading any value. */
	grantKinds: ReadonlyArray<Pick<InjectableGrant, 'provider' | 'kind'>>;
	/** Hosts of the run's ssh: grants (`host` or `host:port`). */
	sshHosts?: readonly string[];
	/** Ports of this machine the run may reach as host.moat.internal (network.host). */
	hostPorts?: readonly number[];
	/**
	 * For runs with an aws grant: short-lived credentials for the container's
	 * credential_process helper (credentials/aws-credential-process.ts). An
	 * error with a `status` is answered with it, any other with 502.
	 */
	awsCredentials?(): Promise<CredentialProcessOutput>;
	/** For runs with ssh: grants: speaks the agent protocol on a connection from the bottle's agent relay. */
	sshAgent?(socket: Duplex): void;
};

/** One line of network.jsonl. */
export type NetworkEntry = {
	ts: string;
	method: string;
	url: string;
	status: number;
	duration_ms: number;
	bytes_in: number;
	bytes_out: number;
	grant: string | null;
	blocked: boolean;
	error: string | null;
};


export type ProxyObserver = {
	/** An agent's hook reported what it is doing (see agents/claude-hooks.ts). */
	activity?(runId: string, state: AgentActivity): void;
	request(runId: string, entry: NetworkEntry): void;
	injected(runId: string, grant: string, host: string): void;
	/** An upstream sent a grant's credential back; moat replaced it before the agent saw it. */
	scrubbed(runId: string, grants: readonly string[], host: string): void;
	blocked(runId: string, host: string, reason: string): void;
	/** The run reached a port of this machine it was given (network.host). */
	hostReached?(runId: string, port: number): void;
};

export type ProxyServerOptions = {
	/** Where it listens for TCP connections; absent, it only takes what `accept` hands it (the gateway's connections). */
	listen?: {host: string; port: number};
	authority: CertificateAuthority;
	overrides: UpstreamOverrides;
	runForToken(token: string): ProxyRun | undefined;
	observer: ProxyObserver;
	/** CA certificates trusted upstream besides Node's own (see createMitmEngine). */
	extraTrust?: readonly string[];
	/** How many connections a run, and all runs, may hold open (connection-limits.ts); unlimited when absent. */
	limits?: ConnectionLimits;
	now?: () => Date;
};

export type ProxyServer = {
	/** Where it listens (empty host and port 0 when it does not). */
	readonly host: string;
	readonly port: number;
	/** Serves a connection that reached moat another way (the gateway's socket or channel). */
	accept(socket: Duplex): void;
	/** Ends every connection a run has open: its token was revoked. */
	disconnect(runId: string): void;
	close(): Promise<void>;
};

/**
 * A CONNECT tunnel: whose it is (by token, checked again on each request)
 * and where it goes. `lookup` gives the addresses checked before the tunnel
 * was answered, so the dial uses the answer that was judged. A tunnel
 * refused after its 200 (`refusal`) is answered inside, request by request,
 * with moat's words, and never dialled.
 */
type Connection = {
	run: ProxyRun; token: string; host: string; port: number;
	lookup?: LookupFunction;
	refusal?: TunnelRefusal;
	/** What every request in the tunnel shares, made on its first request (see tunnelRoute). */
	route?: TunnelRoute;
};

/**
 * What the requests of one intercepted tunnel have in common, worked out
 * once: where they go, what they are logged and matched as, and the last
 * Host header found to name the tunnel's host (the same string agrees
 * again without being parsed again).
 */
type TunnelRoute = {
	upstream: {address: string; port: number; lookup: LookupFunction | undefined};
	/** `host:port`, what injection rules are matched against. */
	endpoint: string;
	/** `https://host[:port]`, the start of each request's logged URL. */
	origin: string;
	agreedHostHeader?: string;
	/** Whether answers are searched for credentials, for the grant kinds it was decided for. */
	scrubbing?: {kinds: ProxyRun['grantKinds']; value: boolean};
};

/** Why a tunnel goes nowhere, in the words its requests are answered with. */
type TunnelRefusal = {status: number; reason: string; message: string; blocked: boolean; answered: number};

/** Caches of per-host TLS material are dropped whole past this size: random names must not grow them forever. */
const maximumCachedHosts = 2000;
/** A tunnel whose client says nothing this long is a server-speaks-first protocol: tunnel it as is. */
const firstByteMilliseconds = 2000;

/** The blocked error a guarded lookup raises: the mitm engine answers it with 403. */
function blockedError(message: string): NodeJS.ErrnoException {
	return Object.assign(new Error(message), {code: 'EMOATBLOCKED'});
}

/** The addresses of this machine's interfaces, canonical: never dialled for an agent, public or not, in any spelling. */
function hostAddresses(): Set<string> {
	return new Set(Object.values(os.networkInterfaces()).flatMap(entries => (entries ?? []).flatMap(entry => {
		const address = parseIpAddress(entry.address);
		return address ? [formatIpAddress(address)] : [];
	})));
}

let knownHostAddresses = hostAddresses();
let hostAddressesRead = Date.now();
/** Interfaces come and go (VPNs, Docker networks): re-read at most every few seconds. */
export function isHostAddress(address: IpAddress): boolean {
	if (Date.now() - hostAddressesRead > 5000) {
		knownHostAddresses = hostAddresses();
		hostAddressesRead = Date.now();
	}

	return hostAddressIn(address, knownHostAddresses);
}

/**
 * Resolves a name as net.connect would, but refuses if any address it gets
 * is internal or the machine's own: the check and the dial use the same
 * answer, so DNS cannot change it in between.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
	dns.lookup(hostname, {...options, all: true}, (error, addresses) => {
		if (error) {
			callback(error, '', 0);
			return;
		}

		const internal = internalAnswer(addresses, isHostAddress);
		if (internal) {
			callback(blockedError(blockedResponseText(hostname, `it resolves to ${internal.address}, an internal address agents may never reach.`)), '', 0);
			return;
		}

		if ((options as {all?: boolean}).all) {
			(callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, addresses);
		} else {
			callback(null, addresses[0]!.address, addresses[0]!.family);
		}
	});
};

/** A name's addresses as guardedLookup judges them: rejects with its blocked error when any is internal. */
async function resolveGuarded(hostname: string): Promise<dns.LookupAddress[]> {
	return new Promise((resolve, reject) => {
		guardedLookup(hostname, {all: true}, (error, addresses) => {
			if (error) {
				reject(error);
			} else {
				resolve(addresses as unknown as dns.LookupAddress[]);
			}
		});
	});
}

/** A lookup that answers with addresses already resolved and judged, whatever name it is asked. */
function pinnedLookup(addresses: readonly dns.LookupAddress[]): LookupFunction {
	return (_hostname, options, callback) => {
		const family = (options as {family?: number | string}).family;
		const wanted = family === 4 || family === 6 ? addresses.filter(entry => entry.family === family) : addresses;
		if ((options as {all?: boolean}).all) {
			(callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, [...wanted]);
		} else if (wanted[0]) {
			callback(null, wanted[0].address, wanted[0].family);
		} else {
			callback(Object.assign(new Error(`no IPv${String(family)} address`), {code: 'ENOTFOUND'}), '', 0);
		}
	};
}

/** `host:port`, bracketed for IPv6: what injection rules are matched against. */
function authorityOf(host: string, port: number): string {
	return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
	const now = options.now ?? (() => new Date());
	const engine = createMitmEngine(options.extraTrust);
	const connections = new WeakMap<Duplex, Connection>();
	const contexts = new Map<string, Promise<tls.SecureContext>>();
	const sockets = new Set<Duplex>();
	const socketsOfRun = new Map<string, Set<Duplex>>();
	// Connections counted against their run's limit, until they close.
	const counted = new WeakSet<Duplex>();
	const openOfRun = new Map<string, number>();
	let openTotal = 0;
	const refusalsOfRun = new Map<string, number>();

	/**
	 * Counts a bottle's connection against its run's limit (once, whatever it
	 * carries), or says why it cannot be taken on. Refusals are answered
	 * every time but written down only now and then (refusalRecorded).
	 */
	function admit(run: ProxyRun, socket: Duplex, started: number, what: {method: string; url: string; host: string}): {allowed: true} | {allowed: false; status: number; message: string} {
		if (!options.limits || counted.has(socket)) {
			return {allowed: true};
		}

		const admission = admitConnection({run: openOfRun.get(run.runId) ?? 0, total: openTotal}, options.limits);
		if (!admission.allowed) {
			const refusals = (refusalsOfRun.get(run.runId) ?? 0) + 1;
			refusalsOfRun.set(run.runId, refusals);
			if (refusalRecorded(refusals)) {
				const reason = `${admission.reason} (${refusals} refused so far)`;
				options.observer.blocked(run.runId, what.host, reason);
				report(run, started, {method: what.method, url: what.url, status: admission.status, bytes_in: 0, bytes_out: 0, grant: null, blocked: true, error: reason});
			}

			return admission;
		}

		counted.add(socket);
		openOfRun.set(run.runId, (openOfRun.get(run.runId) ?? 0) + 1);
		openTotal++;
		socket.once('close', () => {
			openTotal--;
			const left = (openOfRun.get(run.runId) ?? 1) - 1;
			if (left > 0) {
				openOfRun.set(run.runId, left);
			} else {
				openOfRun.delete(run.runId);
			}
		});
		return {allowed: true};
	}

	function track(socket: Duplex, runId?: string) {
		sockets.add(socket);
		if (runId) {
			const owned = socketsOfRun.get(runId) ?? new Set();
			owned.add(socket);
			socketsOfRun.set(runId, owned);
		}

		socket.on('close', () => {
			sockets.delete(socket);
			if (runId) {
				socketsOfRun.get(runId)?.delete(socket);
				if (socketsOfRun.get(runId)?.size === 0) {
					socketsOfRun.delete(runId);
				}
			}
		});
	}

	function report(run: ProxyRun, started: number, entry: Omit<NetworkEntry, 'ts' | 'duration_ms'>) {
		options.observer.request(run.runId, {ts: new Date(started).toISOString(), duration_ms: Math.max(0, now().getTime() - started), ...entry});
	}

	function gate(run: ProxyRun, host: string, port: number): GateDecision {
		if (host === hostServicesName) {
			const decision = hostPortDecision(port, run.hostPorts ?? []);
			if (decision.allowed) {
				options.observer.hostReached?.(run.runId, port);
			}

			return decision;
		}

		const upstream = resolveUpstream(options.overrides, host, port);
		return gateRequest({
			host,
			port,
			overridden: upstream.overridden,
			isHostAddress,
			policyDecision: decide(run.policy, host, port, {grantHosts: injectedHosts(run.grantKinds), sshHosts: run.sshHosts, agent: run.agent}),
		});
	}

	/** The tunnel's shared route, made on its first request. */
	function tunnelRoute(connection: Connection): TunnelRoute {
		if (!connection.route) {
			const {host, port} = connection;
			const upstream = upstreamFor(host, port);
			connection.route = {
				// The addresses judged before the tunnel was answered are the ones dialled.
				upstream: connection.lookup ? {...upstream, lookup: connection.lookup} : upstream,
				endpoint: authorityOf(host, port),
				origin: `https://${host}${port === 443 ? '' : `:${port}`}`,
			};
		}

		return connection.route;
	}

	/**
	 * Whether answers from `host:port` are searched for the run's
	 * credentials: a host that gets one may echo it. Decided again whenever
	 * the run's grant kinds change (they are known better once its grants
	 * are read).
	 */
	function scrubbing(run: ProxyRun, host: string, port: number, route: TunnelRoute | undefined): boolean {
		if (route?.scrubbing?.kinds === run.grantKinds) {
			return route.scrubbing.value;
		}

		const value = injectedEndpoints(run.grantKinds).includes(`${host}:${port}`);
		if (route) {
			route.scrubbing = {kinds: run.grantKinds, value};
		}

		return value;
	}

	function upstreamFor(host: string, port: number) {
		// Only reached once the gate allowed this port of this machine for the run.
		if (host === hostServicesName) {
			return {address: '127.0.0.1', port, lookup: undefined};
		}

		const upstream = resolveUpstream(options.overrides, host, port);
		// A name moat resolves itself is checked at dial time; an override is the user's own routing.
		return {address: upstream.address, port: upstream.port, lookup: upstream.overridden ? undefined : guardedLookup};
	}

	function authenticate(request: IncomingMessage): {run: ProxyRun; token: string} | undefined {
		const token = proxyToken(request.headers['proxy-authorization']);
		const run = token ? options.runForToken(token) : undefined;
		return run && token ? {run, token} : undefined;
	}

	async function secureContextFor(host: string): Promise<tls.SecureContext> {
		let context = contexts.get(host);
		if (!context) {
			if (contexts.size >= maximumCachedHosts) {
				contexts.clear();
			}

			context = options.authority.leafFor(host).then(leaf => tls.createSecureContext({cert: leaf.cert, key: leaf.key}));
			contexts.set(host, context);
			context.catch(() => contexts.delete(host));
		}

		return context;
	}

	function forward(connection: Connection | undefined, secure: boolean, request: IncomingMessage, response: ServerResponse, upgrade?: {socket: Duplex; head: Buffer}) {
		const started = now().getTime();
		let run = connection?.run;
		let host: string;
		let port: number;
		let url: string;
		if (connection) {
			({host, port} = connection);
			// A revoked token ends the tunnel, even one opened before.
			if (options.runForToken(connection.token) !== connection.run) {
				proxyAuthenticationRequired(response, upgrade?.socket);
				request.socket.destroy();
				return;
			}

			// Inside a tunnel the Host header must be there and name the tunnel's
			// host, and the target must be a path: an absolute URL naming another
			// authority would be checked against one host and meant for another.
			const route = tunnelRoute(connection);
			const target = originForm(request.url ?? '', host);
			const hostHeader = request.headers.host;
			const agrees = hostHeader !== undefined && hostHeader !== '' && (hostHeader === route.agreedHostHeader || namesAgree({connect: host, hostHeader}));
			if (!agrees || target === undefined) {
				refuse(response, upgrade?.socket, 421, `Moat: request refused: the request names "${request.headers.host ?? ''}" (${request.url ?? ''}), not the tunnel's host "${host}".\n`);
				report(run!, started, {method: request.method ?? '', url: `https://${host}`, status: 421, bytes_in: 0, bytes_out: 0, grant: null, blocked: true, error: 'host mismatch'});
				return;
			}

			route.agreedHostHeader = hostHeader;
			request.url = target;
			url = route.origin + target;
			const {refusal} = connection;
			if (refusal) {
				refusal.answered++;
				refuse(response, upgrade?.socket, refusal.status, refusal.message);
				report(run!, started, {method: request.method ?? '', url, status: refusal.status, bytes_in: 0, bytes_out: 0, grant: null, blocked: refusal.blocked, error: refusal.reason});
				return;
			}
		} else {
			const caller = authenticate(request);
			if (!caller) {
				proxyAuthenticationRequired(response, upgrade?.socket);
				return;
			}

			run = caller.run;
			const admission = admit(run, request.socket, started, {method: request.method ?? '', url: request.url ?? '', host: request.headers.host ?? ''});
			if (!admission.allowed) {
				// The connection itself is what is over the limit: it ends with the answer.
				response.shouldKeepAlive = false;
				refuse(response, upgrade?.socket, admission.status, admission.message);
				return;
			}

			let target: URL;
			try {
				target = new URL(request.url ?? '');
			} catch {
				refuse(response, upgrade?.socket, 400, 'Moat: this is a proxy; send requests through HTTP_PROXY with an absolute URL.\n');
				return;
			}

			if (target.protocol !== 'http:' || !namesAgree({connect: target.host, hostHeader: request.headers.host})) {
				refuse(response, upgrade?.socket, 400, 'Moat: request refused: the URL and the Host header name different hosts.\n');
				return;
			}

			// The URL parser already reads IPv4 as resolvers do; an IPv4-mapped address becomes dotted too.
			host = canonicalHost(target.hostname) ?? target.hostname;
			port = Number(target.port || 80);
			url = target.href;
			// Answered here in every policy mode: the hooks host never leaves the proxy.
			if (host === hooksHost && new URL(url).pathname === awsCredentialsPath) {
				answerAwsCredentials(run, request, response, {started, url});
				return;
			}

			if (host === hooksHost) {
				receiveHook(run, request, response);
				return;
			}

			const decision = gate(run, host, port);
			if (!decision.allowed) {
				refuse(response, upgrade?.socket, 403, decision.message);
				options.observer.blocked(run.runId, host, decision.reason);
				report(run, started, {method: request.method ?? '', url, status: 403, bytes_in: 0, bytes_out: 0, grant: null, blocked: true, error: decision.reason});
				return;
			}
		}

		const activeRun = run!;
		const route = connection?.route;
		const upstream = route ? route.upstream : upstreamFor(host, port);
		const endpoint = route ? route.endpoint : authorityOf(host, port);
		const plan = async () => {
			const grants = secure ? await activeRun.grants() : [];
			const answering = answeringGrant(grants, endpoint);
			if (answering) {
				return {answering};
			}

			// Credentials only over TLS the agent cannot read (the upstream's is verified by the engine).
			const injection = secure ? injectionFor(grants, endpoint, true, request.url ?? '/') : undefined;
			// TRACE echoes the request back: with a credential in it, that would hand the agent the token.
			if (injection && request.method === 'TRACE') {
				throw Object.assign(new Error('TRACE to a host that gets credentials is refused'), {status: 405});
			}

			if (injection) {
				options.observer.injected(activeRun.runId, injection.grant, host);
			}

			// A host that gets a credential may echo it: its answers are searched for every form of every grant's.
			const scrub = secure && scrubbing(activeRun, host, port, route) ? {
				forms: credentialForms(grants),
				found(found: string[]) {
					options.observer.scrubbed(activeRun.runId, found, host);
				},
			} : undefined;
			return {
				host, ...upstream, secure, injection, scrub,
				done(outcome: ForwardOutcome) {
					const blocked = (outcome.error as NodeJS.ErrnoException | undefined)?.code === 'EMOATBLOCKED';
					if (blocked) {
						options.observer.blocked(activeRun.runId, host, 'internal address');
					}

					report(activeRun, started, {
						method: request.method ?? '', url, status: outcome.status, bytes_in: outcome.bytesIn, bytes_out: outcome.bytesOut,
						grant: injection?.grant ?? null, blocked,
						error: outcome.error ? outcome.error.message.split('\n')[0]! : (outcome.scrubbed ? `the answer carried the ${outcome.scrubbed.join(', ')} credential back; moat replaced it` : null),
					});
				},
			};
		};

		request.pause();
		plan().then(forwardPlan => {
			try {
				if ('answering' in forwardPlan && forwardPlan.answering) {
					answerLocally(activeRun, forwardPlan.answering, request, response, upgrade?.socket, {started, url});
				} else if (upgrade) {
					engine.upgrade(request, upgrade.socket, upgrade.head, forwardPlan);
				} else {
					engine.forward(request, response, forwardPlan);
				}
			} catch (error) {
				// Whatever a malformed request makes the pipeline throw ends that request, never the daemon.
				failed(response, upgrade?.socket, error);
			}
		}, (error: unknown) => {
			const status = (error as {status?: number}).status;
			refuse(response, upgrade?.socket, status ?? 502, status ? `Moat: ${(error as Error).message}.\n` : `Moat: the run's credentials could not be loaded: ${(error as Error).message}\n`);
		}).catch((error: unknown) => {
			failed(response, upgrade?.socket, error);
		});
	}

	/** A request the run's grant has the proxy answer (a ChatGPT login's token refresh): never forwarded. */
	function answerLocally(run: ProxyRun, grant: InjectableGrant, request: IncomingMessage, response: ServerResponse, upgradeSocket: Duplex | undefined, entry: {started: number; url: string}) {
		const answer = answerAuthRequest(grant.token, upgradeSocket ? 'UPGRADE' : request.method ?? '', request.url ?? '/');
		const done = (bytesOut: number) => {
			report(run, entry.started, {
				method: request.method ?? '', url: entry.url, status: answer.status, bytes_in: answer.body.length, bytes_out: bytesOut,
				grant: answer.status === 200 ? grant.name : null, blocked: answer.status !== 200, error: answer.status === 200 ? null : 'answered by moat',
			});
		};

		if (upgradeSocket) {
			refuse(response, upgradeSocket, answer.status, `${answer.body}\n`);
			done(0);
			return;
		}

		let bytesOut = 0;
		request.on('data', (chunk: Buffer) => {
			bytesOut += chunk.length;
		});
		request.once('end', () => {
			response.writeHead(answer.status, {'content-type': 'application/json', 'cache-control': 'no-store'}).end(answer.body);
			done(bytesOut);
		});
		request.resume();
	}

	/**
	 * `GET http://moat.hooks/aws/credentials`: the run's AWS session, in the
	 * credential_process format, for the helper in its container. Over plain
	 * HTTP, like the proxy URL with the run's token itself: both travel only
	 * on the sealed network between the container and the proxy.
	 */
	function answerAwsCredentials(run: ProxyRun, request: IncomingMessage, response: ServerResponse, entry: {started: number; url: string}) {
		const done = (status: number, body: string, error: string | null) => {
			if (status === 200) {
				response.writeHead(200, {'content-type': 'application/json', 'cache-control': 'no-store'}).end(body);
			} else {
				refuse(response, undefined, status, body);
			}

			report(run, entry.started, {
				method: request.method ?? '', url: entry.url, status, bytes_in: Buffer.byteLength(body), bytes_out: 0,
				grant: status === 200 ? 'aws' : null, blocked: status === 403 || status === 405, error,
			});
		};

		request.resume();
		if (request.method !== 'GET') {
			done(405, `Moat: AWS credentials are fetched with GET http://${hooksHost}${awsCredentialsPath}.\n`, 'method not allowed');
			return;
		}

		if (!run.awsCredentials) {
			options.observer.blocked(run.runId, hooksHost, 'AWS credentials asked for without an aws grant');
			done(403, 'Moat: this run has no aws grant, so it gets no AWS credentials.\nStore one with moat grant aws --role ARN, then start the run with --grant aws.\n', 'no aws grant');
			return;
		}

		run.awsCredentials().then(credentials => {
			done(200, JSON.stringify(credentials), null);
		}, (error: unknown) => {
			// The reason is STS's message or moat's own words: never a key.
			const status = (error as {status?: number}).status ?? 502;
			const reason = (error as Error).message.split('\n')[0]!;
			const hint = (error as {hint?: string}).hint;
			done(status, `Moat: no AWS credentials for this run: ${reason}\n${hint ? `${hint}\n` : ''}`, reason);
		}).catch((error: unknown) => {
			failed(response, undefined, error);
		});
	}

	/** `POST http://moat.hooks/activity` with `working` or `waiting`: answered here, never forwarded. */
	function receiveHook(run: ProxyRun, request: IncomingMessage, response: ServerResponse) {
		let body = '';
		request.setEncoding('utf8');
		request.on('data', (chunk: string) => {
			body = (body + chunk).slice(0, 64);
		});
		request.on('end', () => {
			const state = body.trim();
			if (request.method !== 'POST' || new URL(request.url ?? '/', 'http://x').pathname !== '/activity' || !(agentActivities as readonly string[]).includes(state)) {
				refuse(response, undefined, 400, 'Moat: hooks post working or waiting to http://moat.hooks/activity.\n');
				return;
			}

			options.observer.activity?.(run.runId, state as AgentActivity);
			response.writeHead(204).end();
		});
	}

	function failed(response: ServerResponse, socket: Duplex | undefined, error: unknown) {
		try {
			refuse(response, socket, 400, `Moat: the request could not be handled: ${(error as Error).message}\n`);
		} catch {
			(socket ?? response.socket)?.destroy();
		}
	}

	// Requests inside intercepted TLS tunnels: never listening, fed by CONNECT.
	const inner = http.createServer({noDelay: true});
	inner.on('request', (request: IncomingMessage, response: ServerResponse) => {
		try {
			forward(connections.get(request.socket), true, request, response);
		} catch (error) {
			failed(response, undefined, error);
		}
	});
	inner.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
		const connection = connections.get(request.socket);
		socket.on('error', () => socket.destroy());
		try {
			if (connection) {
				forward(connection, true, request, new http.ServerResponse(request), {socket, head});
			} else {
				socket.destroy();
			}
		} catch (error) {
			failed(new http.ServerResponse(request), socket, error);
		}
	});

	const front = http.createServer({noDelay: true});
	front.on('connection', track);
	front.on('request', (request: IncomingMessage, response: ServerResponse) => {
		try {
			forward(undefined, false, request, response);
		} catch (error) {
			failed(response, undefined, error);
		}
	});
	front.on('upgrade', (_request: IncomingMessage, socket: Duplex) => {
		// WebSockets over plain HTTP are not proxied (no credential could be added anyway).
		writeRaw(socket, 501, 'Moat: WebSocket upgrades are proxied over TLS (wss://) only.\n');
	});
	front.on('connect', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
		socket.on('error', () => socket.destroy());
		try {
			connect(request, socket, head);
		} catch {
			socket.destroy();
		}
	});

	function connect(request: IncomingMessage, socket: Duplex, head: Buffer) {
		const started = now().getTime();
		const caller = authenticate(request);
		if (!caller) {
			writeRaw(socket, 407, 'Moat: proxy authentication required; use the proxy URL from HTTP_PROXY.\n', {'proxy-authenticate': 'Basic realm="moat"'});
			return;
		}

		const {run, token} = caller;
		const admission = admit(run, socket, started, {method: 'CONNECT', url: request.url ?? '', host: request.url ?? ''});
		if (!admission.allowed) {
			writeRaw(socket, admission.status, admission.message);
			return;
		}

		track(socket, run.runId);

		const target = parseConnectTarget(request.url ?? '');
		if (!target || !namesAgree({connect: request.url ?? '', hostHeader: request.headers.host})) {
			writeRaw(socket, 400, 'Moat: CONNECT needs host:port, and its Host header must name the same host.\n');
			report(run, started, {method: 'CONNECT', url: request.url ?? '', status: 400, bytes_in: 0, bytes_out: 0, grant: null, blocked: true, error: 'bad CONNECT target'});
			return;
		}

		const {host, port} = target;
		if (host === hooksHost && port === sshAgentPort) {
			agentTunnel(run, socket, head);
			return;
		}

		const connection: Connection = {run, token, host, port};
		// A client that shows the CONNECT's own answer (moat's ssh proxy command says so) gets the refusal there.
		const readsStatus = request.headers[statusRefusalHeader] === 'status';
		const decision = gate(run, host, port);
		if (!decision.allowed) {
			options.observer.blocked(run.runId, host, decision.reason);
			refuseInTunnel(socket, head, {...connection, refusal: {status: 403, reason: decision.reason, message: decision.message, blocked: true, answered: 0}}, started, readsStatus);
			return;
		}

		// A name moat resolves itself is resolved and judged now, before any 200: a
		// refusal is then answered like the policy's, and the dial uses this answer.
		const upstream = upstreamFor(host, port);
		if (!upstream.lookup) {
			openTunnel(socket, head, connection, started);
			return;
		}

		socket.pause();
		resolveGuarded(upstream.address).then(addresses => {
			if (!socket.destroyed) {
				openTunnel(socket, head, {...connection, lookup: pinnedLookup(addresses)}, started);
			}
		}, (error: NodeJS.ErrnoException) => {
			if (socket.destroyed) {
				return;
			}

			const blocked = error.code === 'EMOATBLOCKED';
			if (blocked) {
				options.observer.blocked(run.runId, host, 'internal address');
			}

			const refusal = blocked
				? {status: 403, reason: error.message.split('\n')[0]!, message: error.message, blocked}
				: {status: 502, reason: error.message.split('\n')[0]!, message: `Moat: could not reach ${host}: ${error.message}\n`, blocked};
			refuseInTunnel(socket, head, {...connection, refusal: {...refusal, answered: 0}}, started, readsStatus);
		}).catch(() => socket.destroy());
	}

	/** What a tunnel's client sends first, or undefined if it says nothing for a while (a server-speaks-first protocol). */
	function firstBytes(socket: Duplex, head: Buffer, then: (first: Buffer | undefined) => void) {
		const begin = (first: Buffer | undefined) => {
			socket.pause();
			if (first) {
				socket.unshift(first);
			}

			then(first);
		};

		if (head.length > 0) {
			begin(head);
			return;
		}

		const waiting = setTimeout(() => {
			socket.off('data', heard);
			begin(undefined);
		}, firstByteMilliseconds);
		const heard = (first: Buffer) => {
			clearTimeout(waiting);
			begin(first);
		};

		socket.once('data', heard);
		socket.resume();
		socket.once('close', () => clearTimeout(waiting));
	}

	/**
	 * A tunnel that goes nowhere, answered so the agent can read why: its
	 * CONNECT gets 200, then a TLS client gets moat's certificate for the
	 * host and each of its requests the refusal as an HTTP answer (most
	 * clients never show the body of a refused CONNECT); anything else gets
	 * the answer as plain HTTP. network.jsonl has what the client saw: each
	 * request answered, or the tunnel itself when no request came.
	 */
	function refuseInTunnel(socket: Duplex, head: Buffer, connection: Connection & {refusal: TunnelRefusal}, started: number, readsStatus = false) {
		const {run, host, port, refusal} = connection;
		if (readsStatus) {
			writeRaw(socket, refusal.status, refusal.message);
			report(run, started, {method: 'CONNECT', url: `${host}:${port}`, status: refusal.status, bytes_in: 0, bytes_out: 0, grant: null, blocked: refusal.blocked, error: refusal.reason});
			return;
		}

		socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
		socket.once('close', () => {
			if (refusal.answered === 0) {
				report(run, started, {method: 'CONNECT', url: `${host}:${port}`, status: refusal.status, bytes_in: 0, bytes_out: 0, grant: null, blocked: refusal.blocked, error: refusal.reason});
			}
		});
		firstBytes(socket, head, first => {
			if (first?.[0] === 0x16) {
				intercept(socket, connection);
			} else {
				// What it sent is read and dropped: a socket left paused with data in it never closes.
				socket.resume();
				writeRaw(socket, refusal.status, refusal.message);
			}
		});
	}

	function openTunnel(socket: Duplex, head: Buffer, connection: Connection, started: number) {
		const {run, host, port} = connection;
		socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
		firstBytes(socket, head, first => {
			if (first?.[0] === 0x16) {
				intercept(socket, connection);
			} else if (injectedEndpoints(run.grantKinds).includes(`${host}:${port}`)) {
				// Where credentials go (or moat answers), only TLS moat can read: a raw tunnel would pass around both.
				options.observer.blocked(run.runId, host, 'not TLS to a host that gets credentials');
				report(run, started, {method: 'CONNECT', url: `${host}:${port}`, status: 403, bytes_in: 0, bytes_out: 0, grant: null, blocked: true, error: 'not TLS to a host that gets credentials'});
				socket.destroy();
			} else {
				tunnel(socket, connection, started);
			}
		});
	}

	/** `CONNECT moat.hooks:22`: the run's SSH agent, for the relay in its bottle (gateway.ts); never dialled out. */
	function agentTunnel(run: ProxyRun, socket: Duplex, head: Buffer) {
		if (!run.sshAgent) {
			writeRaw(socket, 403, 'Moat: this run has no ssh: grant, so no SSH agent.\n');
			options.observer.blocked(run.runId, hooksHost, 'SSH agent asked for without an ssh grant');
			return;
		}

		socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
		if (head.length > 0) {
			socket.unshift(head);
		}

		run.sshAgent(socket);
	}

	function intercept(socket: Duplex, connection: Connection) {
		secureContextFor(connection.host).then(secureContext => {
			const secure = new tls.TLSSocket(socket, {
				isServer: true,
				secureContext,
				ALPNProtocols: ['http/1.1'],
				SNICallback(serverName, callback) {
					// The name the client's TLS asks for must be the tunnel's host.
					if (namesAgree({connect: connection.host, serverName})) {
						callback(null, secureContext);
					} else {
						options.observer.blocked(connection.run.runId, serverName, 'TLS server name differs from the CONNECT host');
						callback(new Error('server name does not match the CONNECT host'));
					}
				},
			});
			secure.on('error', () => secure.destroy());
			connections.set(secure, connection);
			track(secure, connection.run.runId);
			inner.emit('connection', secure);
		}, () => socket.destroy());
	}

	function tunnel(socket: Duplex, connection: Connection, started: number) {
		const upstream = {...upstreamFor(connection.host, connection.port), ...connection.lookup ? {lookup: connection.lookup} : {}};
		let bytesIn = 0;
		let bytesOut = 0;
		let failure: Error | undefined;
		const remote = net.connect({host: upstream.address, port: upstream.port, lookup: upstream.lookup});
		track(remote, connection.run.runId);
		remote.on('data', (chunk: Buffer) => {
			bytesIn += chunk.length;
		});
		socket.on('data', (chunk: Buffer) => {
			bytesOut += chunk.length;
		});
		remote.on('error', error => {
			failure = error;
			socket.destroy();
		});
		remote.on('close', () => {
			socket.destroy();
			const blocked = (failure as NodeJS.ErrnoException | undefined)?.code === 'EMOATBLOCKED';
			report(connection.run, started, {
				method: 'CONNECT', url: `${connection.host}:${connection.port}`, status: failure ? (blocked ? 403 : 502) : 200,
				bytes_in: bytesIn, bytes_out: bytesOut, grant: null, blocked, error: failure ? failure.message.split('\n')[0]! : null,
			});
		});
		socket.on('close', () => remote.destroy());
		socket.pipe(remote);
		remote.pipe(socket);
		socket.resume();
	}

	const listen = options.listen;
	if (listen) {
		await new Promise<void>((resolve, reject) => {
			front.once('error', reject);
			front.listen({host: listen.host, port: listen.port}, () => {
				front.off('error', reject);
				resolve();
			});
		});
	}

	return {
		host: listen?.host ?? '',
		port: listen ? (front.address() as net.AddressInfo).port : 0,
		accept(socket) {
			socket.on('error', () => socket.destroy());
			front.emit('connection', socket);
		},
		disconnect(runId) {
			for (const socket of socketsOfRun.get(runId) ?? []) {
				socket.destroy();
			}

			socketsOfRun.delete(runId);
		},
		async close() {
			engine.close();
			for (const socket of sockets) {
				socket.destroy();
			}

			if (listen) {
				await new Promise<void>(resolve => {
					front.close(() => {
						resolve();
					});
				});
			}
		},
	};
}

/**
 * The path of a request inside a tunnel. Absolute forms are accepted only
 * when they name the tunnel's own host, and become their path.
 */
export function originForm(target: string, tunnelHost: string): string | undefined {
	if (target.startsWith('/') || target === '*') {
		return target;
	}

	try {
		const url = new URL(target);
		return ['https:', 'wss:'].includes(url.protocol) && namesAgree({connect: tunnelHost, hostHeader: url.host}) ? `${url.pathname}${url.search}` : undefined;
	} catch {
		return undefined;
	}
}

function refuse(response: ServerResponse, upgradeSocket: Duplex | undefined, status: number, text: string) {
	if (upgradeSocket) {
		writeRaw(upgradeSocket, status, text);
		return;
	}

	response.writeHead(status, {'content-type': 'text/plain; charset=utf-8'});
	response.end(text);
}

function proxyAuthenticationRequired(response: ServerResponse, upgradeSocket: Duplex | undefined) {
	const text = 'Moat: proxy authentication required; use the proxy URL from HTTP_PROXY.\n';
	if (upgradeSocket) {
		writeRaw(upgradeSocket, 407, text, {'proxy-authenticate': 'Basic realm="moat"'});
		return;
	}

	response.writeHead(407, {'content-type': 'text/plain; charset=utf-8', 'proxy-authenticate': 'Basic realm="moat"'});
	response.end(text);
}

/** An answer on a raw socket (CONNECT and upgrades have no response object), then close. */
/**
 * `X-Moat-Refusal: status` on a CONNECT: the client shows the CONNECT's
 * own answer (moat's ssh proxy command does), so a refusal is answered
 * there rather than inside a tunnel a non-HTTP protocol cannot read.
 */
export const statusRefusalHeader = 'x-moat-refusal';

function writeRaw(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}) {
	const body = Buffer.from(text);
	const lines = [
		`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`,
		'content-type: text/plain; charset=utf-8',
		`content-length: ${body.length}`,
		'connection: close',
		...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
	];
	socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), body]));
}
