import {spawn} from 'node:child_process';
import {openSync, closeSync} from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import {fileURLToPath} from 'node:url';
import type {AuditEventType} from '../audit/audit-chain.js';
import type {AuditSink} from '../audit/audit-log.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {exitCodes, MoatError, notFoundError, usageError} from '../errors.js';
import {daemonPaths, maximumSocketPath, sameSettings, settingsDifference, type AllowedHost, type DaemonStatus, type Hello, type RegisteredRun, type RunRegistration} from './daemon-protocol.js';
import {currentDaemonSettings} from './daemon-settings.js';
import {isRunId} from './api-routes.js';
import {printable} from '../text/printable.js';

/** Talking to the daemon of a MOAT_HOME, starting or replacing it when needed. */
export type DaemonClient = {
	readonly hello: Hello;
	/** An id for the next run whose network the daemon has made already; undefined when it has none ready. */
	nextRunId(): Promise<string | undefined>;
	register(registration: RunRegistration): Promise<RegisteredRun>;
	unregister(runId: string): Promise<void>;
	/**
	 * Said just before the run's container starts: resolves once the gateway
	 * has joined the run's network (rejects when it cannot), and has the
	 * daemon copy the run's output from now on, so none is read back.
	 */
	starting(runId: string): Promise<void>;
	status(): Promise<DaemonStatus>;
	/** The status once the gateway is ready or has failed (it may be building its image). */
	ready(): Promise<DaemonStatus>;
	/** Appends to a run's audit log through the daemon, its one writer; `seal` signs a checkpoint after it. */
	audit(runId: string, event: {type: AuditEventType; data: Record<string, unknown>} | undefined, seal: boolean): Promise<void>;
	/**
	 * Lets a running run reach `host` (`host`, `host:port`, `*.domain`…) from
	 * its next request on, recorded in its audit log as `policy.changed`.
	 * Internal addresses stay refused whatever is allowed.
	 */
	allowHost(runId: string, host: string): Promise<AllowedHost>;
};

type Answer = {status: number; body: unknown};

/** Registering may wait for the gateway's first start, which may build its image. */
const registerTimeoutMilliseconds = 600_000;

