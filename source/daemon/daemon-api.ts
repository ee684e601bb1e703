import fs from 'node:fs/promises';
import http, {type IncomingMessage, type ServerResponse} from 'node:http';
import {exitCodes, isMoatError} from '../errors.js';
import {matchRoute, parseAuditRequest, registrationError, type ApiRouteName} from './api-routes.js';
import type {AuditQueue} from './audit-queue.js';
import {parseAllowRequest, type DaemonStatus, type Hello, type RegisteredRun, type RunRegistration} from './daemon-protocol.js';
import type {RunRegistry} from './run-registry.js';

/**
 * The daemon's HTTP API on daemon.sock: one handler per route of
 * api-routes.ts, JSON in and out. Only the user can reach it (the socket is
 * 0600), so it trusts the CLI; it still checks what it is given.
 */

type Answer = [status: number, body: unknown];
type Handler = (request: {body: unknown; runId?: string}) => Promise<Answer>;

export type DaemonApiOptions = {
	socketPath: string;
	registry: RunRegistry;
	audit: AuditQueue;
	hello(): Hello;
	/** Settles when the gateway is ready or has failed (never rejects). */
	ready(): Promise<void>;
	/** What a registered run's container needs besides its token: its network, joined by the gateway. */
	access(runId: string, options: {token: string; ssh: boolean; hostPorts: readonly number[]}): Promise<Omit<RegisteredRun, 'token' | 'sshDirectory' | 'aws'>>;
	/** The next run's id when its network is made already (gateway.ts nextRunId). */
	nextRunId(): string | undefined;
	/** Resolves once the gateway has joined the run's network; rejects with why it could not. */
	joined(runId: string): Promise<void>;
	/** Starts copying a registered run's output; false when it is not registered or has no container. */
	capture(runId: string): Promise<boolean>;
	/** Asked for by `POST /shutdown`; called after the answer is on its way. */
	shutdown(why: string): void;
	/**
	 * Called as every request starts (true) and once it is answered (false):
	 * the API in use, even by a long request, keeps the daemon from going idle.
	 */
	touched(answering: boolean): void;
	log(message: string): void;
};

export type DaemonApi = {close(): Promise<void>};

function handlersFor({registry, audit, hello, ready, access, nextRunId, joined, capture, shutdown}: DaemonApiOptions): Record<ApiRouteName, Handler> {
	const status = (): Answer => {
		const answer: DaemonStatus = {
			...hello(),
			registered: [...registry.registered()].map(live => ({runId: live.persisted.runId, grants: live.persisted.grants, requests: live.requests, blocked: live.blocked})),
		};
		return [200, answer];
	};

	return {
		async hello() {
			return [200, hello()];
		},
		async status() {
			return status();
		},
		async ready() {
			await ready();
			return status();
		},
		async next() {
			const runId = nextRunId();
			return [200, runId ? {runId} : {}];
		},
		async register({body}) {
			const error = registrationError(body);
			if (error) {
				return [400, {error}];
			}

			const registration = body as RunRegistration;
			const result = await registry.register(registration);
			switch (result.outcome) {
				case 'busy': {
					return [409, {error: `${registration.runId} is being registered by another request`}];
				}

				case 'ssh agent failed': {
					return [500, {error: `the run's SSH agent could not start: ${result.message}`}];
				}

				case 'aws grant unreadable': {
					return [422, {error: 'the aws grant is missing, names no usable role, or cannot be read'}];
				}

				case 'registered': {
					let reached: Awaited<ReturnType<typeof access>>;
					try {
						reached = await access(registration.runId, {token: result.token, ssh: Boolean(result.sshDirectory), hostPorts: result.hostPorts});
					} catch (error) {
						await registry.unregister(registration.runId, 'no way out');
						// A configuration mistake (MOAT_NETWORK_POOL, MOAT_GATEWAY_CHANNEL) keeps its usage exit code.
						return [503, {error: (error as Error).message, hint: (error as {hint?: string}).hint, usage: (error as {exitCode?: number}).exitCode === exitCodes.usage}];
					}

					const registered: RegisteredRun = {
						token: result.token,
						...reached,
						...result.sshDirectory ? {sshDirectory: result.sshDirectory} : {},
						...result.awsRole ? {aws: {region: result.awsRole.region}} : {},
					};
					return [200, registered];
				}
			}
		},
		async audit({body}) {
			const request = parseAuditRequest(body);
			if ('error' in request) {
				return [400, {error: request.error}];
			}

			if (request.event) {
				await audit.record(request.runId, request.event.type, request.event.data);
			}

			if (request.seal) {
				await audit.seal(request.runId);
			}

			return [200, {written: true}];
		},
		async allow({body, runId}) {
			const notRunning: Answer = [404, {error: `no run ${runId} is running under this daemon`}];
			if (!registry.has(runId!)) {
				return notRunning;
			}

			const asked = parseAllowRequest(body);
			if ('error' in asked) {
				return [400, {error: asked.error}];
			}

			const allowed = await registry.allowHost(runId!, asked.entry);
			return allowed ? [200, allowed] : notRunning;
		},
		async starting({runId}) {
			// Fail closed: a bottle started before the gateway joined its network would have no way out it could use, and no word why.
			try {
				await joined(runId!);
			} catch (error) {
				return [503, {error: `the gateway could not join the run's network: ${(error as Error).message}`}];
			}

			return (await capture(runId!)) ? [200, {capturing: true}] : [404, {error: `no run ${runId} with a container is registered with this daemon`}];
		},
		async unregister({runId}) {
			return [200, {removed: await registry.unregister(runId!, 'run ended')}];
		},
		async shutdown() {
			setImmediate(() => {
				shutdown('asked to stop');
			});
			return [200, {stopping: true}];
		},
	};
}

/** Listens on the socket (replacing a stale one), readable by the user alone. */
export async function startDaemonApi(options: DaemonApiOptions): Promise<DaemonApi> {
	const handlers = handlersFor(options);
	const answer = (response: ServerResponse, [status, body]: Answer) => {
		response.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body));
	};

	const respond = async (request: IncomingMessage, body: unknown): Promise<Answer> => {
		const match = matchRoute(request.method, request.url);
		if (match.route === undefined) {
			return [404, {error: match.error}];
		}

		return handlers[match.route]({body, ...match.runId === undefined ? {} : {runId: match.runId}});
	};

	const server = http.createServer((request: IncomingMessage, response: ServerResponse) => {
		options.touched(true);
		response.once('close', () => {
			options.touched(false);
		});
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			let body: unknown;
			try {
				body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
			} catch {
				answer(response, [400, {error: 'the body is not JSON'}]);
				return;
			}

			respond(request, body).then(result => {
				answer(response, result);
			}, (error: unknown) => {
				options.log(`API error: ${(error as Error).message}`);
				// A user's error (a full disk) keeps its own advice; restarting the daemon would not help.
				answer(response, [500, {error: (error as Error).message, ...isMoatError(error) ? {hint: error.hint} : {}}]);
			});
		});
	});
	const close = async () => new Promise<void>(resolve => {
		server.close(() => {
			resolve();
		});
		server.closeAllConnections();
	});

	await fs.rm(options.socketPath, {force: true});
	try {
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(options.socketPath, () => {
				resolve();
			});
		});
		await fs.chmod(options.socketPath, 0o600);
	} catch (error) {
		server.close();
		throw error;
	}

	return {close};
}
