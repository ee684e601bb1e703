import {randomBytes} from 'node:crypto';
import path from 'node:path';
import {awsRoleOf, createRunAwsCredentials, type AwsRunRole} from '../credentials/aws-credential-process.js';
import {hostAwsCredentials} from '../credentials/aws-role.js';
import {createDefaultGrantService} from '../credentials/grant-service.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {createOutboundHttp} from '../network/outbound-http.js';
import type {InjectableGrant} from '../proxy/injection-rules.js';
import {parseAllowEntry, type AllowEntry, type NetworkPolicy} from '../proxy/network-policy.js';
import type {NetworkEntry, ProxyRun} from '../proxy/proxy-server.js';
import type {RunStore} from '../runs/run-store.js';
import {openLineAppender, type LineAppender} from '../files/line-appender.js';
import {startRunSsh, sshRuleOf, type RunSsh} from '../sshagent/run-ssh.js';
import type {AuditQueue} from './audit-queue.js';
import {allowListWith, tokenHash, type AllowedHost, type RunRegistration} from './daemon-protocol.js';
import {writeDaemonState, type DaemonState, type PersistedRun} from './daemon-state.js';
import type {StorageHealth} from './storage-health.js';

/**
 * The runs registered with the daemon: each run's token, policy, grants
 * (cached), SSH agent and AWS credentials, its network.jsonl, and the
 * persistence of all of it to daemon-state.json, so a daemon started after
 * a crash serves the same containers unchanged.
 */

/** A registered run as the daemon holds it while it serves. */
export type LiveRun = {
	persisted: PersistedRun;
	proxyRun: ProxyRun;
	/** The run's SSH agent and client files, for runs with ssh: grants. */
	ssh?: Promise<RunSsh>;
	networkLog?: NetworkLog;
	requests: number;
	blocked: number;
};

/** A run's network.jsonl, appended in order, each entry whole or not at all. */
type NetworkLog = {write(line: string): void; end(): void};

/** How `register` went; the API turns each into its answer. */
export type Registration =
	| {outcome: 'registered'; token: string; sshDirectory?: string; awsRole?: AwsRunRole; hostPorts: number[]}
	/** Another request registered the same run meanwhile. */
	| {outcome: 'busy'}
	| {outcome: 'ssh agent failed'; message: string}
	| {outcome: 'aws grant unreadable'};

export type RunRegistry = {
	/** The run a proxy token belongs to; the token itself is never kept, only its hash. */
	runForToken(token: string): ProxyRun | undefined;
	has(runId: string): boolean;
	/** The registered runs, live: one unregistered while the caller iterates is not reached. */
	registered(): IterableIterator<LiveRun>;
	count(): number;
	/** Admits a run, replacing any earlier registration of the same id, and persists it. */
	register(registration: RunRegistration): Promise<Registration>;
	/** Forgets a run: its token stops working and its open connections end. False when it was not registered. */
	unregister(runId: string, why: string): Promise<boolean>;
	/** Adds an entry to a running run's allow list (recorded in its audit log first); undefined when the run is not registered. */
	allowHost(runId: string, entry: string): Promise<AllowedHost | undefined>;
	/** Counts a proxied request and appends it to the run's network.jsonl; false when the run is not registered. */
	recordRequest(runId: string, entry: NetworkEntry): boolean;
	/** Writes daemon-state.json: `state` as it stands, with the runs registered now. */
	save(): Promise<void>;
	/** Resolves once what unregister took down (each run's network) is gone. */
	settled(): Promise<void>;
	/** Ends the network logs; the runs stay persisted for the next daemon. */
	close(): void;
};

export type RunRegistryOptions = {
	environment: MoatEnvironment;
	store: Pick<RunStore, 'networkFile'>;
	/** daemon-state.json */
	statePath: string;
	/** The state read at start; its runs are admitted at once, and `save` writes it back. */
	state: DaemonState;
	audit: AuditQueue;
	/** Where an entry the disk had no room for is said (once, until entries get through again). */
	storage?: Pick<StorageHealth, 'failed' | 'wrote'>;
	/** Ends the run's open proxy connections (the proxy starts after the registry). */
	disconnect(runId: string): void;
	/** The run is gone: what was made for it (its network) goes too. */
	released?(runId: string): Promise<void>;
	log(message: string): void;
	now?: () => number;
};

/** How long a run's decrypted grants are reused before the store is read again. */
export const grantCacheMilliseconds = 10_000;

/** Whether a run's grants include the aws one (runs ask for it as `aws`). */
export const hasAwsGrant = (grants: readonly string[]) => grants.some(name => name.split(':')[0] === 'aws');