function call(socketPath: string, method: string, route: string, body?: unknown, timeoutMilliseconds = 10_000): Promise<Answer> {
	return new Promise((resolve, reject) => {
		const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
		const request = http.request({
			socketPath, method, path: route, timeout: timeoutMilliseconds,
			headers: payload ? {'content-type': 'application/json', 'content-length': payload.length} : {},
		}, response => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('end', () => {
				try {
					resolve({status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8'))});
				} catch (error) {
					reject(error as Error);
				}
			});
			response.on('error', reject);
		});
		request.on('timeout', () => request.destroy(new Error('the daemon did not answer in time')));
		request.on('error', reject);
		request.end(payload);
	});
}

async function sayHello(socketPath: string): Promise<Hello | undefined> {
	try {
		const answer = await call(socketPath, 'GET', '/hello', undefined, 3000);
		return answer.status === 200 ? answer.body as Hello : undefined;
	} catch {
		return undefined;
	}
}

function clientFor(socketPath: string, hello: Hello): DaemonClient {
	/** `refusals` turns an answer that is the caller's mistake, not the daemon's, into its own error. */
	const expect = async (answer: Promise<Answer>, what: string, refusals: Partial<Record<number, (error: string, hint: string | undefined, usage: boolean) => MoatError>> = {}) => {
		let result: Answer;
		try {
			result = await answer;
		} catch (error) {
			throw new MoatError(`The moat daemon did not answer (${what}): ${printable((error as Error).message)}.`, 'Run moat proxy restart, then try again.', 1, {cause: error});
		}

		const refusal = refusals[result.status];
		if (refusal) {
			const body = result.body as {error?: string; hint?: string; usage?: boolean};
			// The daemon's words may quote what a bottle or agent.yaml asked for; its line breaks are its own.
			throw refusal(printable(String(body.error ?? result.status), {lineBreaks: true}), body.hint === undefined ? undefined : printable(body.hint, {lineBreaks: true}), body.usage === true);
		}

		if (result.status !== 200) {
			const body = result.body as {error?: string; hint?: string};
			throw new MoatError(
				`The moat daemon refused to ${what}: ${printable(String(body.error ?? result.status), {lineBreaks: true}).replace(/\.$/, '')}.`,
				typeof body.hint === 'string' ? printable(body.hint, {lineBreaks: true}) : 'Run moat proxy restart, then try again.',
			);
		}

		return result.body;
	};

	return {
		hello,
		async nextRunId() {
			// Only a head start: any failure leaves the launcher to pick an id itself.
			const answer = await call(socketPath, 'POST', '/runs/next').catch(() => undefined);
			const runId = (answer?.status === 200 ? answer.body as {runId?: unknown} : {}).runId;
			return isRunId(runId) ? runId : undefined;
		},
		async register(registration) {
			// The first run on an engine may wait for the gateway's image to be built.
			return expect(call(socketPath, 'POST', '/runs', registration, registerTimeoutMilliseconds), 'register the run', {
				// A grant the run needs at registration (aws: its region) that the daemon cannot read.
				422: error => new MoatError(`Cannot start the run: ${error}.`, 'See moat grant list; grant it again if it is missing or unreadable.'),
				// The gateway is not there, or the seal does not hold: no run starts without egress or without a seal.
				503: (error, hint, usage) => new MoatError(`Cannot start the run: ${error}`, hint ?? 'Run moat proxy restart, then try again.', usage ? exitCodes.usage : exitCodes.failure),
			}) as Promise<RegisteredRun>;
		},
		async starting(runId) {
			const answer = call(socketPath, 'POST', `/runs/${runId}/starting`);
			// Not copied live (no container registered yet), the output is still caught up from the engine's log.
			if ((await answer.catch(() => undefined))?.status === 404) {
				return;
			}

			await expect(answer, 'start the run', {
				503: error => new MoatError(`Cannot start the run: ${error}.`, 'Run moat proxy restart, then try again.'),
			});
		},
		async unregister(runId) {
			await expect(call(socketPath, 'DELETE', `/runs/${runId}`), 'revoke the run\'s token');
		},
		async status() {
			return expect(call(socketPath, 'GET', '/status'), 'report its status') as Promise<DaemonStatus>;
		},
		async ready() {
			// The gateway's first start may build its image: as long as a registration may take.
			return expect(call(socketPath, 'GET', '/ready', undefined, registerTimeoutMilliseconds), 'report its status') as Promise<DaemonStatus>;
		},
		async audit(runId, event, seal) {
			await expect(call(socketPath, 'POST', '/audit', {runId, ...event, seal}), 'write the audit log');
		},
		async allowHost(runId, host) {
			return expect(call(socketPath, 'POST', `/runs/${encodeURIComponent(runId)}/allow`, {host}), `allow ${printable(host)} for ${runId}`, {
				400: error => usageError(`Cannot allow ${printable(host)} for ${runId}: ${error}.`, 'Give a host as network.allow in agent.yaml takes it: api.example.com, api.example.com:8443 or *.example.com.'),
				// An older daemon without this endpoint answers 404 too; its words then say so.
				404: error => notFoundError(`Cannot allow ${printable(host)} for ${runId}: ${error}.`, 'Hosts can be allowed only for a running run (see moat list).'),
			}) as Promise<AllowedHost>;
		},
	};
}

/**
 * Audit events go to the daemon when one runs (it is the log's one writer,
 * in order with the proxy's events), and straight to the log otherwise
 * (moat audit, grant and the rest work without a daemon).
 */
export function createRoutedAudit(environment: MoatEnvironment, local: AuditSink): AuditSink {
	const route = async (runId: string, event: {type: AuditEventType; data: Record<string, unknown>} | undefined, seal: boolean) => {
		const daemon = await findDaemon(environment);
		if (daemon) {
			await daemon.audit(runId, event, seal);
			return;
		}

		if (event) {
			await local.record(runId, event.type, event.data);
		}

		if (seal) {
			await local.seal(runId);
		}
	};

	return {
		async record(runId, type, data) {
			await route(runId, {type, data}, false);
		},
		async seal(runId) {
			await route(runId, undefined, true);
		},
	};
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMilliseconds: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMilliseconds;
	while (Date.now() < deadline) {
		if (await condition()) {
			return true;
		}

		await new Promise(resolve => {
			setTimeout(resolve, 50);
		});
	}

	return condition();
}

/** The running daemon of this MOAT_HOME, if any (never starts one). */
export async function findDaemon(environment: MoatEnvironment): Promise<DaemonClient | undefined> {
	const {socket} = daemonPaths(environment.moatHome);
	const hello = await sayHello(socket);
	return hello ? clientFor(socket, hello) : undefined;
}

/**
 * Allows `host` for the running run `runId` through the running daemon,
 * which records it in the run's audit log. Never starts a daemon: without
 * one, no run's requests get anywhere, and a new daemon would know no runs.
 */
export async function allowHostForRun(environment: MoatEnvironment, runId: string, host: string): Promise<AllowedHost> {
	const daemon = await findDaemon(environment);
	if (!daemon) {
		throw notFoundError(`Cannot allow ${printable(host)} for ${runId}: the moat daemon is not running.`, 'Hosts can be allowed only for a running run; if it is running, start the daemon with moat proxy start, then try again.');
	}

	return daemon.allowHost(runId, host);
}

/** Asks the daemon to stop and waits until it has; false when none was running. */
export async function stopDaemon(environment: MoatEnvironment): Promise<boolean> {
	const {socket, lock} = daemonPaths(environment.moatHome);
	const hello = await sayHello(socket);
	if (!hello) {
		return false;
	}

	await call(socket, 'POST', '/shutdown').catch(() => undefined);
	const gone = await waitUntil(async () => !await fs.stat(lock).then(() => true, () => false), 15_000);
	if (!gone) {
		throw new MoatError('The moat daemon did not stop within 15 s.', `Find it with: cat ${lock}, and stop that process.`);
	}

	// The lock goes just before the process does: wait for the process too, briefly.
	await waitUntil(async () => {
		try {
			process.kill(hello.pid, 0);
			return false;
		} catch {
			return true;
		}
	}, 3000);
	return true;
}

async function logTail(file: string): Promise<string> {
	const text = await fs.readFile(file, 'utf8').catch(() => '');
	return text.trim().split('\n').slice(-3).join('\n');
}

/**
 * The daemon, started on demand (detached, its output in MOAT_HOME/daemon.log,
 * so nothing waits on it). A daemon started with other settings is stopped
 * and replaced, so the proxy never runs with overrides or CAs it was not
 * asked for.
 */
export async function ensureDaemon(environment: MoatEnvironment, note: (message: string) => void = () => undefined): Promise<DaemonClient> {
	const paths = daemonPaths(environment.moatHome);
	if (Buffer.byteLength(paths.socket) > maximumSocketPath) {
		throw new MoatError(`MOAT_HOME is too long a path for the daemon's socket (${paths.socket}).`, `Use a MOAT_HOME whose path is under ${maximumSocketPath - 12} characters.`);
	}

	const wanted = currentDaemonSettings(environment);
	const running = await sayHello(paths.socket);
	if (running && sameSettings(running.settings, wanted)) {
		return clientFor(paths.socket, running);
	}

	if (running) {
		note(`Restarting the moat daemon: its ${settingsDifference(running.settings, wanted) ?? 'settings'} changed.`);
		await stopDaemon(environment);
	}

	await fs.mkdir(environment.moatHome, {recursive: true, mode: 0o700});
	const output = openSync(paths.log, 'a', 0o600);
	let exited: number | undefined;
	try {
		const child = spawn(process.execPath, [fileURLToPath(new URL('../moat.js', import.meta.url)), '_daemon'], {
			detached: true,
			stdio: ['ignore', output, output],
			// The daemon verifies upstream TLS whatever the shell says.
			env: Object.fromEntries(Object.entries(environment.variables).filter(([name]) => name !== environmentVariables.tlsRejectUnauthorized)),
		});
		child.on('exit', code => {
			exited = code ?? 1;
		});
		child.unref();
	} finally {
		closeSync(output);
	}

	let hello: Hello | undefined;
	// Another process may be starting one at the same moment: whichever wins the lock serves both.
	await waitUntil(async () => {
		hello = await sayHello(paths.socket);
		return hello !== undefined && sameSettings(hello.settings, wanted);
	}, 20_000);
	if (hello && !sameSettings(hello.settings, wanted)) {
		throw new MoatError(
			`Another moat daemon with a different ${settingsDifference(hello.settings, wanted) ?? 'configuration'} took over ${printable(environment.moatHome)} while this one started.`,
			'Run the command again (the daemon is replaced when nothing else is starting one).',
		);
	}

	if (!hello) {
		const tail = await logTail(paths.log);
		throw new MoatError(
			`The moat daemon did not start${exited === undefined ? ' within 20 s' : ` (it exited with ${exited})`}${tail ? `: ${printable(tail.split('\n').at(-1)!.replace(/^\S+ /, ''))}` : ''}.`,
			`See ${paths.log}; check that the engine is running (moat status).`,
		);
	}

	return clientFor(paths.socket, hello);
}
