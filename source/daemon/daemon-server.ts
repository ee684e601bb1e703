import fs from 'node:fs/promises';
import {createAuditLog} from '../audit/audit-log.js';
import net from 'node:net';
import type {Duplex} from 'node:stream';
import {createDockerEngine} from '../engine/docker-engine.js';
import type {Engine} from '../engine/engine.js';
import {createGateway} from '../gateway/gateway.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {parseUpstreamOverrides} from '../network/upstream-overrides.js';
import {openCertificateAuthority} from '../proxy/certificate-authority.js';
import {sizeConnectionLimits} from '../proxy/connection-limits.js';
import {startProxyServer, type ProxyServer} from '../proxy/proxy-server.js';
import {startRouterServer, type RouterServer} from '../routing/router-server.js';
import {tryFileLock, withFileLock} from '../files/file-lock.js';
import {isActive} from '../runs/run-metadata.js';
import {createRunStore} from '../runs/run-store.js';
import {createAuditQueue} from './audit-queue.js';
import {createDaemonLog} from './daemon-log.js';
import {startDaemonApi, type DaemonApi} from './daemon-api.js';
import {daemonPaths, gatewayNetworkMarker, maximumSocketPath, type Hello} from './daemon-protocol.js';
import {currentDaemonSettings} from './daemon-settings.js';
import {readDaemonState, type DaemonState} from './daemon-state.js';
import {openFileLimit} from './open-file-limit.js';
import {startDaemonWatchers, type DaemonWatchers} from './daemon-watchers.js';
import {createRouteRuns} from './route-runs.js';
import {createRunFinisher} from './run-finisher.js';
import {createRunRegistry} from './run-registry.js';
import {createStorageHealth} from './storage-health.js';

/**
 * `moat _daemon`: one per MOAT_HOME. It hosts the proxy, reached only
 * through moat's gateway container (gateway/gateway.ts), knows the runs registered with it, writes their
 * network.jsonl and the proxy's audit events, and exits when it has been
 * idle with no runs. Everything containers depend on is persisted, so a
 * daemon started after a crash serves them unchanged.
 *
 * This file only composes the daemon's parts: the run registry
 * (run-registry.ts), the proxy and the router, the HTTP API (api-routes.ts,
 * daemon-api.ts) and the watchers (daemon-watchers.ts).
 */

const idleMilliseconds = (environment: MoatEnvironment) => Number(environment.variables[environmentVariables.daemonIdleMilliseconds] ?? 30_000);

const log = createDaemonLog();

/**
 * The old shared network's proxy address, for runs started before the
 * gateway: their HTTP_PROXY names it. Gone with the last of them.
 */
async function serveLegacyNetwork(engine: Engine, legacy: NonNullable<DaemonState['legacy']>, accept: (socket: Duplex) => void, log: (message: string) => void) {
	const network = await engine.inspectNetwork(legacy.network).catch(() => undefined);
	const address = network?.gateways.find(gateway => net.isIPv4(gateway));
	if (!address) {
		log(`the ${legacy.runs.length} run(s) from before the gateway lost their network ${legacy.network}; they have no way out until they are started again`);
		return undefined;
	}

	const server = net.createServer(socket => {
		accept(socket);
	});
	try {
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen({host: address, port: legacy.port}, resolve);
		});
	} catch (error) {
		log(`the ${legacy.runs.length} run(s) from before the gateway cannot be served on ${address}:${legacy.port} (${(error as Error).message}); start them again`);
		return undefined;
	}

	log(`serving ${legacy.runs.length} run(s) from before the gateway on ${address}:${legacy.port} until they end`);
	return {
		/** Stops listening; once the last of those runs has ended (`retire`), the old network goes too. */
		async close(retire = false) {
			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			});
			if (retire) {
				await engine.removeNetwork(legacy.network).catch((error: unknown) => {
					log(`${legacy.network} stays: ${(error as Error).message}`);
				});
				log(`the last run from before the gateway ended; ${legacy.network} removed`);
			}
		},
	};
}

/**
 * The lock names a live process that is not a moat daemon (its PID was
 * reused after a crash): take the lock over. Only where /proc tells what a
 * process is; elsewhere the lock stands.
 */
async function takeOverImpostorLock(file: string) {
	const pid = Number(await fs.readFile(file, 'utf8').catch(() => ''));
	const commandLine = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
	// A daemon shows as `moat-daemon`, or while it starts as `moat` (the CLI's
	// title) or `… moat.js _daemon`: anything like that is left alone.
	if (!Number.isInteger(pid) || pid <= 0 || commandLine === undefined || /moat|_daemon/.test(commandLine)) {
		return undefined;
	}

	log(`the daemon lock names process ${pid}, which is not a moat daemon; taking it over`);
	await fs.rm(file, {force: true});
	return tryFileLock(file);
}