export function toPolicy(registration: Pick<RunRegistration, 'policy'>): NetworkPolicy {
	return {
		mode: registration.policy.mode,
		allow: registration.policy.allow.map(entry => parseAllowEntry(entry)).filter((entry): entry is AllowEntry => entry !== undefined),
	};
}

/** What is kept of a registration: only the fields the daemon knows, and SSH only with a whole-number uid and gid. */
export function persistedRunOf(registration: RunRegistration, hash: string, registeredAt: string): PersistedRun {
	return {
		runId: registration.runId,
		agent: registration.agent ?? null,
		policy: {mode: registration.policy.mode === 'strict' ? 'strict' : 'permissive', allow: [...registration.policy.allow ?? []]},
		grants: [...registration.grants],
		...Array.isArray(registration.hostPorts) ? {hostPorts: registration.hostPorts.filter(port => Number.isInteger(port) && port >= 1 && port <= 65_535)} : {},
		...registration.ssh && Number.isInteger(registration.ssh.uid) && Number.isInteger(registration.ssh.gid)
			? {ssh: {uid: registration.ssh.uid, gid: registration.ssh.gid, ...typeof registration.ssh.upstream === 'string' ? {upstream: registration.ssh.upstream} : {}}}
			: {},
		tokenHash: hash,
		registeredAt,
	};
}

