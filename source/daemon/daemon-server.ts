import {randomBytes} from 'node:crypto';
import {createWriteStream, type WriteStream} from 'node:fs';
import fs from 'node:fs/promises';
import http, {type IncomingMessage, type ServerResponse} from 'node:http';
import path from 'node:path';
import {auditEventTypes, type AuditEventType} from '../audit/audit-chain.js';
import {createAuditLog} from '../audit/audit-log.js';
import {awsRoleOf, createRunAwsCredentials, type AwsRunRole} from '../credentials/aws-credential-process.js';
import {hostAwsCredentials} from '../credentials/aws-role.js';
import {createDefaultGrantService} from '../credentials/grant-service.js';
import {startRunSsh, sshRuleOf, type RunSsh} from '../sshagent/run-ssh.js';
import type {RouteRun} from '../routing/route-decisions.js';
import {startRouterServer, type RouterServer} from '../routing/router-server.js';
import {createDockerEngine} from '../engine/docker-engine.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {createOutboundHttp} from '../network/outbound-http.js';
import {parseUpstreamOverrides} from '../network/upstream-overrides.js';
import {openCertificateAuthority} from '../proxy/certificate-authority.js';
import type {InjectableGrant} from '../proxy/injection-rules.js';
import {parseAllowEntry, type AllowEntry, type NetworkPolicy} from '../proxy/network-policy.js';
import {startProxyServer, type NetworkEntry, type ProxyRun, type ProxyServer} from '../proxy/proxy-server.js';
import {tryCaptureLock, withFileLock} from '../runs/capture-lock.js';
import {captureLogs} from '../runs/log-capture.js';
import {createRunService} from '../runs/run-service.js';
import {containerLabels} from '../runs/labels.js';
import {isActive} from '../runs/run-metadata.js';
import {createRunStore} from '../runs/run-store.js';
import {allowListWith, daemonPaths, maximumSocketPath, parseAllowRequest, sealedNetworkName, tokenHash, type AllowedHost, type DaemonStatus, type Hello, type RegisteredRun, type RunRegistration} from './daemon-protocol.js';
import {currentDaemonSettings} from './daemon-settings.js';
import {readDaemonState, writeDaemonState, type DaemonState, type PersistedRun} from './daemon-state.js';

/**
 * `moat _daemon`: one per MOAT_HOME. It hosts the proxy on the sealed
 * network's gateway, knows the runs registered with it, writes their
 * network.jsonl and the proxy's audit events, and exits when it has been
 * idle with no runs. Everything containers depend on is persisted, so a
 * daemon started after a crash serves them unchanged.
 */

type LiveRun = {
	persisted: PersistedRun;
	proxyRun: ProxyRun;
	/** The run's SSH agent and client files, for runs with ssh: grants. */
	ssh?: Promise<RunSsh>;
	networkLog?: WriteStream;
	requests: number;
	blocked: number;
};

const idleMilliseconds = (environment: MoatEnvironment) => Number(environment.variables.MOAT_DAEMON_IDLE_MS ?? 30_000);
const watchMilliseconds = 2000;
/** Whether a run's grants include the aws one (runs ask for it as `aws`). */
const hasAwsGrant = (grants: readonly string[]) => grants.some(name => name.split(':')[0] === 'aws');
/** How long a run's decrypted grants are reused before the store is read again. */
const grantCacheMilliseconds = 10_000;
/** A run registers before its container exists: it is not judged by the engine until then. */
const registrationGraceMilliseconds = 60_000;

function log(message: string) {
	process.stdout.write(`${new Date().toISOString()} ${message}\n`);
}

function toPolicy(registration: RunRegistration): NetworkPolicy {
	return {
		mode: registration.policy.mode,
		allow: registration.policy.allow.map(entry => parseAllowEntry(entry)).filter((entry): entry is AllowEntry => entry !== undefined),
	};
}