export async function runDaemon(environment: MoatEnvironment): Promise<number> {
	const paths = daemonPaths(environment.moatHome);
	if (Buffer.byteLength(paths.socket) > maximumSocketPath) {
		log(`MOAT_HOME is too deep for the daemon's socket (${paths.socket}); use a shorter MOAT_HOME.`);
		return 1;
	}

	process.title = 'moat-daemon';
	await fs.mkdir(environment.moatHome, {recursive: true, mode: 0o700});
	const lock = await tryFileLock(paths.lock) ?? await takeOverImpostorLock(paths.lock);
	if (!lock) {
		log('another daemon holds the lock; leaving it to serve');
		return 0;
	}

	// Nothing goes to stdout but through log(); should something write there anyway, a failure is not an error to loop on.
	process.stdout.on('error', () => undefined);
	process.stderr.on('error', () => undefined);
	// Whatever a request or an engine hiccup throws, the daemon keeps serving the runs that depend on it.
	process.on('uncaughtException', error => {
		log(`unexpected error (kept running): ${error.stack ?? error.message}`);
	});
	process.on('unhandledRejection', error => {
		log(`unexpected rejection (kept running): ${(error as Error)?.stack ?? String(error)}`);
	});

	const settings = currentDaemonSettings(environment);
	const engine = createDockerEngine(environment.variables, environment.userHome);
	const store = createRunStore(environment.moatHome);
	const storage = createStorageHealth(environment.now);
	const audit = createAuditQueue(createAuditLog(environment.moatHome, environment.now), log, storage);
	let lastActivity = Date.now();
	// API requests being answered (registering may wait for the gateway's image).
	let inFlight = 0;
	let proxy: ProxyServer | undefined;
	let legacy: {close(retire?: boolean): Promise<void>} | undefined;
	let router: RouterServer | undefined;
	let routerError = '';
	let api: DaemonApi | undefined;
	let watchers: DaemonWatchers | undefined;
	let stopping: Promise<void> | undefined;
	// Resolved once a shutdown (asked, idle or a signal) has finished: the daemon's life.
	let stopped!: () => void;
	const finished = new Promise<void>(resolve => {
		stopped = resolve;
	});

	try {
		const saved = await readDaemonState(paths.state);
		// Runs from before the gateway (a daemon of an older moat) keep the old proxy address until they end.
		const legacySaved = saved?.network && saved.network !== gatewayNetworkMarker
			? {network: saved.network, port: saved.proxyPort, runs: Object.keys(saved.runs)}
			: saved?.legacy;
		const state: DaemonState = {proxyPort: 0, network: gatewayNetworkMarker, runs: saved?.runs ?? {}, ...legacySaved?.runs.length ? {legacy: legacySaved} : {}};
		const authority = await openCertificateAuthority(paths.proxyDirectory);
		const registry = createRunRegistry({
			environment, store, audit, log, state, storage,
			statePath: paths.state,
			disconnect(runId) {
				proxy?.disconnect(runId);
			},
			async released(runId) {
				if (state.legacy?.runs.includes(runId)) {
					state.legacy.runs = state.legacy.runs.filter(id => id !== runId);
					if (state.legacy.runs.length === 0) {
						delete state.legacy;
						await legacy?.close(true);
					}

					return;
				}

				await gateway.closeRun(runId);
			},
		});

		const openFiles = openFileLimit();
		const limits = sizeConnectionLimits(settings.runConnections ?? undefined, openFiles);
		log(`connections: at most ${limits.perRun} per run and ${limits.total} in all (open-file limit ${openFiles})`);
		proxy = await startProxyServer({
			authority,
			limits,
			overrides: parseUpstreamOverrides(environment.variables[environmentVariables.upstreamOverrides]),
			runForToken: token => registry.runForToken(token),
			observer: {
				activity(runId, state) {
					// Under the run's state lock, and only while it runs: a late hook never revives a finished run.
					void withFileLock(store.stateLockFile(runId), async () => {
						const run = await store.read(runId);
						if (isActive(run)) {
							await store.update(runId, {activity: {state, at: environment.now().toISOString()}});
						}
					}).catch((error: unknown) => {
						log(`activity of ${runId}: ${(error as Error).message}`);
					});
				},
				request(runId, entry) {
					if (registry.recordRequest(runId, entry)) {
						lastActivity = Date.now();
					}
				},
				injected(runId, grant, host) {
					audit.recordLater(runId, 'credential.injected', {grant, host});
				},
				scrubbed(runId, grants, host) {
					audit.recordLater(runId, 'credential.scrubbed', {grants: [...grants], host});
				},
				hostReached(runId, port) {
					audit.recordLater(runId, 'host.reached', {host: 'host.moat.internal', port});
				},
				blocked(runId, host, reason) {
					audit.recordLater(runId, 'request.blocked', {host, reason});
				},
			},
		});
		const gateway = createGateway({
			knownRun: runId => registry.has(runId),
			engine, environment, log,
			accept(socket) {
				proxy?.accept(socket);
			},
		});
		if (state.legacy) {
			legacy = await serveLegacyNetwork(engine, state.legacy, socket => proxy?.accept(socket), log);
		} else if (legacySaved) {
			// An older moat's network whose runs all ended meanwhile: nothing needs it.
			await engine.removeNetwork(legacySaved.network).catch((error: unknown) => {
				log(`${legacySaved.network} stays: ${(error as Error).message}`);
			});
		}

		await registry.save();
		log(`proxy ready, ${registry.count()} run(s) restored`);
		// Made ready now, so the first run does not wait for it; a failure is said to each run that asks.
		void gateway.ensure().catch((error: unknown) => {
			log(`the gateway is not ready: ${(error as Error).message}`);
		});

		// The hostname router: runs' declared ports by name on loopback. A port in
		// use is said (status, log) and the rest of the daemon works on.
		try {
			router = await startRouterServer({host: '127.0.0.1', port: settings.routerPort, authority, runs: createRouteRuns(store, engine), connect: async (host, port) => gateway.dial(host, port)});
			log(`router listening on 127.0.0.1:${router.port}`);
		} catch (error) {
			routerError = `the router cannot listen on 127.0.0.1:${settings.routerPort} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); set MOAT_ROUTER_PORT to a free port and run moat proxy restart`;
			log(routerError);
		}

		const shutdown = async (why: string) => {
			stopping ??= (async () => {
				log(`stopping: ${why}`);
				try {
					watchers?.close();
					registry.close();
					// An entry that could not be written (a full disk) was said when it failed; it does not hold the daemon.
					await audit.drain().catch(() => undefined);
					await api?.close();
					await registry.settled();
					await gateway.close();
					await legacy?.close();
					await proxy?.close();
					await router?.close();
				} catch (error) {
					log(`stopping: ${(error as Error).message}`);
				} finally {
					// The daemon goes whatever failed on the way: a stop or SIGTERM is never ignored.
					await fs.rm(paths.socket, {force: true}).catch(() => undefined);
					await lock.release().catch(() => undefined);
					stopped();
				}
			})();
			return stopping;
		};

		const hello = (): Hello => ({
			pid: process.pid,
			settings,
			startedAt: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString(),
			gateway: gateway.status(),
			router: router ? {host: '127.0.0.1', port: router.port} : {error: routerError || 'not started'},
			runs: registry.count(),
			...storage.report() ? {storage: storage.report()} : {},
		});
		api = await startDaemonApi({
			socketPath: paths.socket,
			registry,
			audit,
			log,
			hello,
			async ready() {
				await gateway.ensure().catch(() => undefined);
			},
			access: async (runId, options) => ({...await gateway.openRun(runId, options), caCertificate: authority.certificatePem}),
			nextRunId: () => gateway.nextRunId(),
			joined: async runId => gateway.joined(runId),
			capture: async runId => watchers?.captureNow(runId) ?? false,
			shutdown(why) {
				void shutdown(why);
			},
			touched(answering) {
				inFlight += answering ? 1 : -1;
				lastActivity = Date.now();
			},
		});

		watchers = startDaemonWatchers({
			home: environment.moatHome,
			registry,
			store,
			engine,
			log,
			audit,
			storage,
			async freeBytes() {
				const disk = await fs.statfs(environment.moatHome).catch(() => undefined);
				return disk ? disk.bavail * disk.bsize : undefined;
			},
			finisher: createRunFinisher({
				engine, store, environment, audit, log,
				release: async runId => registry.unregister(runId, 'run ended'),
			}),
			idleMilliseconds: idleMilliseconds(environment),
			lastActivity: () => inFlight > 0 ? Date.now() : lastActivity,
			idle: shutdown,
		});

		process.on('SIGTERM', () => {
			void shutdown('SIGTERM');
		});
		process.on('SIGINT', () => {
			void shutdown('SIGINT');
		});
		await finished;
		return 0;
	} catch (error) {
		log(`daemon failed: ${(error as Error).message}`);
		await legacy?.close();
		await proxy?.close();
		await router?.close();
		void api?.close();
		await lock.release();
		return 1;
	}
}