export function createRunRegistry(options: RunRegistryOptions): RunRegistry {
	const {environment, store, statePath, state, audit, disconnect, log, now = Date.now} = options;
	const runs = new Map<string, LiveRun>();
	const byToken = new Map<string, LiveRun>();
	let grantService: Awaited<ReturnType<typeof createDefaultGrantService>> | undefined;
	const grantStore = async () => {
		grantService ??= await createDefaultGrantService(environment);
		return grantService.store;
	};

	const loadGrants = async (names: readonly string[]): Promise<InjectableGrant[]> => {
		const grantsStore = await grantStore();
		const grants = await Promise.all(names.filter(name => !name.startsWith('ssh:')).map(async name => {
			const grant = (await grantsStore.get(name)) ?? (name.includes(':') ? await grantsStore.get(name.split(':')[0]!) : undefined);
			return grant?.secret.token ? {name, provider: grant.provider as string, kind: grant.details.kind ?? '', token: grant.secret.token} : undefined;
		}));
		return grants.filter((grant): grant is InjectableGrant => grant !== undefined);
	};

	// AssumeRole goes where grant validation goes: STS, or its MOAT_UPSTREAM_OVERRIDES stand-in.
	const outbound = createOutboundHttp(environment.variables[environmentVariables.upstreamOverrides]);
	/** The stored aws grant's role, read at each use; undefined (and said in the log) when it is gone or unreadable. */
	const loadAwsRole = async (runId: string): Promise<AwsRunRole | undefined> => {
		try {
			const grant = await (await grantStore()).get('aws');
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
				hostPorts: persisted.hostPorts ?? [],
				async grants() {
					// Re-read now and then: a grant revoked or replaced on the host applies to live runs too.
					if (!grants || now() - loadedAt > grantCacheMilliseconds) {
						loadedAt = now();
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
					audit.recordLater(persisted.runId, 'credential.injected', {grant: 'aws', host, role: roleArn, expiresAt});
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
				async rules() {
					const grantsStore = await grantStore();
					// Read at every use: a revoked grant stops signing at once.
					const grants = await Promise.all(sshGrants.map(async name => grantsStore.get(name)));
					return grants.map(grant => (grant ? sshRuleOf(grant) : undefined)).filter(rule => rule !== undefined);
				},
				signed(fingerprint, host) {
					audit.recordLater(persisted.runId, 'ssh.signed', {fingerprint, host});
				},
				refused(reason) {
					log(`run ${persisted.runId}: SSH agent refused: ${reason}`);
					audit.recordLater(persisted.runId, 'request.blocked', {host: 'ssh-agent', reason});
				},
			});
			live.ssh.catch((error: unknown) => {
				log(`run ${persisted.runId}: SSH agent not started: ${(error as Error).message}`);
			});
			const ssh = live.ssh;
			// The bottle's agent connections, relayed by the gateway through the proxy with the run's token.
			live.proxyRun.sshAgent = socket => {
				ssh.then(agent => {
					agent.serve(socket);
				}, () => socket.destroy());
			};
		}

		runs.set(persisted.runId, live);
		byToken.set(persisted.tokenHash, live);
		// Read the grants now: their kinds are known before the container's first request.
		void live.proxyRun.grants().catch(() => undefined);
		return live;
	};

	// Writes go one after another, each of the state as it is when it starts: an older snapshot never lands last.
	let saving: Promise<void> = Promise.resolve();
	const save = async () => {
		saving = saving.catch(() => undefined).then(async () => {
			state.runs = Object.fromEntries([...runs.values()].map(live => [live.persisted.runId, live.persisted]));
			await writeDaemonState(statePath, state);
		});
		return saving;
	};

	// What unregister started taking down: the daemon waits for it before it stops.
	const releases = new Set<Promise<void>>();
	const unregister = async (runId: string, why: string) => {
		const live = runs.get(runId);
		if (!live) {
			return false;
		}

		runs.delete(runId);
		byToken.delete(live.persisted.tokenHash);
		await live.ssh?.then(async ssh => ssh.close(), () => undefined);
		// Connections opened with the token end with it.
		disconnect(runId);
		live.networkLog?.end();
		// The token is dead from here; taking down the run's network (about
		// 0.2 s of engine calls) goes on behind, so the run's finisher, and
		// the launcher waiting on it, are not held for it.
		const releasing = (options.released?.(runId) ?? Promise.resolve()).catch((error: unknown) => {
			log(`run ${runId}: ${(error as Error).message}`);
		}).finally(() => {
			releases.delete(releasing);
		});
		releases.add(releasing);
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
				await audit.record(runId, 'policy.changed', {allow: entry, by: 'user'});
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

	const register = async (registration: RunRegistration): Promise<Registration> => {
		await unregister(registration.runId, 'registered again');
		if (runs.has(registration.runId)) {
			return {outcome: 'busy'};
		}

		const token = randomBytes(24).toString('hex');
		const live = admit(persistedRunOf(registration, tokenHash(token), new Date(now()).toISOString()));
		let sshDirectory: string | undefined;
		try {
			sshDirectory = (await live.ssh)?.directory;
		} catch (error) {
			await unregister(registration.runId, 'SSH agent failed');
			return {outcome: 'ssh agent failed', message: (error as Error).message};
		}

		// The container's AWS config names the role's region; a grant that cannot be read fails the run now, not its first AWS call.
		const awsRole = hasAwsGrant(registration.grants) ? await loadAwsRole(registration.runId) : undefined;
		if (hasAwsGrant(registration.grants) && !awsRole) {
			await unregister(registration.runId, 'aws grant unreadable');
			return {outcome: 'aws grant unreadable'};
		}

		await save();
		log(`run ${registration.runId} registered`);
		return {outcome: 'registered', token, hostPorts: live.persisted.hostPorts ?? [], ...sshDirectory ? {sshDirectory} : {}, ...awsRole ? {awsRole} : {}};
	};

	const networkLogFor = (live: LiveRun): NetworkLog => {
		if (!live.networkLog) {
			const {runId} = live.persisted;
			const what = `network log of ${runId}`;
			let appender: Promise<LineAppender> | undefined;
			let writing: Promise<unknown> = Promise.resolve();
			const write = async (line: string) => {
				if (!appender) {
					appender = openLineAppender(store.networkFile(runId));
					// A file that could not be opened is opened again for the next entry.
					appender.catch(() => {
						appender = undefined;
					});
				}

				await (await appender).append(line);
			};

			// Lines that came while the file was busy: appended together in one write when it is free,
			// so a busy run costs one append per batch, not a file stat and a write per request.
			let waiting: string[] = [];
			live.networkLog = {
				write(line) {
					waiting.push(line);
					if (waiting.length > 1) {
						return;
					}

					writing = writing.then(async () => {
						const lines = waiting.join('');
						waiting = [];
						await write(lines);
					}).then(() => {
						options.storage?.wrote(what);
					}, (error: unknown) => {
						// Entries with no room are left out whole; the next are tried as they come.
						if ((options.storage?.failed(what, error) ?? 'other') !== 'again') {
							log(`${what}: ${(error as Error).message}`);
						}
					});
				},
				end() {
					writing = writing.then(async () => (await appender)?.close()).catch(() => undefined);
				},
			};
		}

		return live.networkLog;
	};

	// The runs a previous daemon served: their containers still hold their tokens.
	for (const persisted of Object.values(state.runs)) {
		admit(persisted);
	}

	return {
		runForToken: token => byToken.get(tokenHash(token))?.proxyRun,
		has: runId => runs.has(runId),
		registered: () => runs.values(),
		count: () => runs.size,
		register,
		unregister,
		allowHost,
		recordRequest(runId, entry) {
			const live = runs.get(runId);
			if (!live) {
				return false;
			}

			live.requests++;
			live.blocked += entry.blocked ? 1 : 0;
			networkLogFor(live).write(JSON.stringify(entry) + '\n');
			return true;
		},
		save,
		async settled() {
			await Promise.all(releases);
		},
		close() {
			for (const live of runs.values()) {
				live.networkLog?.end();
			}
		},
	};
}