async function listenWithRetry(start: (port: number) => Promise<ProxyServer>, port: number): Promise<ProxyServer> {
	// A daemon being replaced may still hold the port for a moment.
	for (let attempt = 0; ; attempt++) {
		try {
			return await start(port);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50 || port === 0) {
				throw error;
			}

			await new Promise(resolve => {
				setTimeout(resolve, 100);
			});
		}
	}
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
	// title) or `… cli.js _daemon`: anything like that is left alone.
	if (!Number.isInteger(pid) || pid <= 0 || commandLine === undefined || /moat|_daemon/.test(commandLine)) {
		return undefined;
	}

	log(`the daemon lock names process ${pid}, which is not a moat daemon; taking it over`);
	await fs.rm(file, {force: true});
	return tryCaptureLock(file);
}

export async function runDaemon(environment: MoatEnvironment): Promise<number> {
	const paths = daemonPaths(environment.moatHome);
	if (Buffer.byteLength(paths.socket) > maximumSocketPath) {
		log(`MOAT_HOME is too deep for the daemon's socket (${paths.socket}); use a shorter MOAT_HOME.`);
		return 1;
	}

	process.title = 'moat-daemon';
	await fs.mkdir(environment.moatHome, {recursive: true, mode: 0o700});
	const lock = await tryCaptureLock(paths.lock) ?? await takeOverImpostorLock(paths.lock);
	if (!lock) {
		log('another daemon holds the lock; leaving it to serve');
		return 0;
	}

	// Whatever a request or an engine hiccup throws, the daemon keeps serving the runs that depend on it.
	process.on('uncaughtException', error => {
		log(`unexpected error (kept running): ${error.stack ?? error.message}`);
	});
	process.on('unhandledRejection', error => {
		log(`unexpected rejection (kept running): ${(error as Error)?.stack ?? String(error)}`);
	});

	const settings = currentDaemonSettings(environment);
	const engine = createDockerEngine(environment.variables);
	const store = createRunStore(environment.moatHome);
	const audit = createAuditLog(environment.moatHome, environment.now);
	let grantService: Awaited<ReturnType<typeof createDefaultGrantService>> | undefined;
	const runs = new Map<string, LiveRun>();
	const byToken = new Map<string, LiveRun>();
	let lastActivity = Date.now();
	let proxy: ProxyServer | undefined;
	let router: RouterServer | undefined;
	let routerError = '';
	let api: http.Server | undefined;
	let stopping: Promise<void> | undefined;
	// Resolved once a shutdown (asked, idle or a signal) has finished: the daemon's life.
	let stopped!: () => void;
	const finished = new Promise<void>(resolve => {
		stopped = resolve;
	});
	// Audit entries are appended in order per run, never blocking a request.
	const auditQueues = new Map<string, Promise<unknown>>();

	const queueAudit = async (runId: string, write: () => Promise<unknown>) => {
		const next = (auditQueues.get(runId) ?? Promise.resolve()).catch(() => undefined).then(write);
		auditQueues.set(runId, next);
		return next;
	};

	const recordAudit = (runId: string, type: AuditEventType, data: Record<string, unknown>) => {
		queueAudit(runId, async () => audit.record(runId, type, data)).catch((error: unknown) => {
			log(`audit entry for ${runId} not written: ${(error as Error).message}`);
		});
	};

	// Every writer of a run's log goes through its queue: the proxy's events, the CLI's, the daemon's own.
	const queuedAudit = {
		async record(runId: string, type: AuditEventType, data: Record<string, unknown>) {
			return queueAudit(runId, async () => audit.record(runId, type, data));
		},
		async seal(runId: string) {
			await queueAudit(runId, async () => audit.seal(runId));
		},
	};

	try {
		const network = await engine.ensureSealedNetwork(sealedNetworkName, {[containerLabels.managed]: 'true'});
		const saved = await readDaemonState(paths.state);
		const state: DaemonState = {proxyPort: saved?.network === network.name ? saved.proxyPort : 0, network: network.name, runs: saved?.runs ?? {}};
		const authority = await openCertificateAuthority(paths.proxyDirectory);

		const loadGrants = async (names: readonly string[]): Promise<InjectableGrant[]> => {
			grantService ??= await createDefaultGrantService(environment);
			const service = grantService;
			const grants = await Promise.all(names.filter(name => !name.startsWith('ssh:')).map(async name => {
				const grant = (await service.store.get(name)) ?? (name.includes(':') ? await service.store.get(name.split(':')[0]!) : undefined);
				return grant?.secret.token ? {name, provider: grant.provider as string, kind: grant.details.kind ?? '', token: grant.secret.token} : undefined;
			}));
			return grants.filter((grant): grant is InjectableGrant => grant !== undefined);
		};

		// AssumeRole goes where grant validation goes: STS, or its MOAT_UPSTREAM_OVERRIDES stand-in.
		const outbound = createOutboundHttp(environment.variables[environmentVariables.upstreamOverrides]);
		/** The stored aws grant's role, read at each use; undefined (and said in the log) when it is gone or unreadable. */
		const loadAwsRole = async (runId: string): Promise<AwsRunRole | undefined> => {
			try {
				grantService ??= await createDefaultGrantService(environment);
				const grant = await grantService.store.get('aws');
				const role = grant ? awsRoleOf(grant) : undefined;
				if (!role) {
					log(`run ${runId}: ${grant ? 'the aws grant names no usable role' : 'there is no aws grant'}`);
				}

				return role;
			} catch (error) {
				log(`run ${runId}: the aws grant cannot be read: ${(error as Error).message}`);
				return undefined;
			}
		};

		const admit = (persisted: PersistedRun): LiveRun => {
			let grants: Promise<InjectableGrant[]> | undefined;
			let loadedAt = 0;
			const kinds = persisted.grants.filter(name => !name.startsWith('ssh:')).map(name => ({provider: name.split(':')[0]!, kind: ''}));
			const live: LiveRun = {
				persisted,
				requests: 0,
				blocked: 0,
				proxyRun: {
					runId: persisted.runId,
					agent: persisted.agent,
					policy: toPolicy(persisted),
					grantKinds: kinds,
					async grants() {
						// Re-read now and then: a grant revoked or replaced on the host applies to live runs too.
						if (!grants || Date.now() - loadedAt > grantCacheMilliseconds) {
							loadedAt = Date.now();
							grants = loadGrants(persisted.grants);
							grants.then(loaded => {
								// Kinds gate strict mode (a ChatGPT login opens chatgpt.com); until read, a kind opens nothing kind-specific.
								live.proxyRun.grantKinds = [...kinds.filter(kind => !loaded.some(grant => grant.provider === kind.provider)), ...loaded.map(grant => ({provider: grant.provider, kind: grant.kind}))];
							}, () => {
								grants = undefined;
							});
						}

						return grants;
					},
				},
			};
			if (hasAwsGrant(persisted.grants)) {
				// The host's credentials are read here, in the daemon, for each new session; only the session reaches the container.
				const aws = createRunAwsCredentials({
					runId: persisted.runId,
					http: outbound,
					role: async () => loadAwsRole(persisted.runId),
					hostCredentials: async () => hostAwsCredentials(environment.variables, environment.userHome),
					now: environment.now,
					issued({host, roleArn, expiresAt}) {
						recordAudit(persisted.runId, 'credential.injected', {grant: 'aws', host, role: roleArn, expiresAt});
					},
				});
				live.proxyRun.awsCredentials = async () => aws.credentials().catch((error: unknown) => {
					log(`run ${persisted.runId}: no AWS credentials: ${(error as Error).message}`);
					throw error;
				});
			}

			const sshGrants = persisted.grants.filter(name => name.startsWith('ssh:'));
			live.proxyRun.sshHosts = sshGrants.map(name => name.slice('ssh:'.length));
			if (sshGrants.length > 0 && persisted.ssh) {
				live.ssh = startRunSsh({
					directory: path.join(environment.moatHome, 'ssh', persisted.runId),
					upstream: persisted.ssh.upstream,
					owner: {uid: persisted.ssh.uid, gid: persisted.ssh.gid},
					async rules() {
						grantService ??= await createDefaultGrantService(environment);
						const service = grantService;
						// Read at every use: a revoked grant stops signing at once.
						const grants = await Promise.all(sshGrants.map(async name => service.store.get(name)));
						return grants.map(grant => (grant ? sshRuleOf(grant) : undefined)).filter(rule => rule !== undefined);
					},
					signed(fingerprint, host) {
						recordAudit(persisted.runId, 'ssh.signed', {fingerprint, host});
					},
					refused(reason) {
						log(`run ${persisted.runId}: SSH agent refused: ${reason}`);
						recordAudit(persisted.runId, 'request.blocked', {host: 'ssh-agent', reason});
					},
				});
				live.ssh.catch((error: unknown) => {
					log(`run ${persisted.runId}: SSH agent not started: ${(error as Error).message}`);
				});
			}

			runs.set(persisted.runId, live);
			byToken.set(persisted.tokenHash, live);
			// Read the grants now: their kinds are known before the container's first request.
			void live.proxyRun.grants().catch(() => undefined);
			return live;
		};

		for (const persisted of Object.values(state.runs)) {
			admit(persisted);
		}

		// Writes go one after another, each of the state as it is when it starts: an older snapshot never lands last.
		let saving: Promise<void> = Promise.resolve();
		const save = async () => {
			saving = saving.catch(() => undefined).then(async () => {
				state.runs = Object.fromEntries([...runs.values()].map(live => [live.persisted.runId, live.persisted]));
				await writeDaemonState(paths.state, state);
			});
			return saving;
		};

		const networkLogFor = (live: LiveRun) => {
			if (!live.networkLog) {
				live.networkLog = createWriteStream(store.networkFile(live.persisted.runId), {flags: 'a', mode: 0o600});
				live.networkLog.on('error', () => undefined);
			}

			return live.networkLog;
		};

		proxy = await listenWithRetry(async port => startProxyServer({
			host: network.gateway,
			port,
			authority,
			overrides: parseUpstreamOverrides(environment.variables[environmentVariables.upstreamOverrides]),
			runForToken: token => byToken.get(tokenHash(token))?.proxyRun,
			observer: {
				activity(runId, state) {
					// Under the run's state lock, and only while it runs: a late hook never revives a finished run.
					void withFileLock(path.join(store.directory(runId), 'state.lock'), async () => {
						const run = await store.read(runId);
						if (isActive(run)) {
							await store.update(runId, {activity: {state, at: new Date().toISOString()}});
						}
					}).catch((error: unknown) => {
						log(`activity of ${runId}: ${(error as Error).message}`);
					});
				},
				request(runId, entry: NetworkEntry) {
					const live = runs.get(runId);
					if (live) {
						lastActivity = Date.now();
						live.requests++;
						live.blocked += entry.blocked ? 1 : 0;
						networkLogFor(live).write(JSON.stringify(entry) + '\n');
					}
				},
				injected(runId, grant, host) {
					recordAudit(runId, 'credential.injected', {grant, host});
				},
				blocked(runId, host, reason) {
					recordAudit(runId, 'request.blocked', {host, reason});
				},
			},
		// The old port only matters to containers that were restored; without any, take a free one.
		}), runs.size > 0 ? state.proxyPort : 0);
		state.proxyPort = proxy.port;
		await save();
		log(`proxy listening on ${proxy.host}:${proxy.port} (network ${network.name}), ${runs.size} run(s) restored`);

		// The hostname router: runs' declared ports by name on loopback. A port in
		// use is said (status, log) and the rest of the daemon works on.
		const addresses = new Map<string, string>();
		const routeRuns = async (): Promise<RouteRun[]> => {
			const listed = (await store.list()).filter(run => Object.keys(run.ports).length > 0);
			const live = new Set(listed.filter(run => isActive(run) && run.containerId !== null).map(run => run.containerId!));
			for (const containerId of addresses.keys()) {
				if (!live.has(containerId)) {
					addresses.delete(containerId);
				}
			}

			return Promise.all(listed.map(async run => {
				const active = live.has(run.containerId ?? '');
				// Only an address the engine gave is kept: a container not started yet has none.
				if (active && addresses.get(run.containerId!) === undefined) {
					const address = (await engine.inspectContainer(run.containerId!).catch(() => undefined))?.addresses?.[0];
					if (address) {
						addresses.set(run.containerId!, address);
					}
				}

				return {name: run.name, active, ports: run.ports, address: active ? addresses.get(run.containerId!) : undefined};
			}));
		};

		try {
			router = await startRouterServer({host: '127.0.0.1', port: settings.routerPort, authority, runs: routeRuns});
			log(`router listening on 127.0.0.1:${router.port}`);
		} catch (error) {
			routerError = `the router cannot listen on 127.0.0.1:${settings.routerPort} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); set MOAT_ROUTER_PORT to a free port and run moat proxy restart`;
			log(routerError);
		}

		// Output is copied into logs.jsonl here, live, whoever is attached;
		// when a run's container ends, the daemon finishes the run (state,
		// audit, removal) without waiting for someone to look.
		const captures = new Map<string, AbortController>();
		const runService = createRunService({
			engine, store, environment, audit: queuedAudit,
			reporter: {info: log, warn: log, debug() {}},
			network: {
				async register() {
					throw new Error('the daemon does not start runs');
				},
				async release(runId) {
					await unregister(runId, 'run ended');
				},
			},
		});
		const capture = (runId: string, containerId: string, tty: boolean) => {
			const stop = new AbortController();
			captures.set(runId, stop);
			void captureLogs(engine, store, runId, containerId, {follow: true, tty, signal: stop.signal})
				.then(async captured => {
					if (captured && !stop.signal.aborted) {
						await runService.reconcile(await store.read(runId));
					}
				})
				.catch((error: unknown) => {
					log(`output of ${runId}: ${(error as Error).message}`);
				})
				.finally(() => {
					if (captures.get(runId) === stop) {
						captures.delete(runId);
					}
				});
		};

		const unregister = async (runId: string, why: string) => {
			const live = runs.get(runId);
			if (!live) {
				return false;
			}

			runs.delete(runId);
			byToken.delete(live.persisted.tokenHash);
			await live.ssh?.then(async ssh => ssh.close(), () => undefined);
			// Connections opened with the token end with it.
			proxy?.disconnect(runId);
			live.networkLog?.end();
			await save();
			log(`run ${runId} unregistered (${why})`);
			return true;
		};

		// One change at a time: two asking for the same host at once add it once, and record it once.
		let changingPolicy: Promise<unknown> = Promise.resolve();
		const allowHost = async (runId: string, entry: string): Promise<AllowedHost | undefined> => {
			const next = changingPolicy.catch(() => undefined).then(async (): Promise<AllowedHost | undefined> => {
				const live = runs.get(runId);
				if (!live) {
					return undefined;
				}

				const change = allowListWith(live.persisted.policy.allow, entry);
				if (change.added) {
					// Recorded before it takes effect: a loosening the log cannot hold is not made.
					await queuedAudit.record(runId, 'policy.changed', {allow: entry, by: 'user'});
					if (runs.get(runId) !== live) {
						// The run ended (or came back as another) meanwhile: nothing to change.
						return undefined;
					}

					live.persisted.policy = {...live.persisted.policy, allow: change.allow};
					// Changed in place: open tunnels check by identity that the token's ProxyRun is still theirs.
					live.proxyRun.policy = toPolicy(live.persisted);
					await save();
					log(`run ${runId}: ${entry} allowed by the user`);
				}

				return {runId, entry, added: change.added, policy: live.persisted.policy};
			});
			changingPolicy = next;
			return next;
		};

		const hello = (): Hello => ({
			pid: process.pid,
			settings,
			startedAt: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString(),
			proxy: {host: proxy!.host, port: proxy!.port},
			router: router ? {host: '127.0.0.1', port: router.port} : {error: routerError || 'not started'},
			network: network.name,
			runs: runs.size,
		});

		const routes = async (request: IncomingMessage, body: unknown): Promise<[number, unknown]> => {
			const url = new URL(request.url ?? '/', 'http://daemon');
			const runMatch = /^\/runs\/(run_[\da-f]{12})$/.exec(url.pathname);
			const allowMatch = /^\/runs\/([^/]+)\/allow$/.exec(url.pathname);
			if (request.method === 'GET' && url.pathname === '/hello') {
				return [200, hello()];
			}

			if (request.method === 'GET' && url.pathname === '/status') {
				const status: DaemonStatus = {
					...hello(),
					registered: [...runs.values()].map(live => ({runId: live.persisted.runId, grants: live.persisted.grants, requests: live.requests, blocked: live.blocked})),
				};
				return [200, status];
			}

			if (request.method === 'POST' && url.pathname === '/runs') {
				const registration = body as RunRegistration;
				if (!/^run_[\da-f]{12}$/.test(registration?.runId ?? '') || !Array.isArray(registration.grants) || !registration.policy) {
					return [400, {error: 'a registration needs runId, policy and grants'}];
				}

				await unregister(registration.runId, 'registered again');
				if (runs.has(registration.runId)) {
					return [409, {error: `${registration.runId} is being registered by another request`}];
				}

				const token = randomBytes(24).toString('hex');
				admit({
					runId: registration.runId,
					agent: registration.agent ?? null,
					policy: {mode: registration.policy.mode === 'strict' ? 'strict' : 'permissive', allow: [...registration.policy.allow ?? []]},
					grants: [...registration.grants],
					...registration.ssh && Number.isInteger(registration.ssh.uid) && Number.isInteger(registration.ssh.gid)
						? {ssh: {uid: registration.ssh.uid, gid: registration.ssh.gid, ...typeof registration.ssh.upstream === 'string' ? {upstream: registration.ssh.upstream} : {}}}
						: {},
					tokenHash: tokenHash(token),
					registeredAt: new Date().toISOString(),
				});
				let sshDirectory: string | undefined;
				try {
					sshDirectory = (await runs.get(registration.runId)?.ssh)?.directory;
				} catch (error) {
					await unregister(registration.runId, 'SSH agent failed');
					return [500, {error: `the run's SSH agent could not start: ${(error as Error).message}`}];
				}

				// The container's AWS config names the role's region; a grant that cannot be read fails the run now, not its first AWS call.
				const awsRole = hasAwsGrant(registration.grants) ? await loadAwsRole(registration.runId) : undefined;
				if (hasAwsGrant(registration.grants) && !awsRole) {
					await unregister(registration.runId, 'aws grant unreadable');
					return [422, {error: 'the aws grant is missing, names no usable role, or cannot be read'}];
				}

				await save();
				log(`run ${registration.runId} registered`);
				const registered: RegisteredRun = {
					token, proxy: {host: proxy!.host, port: proxy!.port}, network: network.name, caCertificate: authority.certificatePem,
					...sshDirectory ? {sshDirectory} : {},
					...awsRole ? {aws: {region: awsRole.region}} : {},
				};
				return [200, registered];
			}

			if (request.method === 'POST' && url.pathname === '/audit') {
				const event = body as {runId?: string; type?: string; data?: unknown; seal?: boolean};
				if (!/^run_[\da-f]{12}$/.test(event?.runId ?? '') || (event.type !== undefined && !(auditEventTypes as readonly string[]).includes(event.type))
					|| (event.type !== undefined && (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data)))) {
					return [400, {error: 'an audit event needs a run id, a known type and a data object'}];
				}

				if (event.type !== undefined) {
					await queuedAudit.record(event.runId!, event.type as AuditEventType, event.data as Record<string, unknown>);
				}

				if (event.seal) {
					await queuedAudit.seal(event.runId!);
				}

				return [200, {written: true}];
			}

			if (request.method === 'POST' && allowMatch) {
				const runId = allowMatch[1]!;
				const notRunning: [number, unknown] = [404, {error: `no run ${runId} is running under this daemon`}];
				if (!runs.has(runId)) {
					return notRunning;
				}

				const asked = parseAllowRequest(body);
				if ('error' in asked) {
					return [400, {error: asked.error}];
				}

				const allowed = await allowHost(runId, asked.entry);
				return allowed ? [200, allowed] : notRunning;
			}

			if (request.method === 'DELETE' && runMatch) {
				return [200, {removed: await unregister(runMatch[1]!, 'run ended')}];
			}

			if (request.method === 'POST' && url.pathname === '/shutdown') {
				setImmediate(() => {
					void shutdown('asked to stop');
				});
				return [200, {stopping: true}];
			}

			return [404, {error: `no such endpoint: ${request.method} ${url.pathname}`}];
		};

		api = http.createServer((request: IncomingMessage, response: ServerResponse) => {
			lastActivity = Date.now();
			const chunks: Buffer[] = [];
			request.on('data', (chunk: Buffer) => chunks.push(chunk));
			request.on('end', () => {
				let body: unknown;
				try {
					body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
				} catch {
					response.writeHead(400, {'content-type': 'application/json'}).end(JSON.stringify({error: 'the body is not JSON'}));
					return;
				}

				routes(request, body).then(([status, answer]) => {
					response.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(answer));
				}, (error: unknown) => {
					log(`API error: ${(error as Error).message}`);
					response.writeHead(500, {'content-type': 'application/json'}).end(JSON.stringify({error: (error as Error).message}));
				});
			});
		});
		await fs.rm(paths.socket, {force: true});
		await new Promise<void>((resolve, reject) => {
			api!.once('error', reject);
			api!.listen(paths.socket, () => {
				resolve();
			});
		});
		await fs.chmod(paths.socket, 0o600);

		// Runs whose container is gone lose their token; with none left, the daemon goes.
		const watcher = setInterval(() => {
			void (async () => {
				for (const live of runs.values()) {
					const metadata = await store.read(live.persisted.runId).catch(() => undefined);
					const young = Date.now() - Date.parse(live.persisted.registeredAt) < registrationGraceMilliseconds;
					if (!metadata) {
						if (!young) {
							await unregister(live.persisted.runId, 'run removed');
						}

						continue;
					}

					if (!isActive(metadata)) {
						await unregister(live.persisted.runId, `run ${metadata.state}`);
						continue;
					}

					if (metadata.containerId && !captures.has(live.persisted.runId)) {
						capture(live.persisted.runId, metadata.containerId, metadata.interactive);
					}

					if (metadata.containerId && !young) {
						const container = await engine.inspectContainer(metadata.containerId).catch(() => 'unknown' as const);
						if (container !== 'unknown' && (!container || !['running', 'created', 'restarting', 'paused'].includes(container.status))) {
							await unregister(live.persisted.runId, 'container ended');
						}
					}
				}

				if (runs.size === 0 && captures.size === 0 && Date.now() - lastActivity > idleMilliseconds(environment)) {
					await shutdown('idle with no runs');
				}
			})().catch((error: unknown) => {
				log(`watcher: ${(error as Error).message}`);
			});
		}, watchMilliseconds);
		watcher.unref();

		const shutdown = async (why: string) => {
			stopping ??= (async () => {
				log(`stopping: ${why}`);
				clearInterval(watcher);
				for (const stop of captures.values()) {
					stop.abort();
				}

				for (const live of runs.values()) {
					live.networkLog?.end();
				}

				await Promise.all(auditQueues.values());
				await new Promise<void>(resolve => {
					api?.close(() => {
						resolve();
					});
					api?.closeAllConnections();
				});
				await proxy?.close();
				await router?.close();
				await fs.rm(paths.socket, {force: true});
				await lock.release();
				stopped();
			})();
			return stopping;
		};

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
		await proxy?.close();
		await router?.close();
		api?.close();
		await lock.release();
		return 1;
	}
}
