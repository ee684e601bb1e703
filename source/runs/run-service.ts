import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {loadWorkspaceConfig} from '../config/config-loader.js';
import {environmentNamePattern, runNamePattern} from '../config/config-names.js';
import type {AuditEventType} from '../audit/audit-chain.js';
import type {AuditSink} from '../audit/audit-log.js';
import type {MoatConfig} from '../config/config-schema.js';
import type {BufferedOutput} from '../engine/buffered-output.js';
import type {Attachment, BindMount, ContainerState, Engine, OutputStream} from '../engine/engine.js';
import {createFrameDecoder} from '../engine/log-frames.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {isMoatError, MoatError, notFoundError, usageError} from '../errors.js';
import {planDependencies} from '../images/dependencies.js';
import {ensureImage, imageLabels} from '../images/image-builder.js';
import {checkHostPath, parseMount, protectedPaths, type MountSpec, type ProtectedPath} from '../workspace/mount-policy.js';
import type {RegisteredRun, RunRegistration} from '../daemon/daemon-protocol.js';
import {awsCredentialProcessMounts} from '../credentials/aws-credential-process.js';
import {sealedEnvironment} from '../proxy/container-environment.js';
import {createSecretResolver, type SecretResolver} from '../secrets/secret-resolver.js';
import type {SecretBackend} from '../secrets/secret-references.js';
import {containerAgentSocket, containerSshConfig, containerSshDirectory} from '../sshagent/ssh-client-files.js';
import {routerPort, serviceVariables} from '../routing/route-decisions.js';
import {agentCacheDirectory} from '../agents/agent-cache.js';
import {describeRequests, isOfficialImage, type TrustRequest, type WorkspaceTrust} from '../workspace/workspace-trust.js';
import {isCaptureLocked, waitForCaptureLock, withFileLock} from './capture-lock.js';
import {captureLogs} from './log-capture.js';
import {containerLabels} from './labels.js';
import {isActive, newRunId, type RunMetadata} from './run-metadata.js';
import {resolveRun} from './run-resolution.js';
import {reconcile} from './reconcile.js';
import type {LogRecord, RunStore} from './run-store.js';

export {containerLabels} from './labels.js';

/** The UID a root-owned workspace's agent gets instead of 0. */
export const rootReplacementId = 5000;

/** What the user asked for on the command line. */
export type RunRequest = {
	workspace: string;
	name?: string;
	/** `K=V` strings from -e. */
	environment: readonly string[];
	grants: readonly string[];
	/** `src:dst[:ro]` strings from -m. */
	mounts: readonly string[];
	/** The command after `--`; empty means the config's. */
	command: readonly string[];
	interactive?: boolean;
	/** Started detached: nobody attaches now, so no terminal is needed. */
	detach: boolean;
	/** Whether stdin and stdout are a terminal an interactive run can use. */
	hasTerminal: boolean;
	rebuild: boolean;
	keep: boolean;
	/** Where relative paths on the command line start. */
	cwd: string;
	/** The agent the run is (`moat claude`, `moat codex`); overrides agent.yaml's `agent`. */
	agent?: string;
	/**
	 * Sets up what the agent needs once the run's user is known: mounts moat
	 * makes itself (checked by moat, not by the mount policy) and variables
	 * applied after the drop to the run's user.
	 */
	prepareAgent?: (owner: {workspace: string; uid: number; gid: number}) => Promise<AgentSetup>;
};

/** What an agent's bottle adds to a run (see RunRequest.prepareAgent). */
export type AgentSetup = {
	binds: BindMount[];
	environment: Record<string, string>;
	/** Placeholder variables this agent must not see (Codex with a ChatGPT login prefers a key to its auth.json). */
	withoutPlaceholders?: readonly string[];
};

/** A run with ssh: grants needs the user's agent now: said before anything starts, not as a failed signature later. */
async function checkSshAgent(socket: string | undefined, grants: readonly string[]): Promise<void> {
	const hint = `Start ssh-agent, add the key with ssh-add, and run again from that shell (the run has ${grants.join(', ')}).`;
	if (!socket) {
		throw new MoatError('SSH_AUTH_SOCK is not set: there is no SSH agent to sign with.', hint);
	}

	await new Promise<void>((resolve, reject) => {
		const connection = net.createConnection(socket);
		connection.once('connect', () => {
			connection.end();
			resolve();
		});
		connection.once('error', error => {
			reject(new MoatError(`The SSH agent at ${socket} cannot be reached (${(error as NodeJS.ErrnoException).code ?? error.message}).`, hint));
		});
	});
}

function withoutVariables(variables: Record<string, string>, names: readonly string[]): Record<string, string> {
	return Object.fromEntries(Object.entries(variables).filter(([name]) => !names.includes(name)));
}

/** How the service talks to the user while it works (stderr, in the CLI). */
export type Reporter = {
	info(message: string): void;
	warn(message: string): void;
	/** Verbose detail, such as image build output. */
	debug(message: string): void;
};

export type RunServiceDependencies = {
	engine: Engine;
	store: RunStore;
	environment: MoatEnvironment;
	reporter: Reporter;
	/** Whether a stored grant answers to this name (`github`, `github:repo`, `ssh:HOST`). */
	grantExists?: (name: string) => Promise<boolean>;
	/** The run's tamper-evident log: the daemon's writer when it runs (daemon/daemon-client.ts), else audit/audit-log.ts. */
	audit?: AuditSink;
	/** What agent.yaml may ask for in each workspace (workspace/workspace-trust.ts). */
	trust?: WorkspaceTrust;
	/** Asks the user a yes/no question on the terminal. */
	confirm?: (question: string) => Promise<boolean>;
	/** The daemon's proxy: runs join its sealed network (daemon/daemon-client.ts). */
	network?: RunNetwork;
	/** Reads agent.yaml's `secrets:` on the host; by default with the `op` and `aws` CLIs found on `environment`'s PATH. */
	secrets?: SecretResolver;
};

/** How a run gets (and gives back) its way out through the proxy. */
export type RunNetwork = {
	register(registration: RunRegistration): Promise<RegisteredRun>;
	/** Revokes the run's proxy token; quiet when no daemon is running. */
	release(runId: string): Promise<void>;
};

export type PreparedRun = {run: RunMetadata; config: MoatConfig};

/** A host path pinned to one file system object: where it really is, and which inode it is. */
type PinnedPath = {real: string; identity: string; directory: boolean};

/**
 * Resolves a path and records the inode it names, in one step that a
 * concurrent symlink swap cannot split: the path is opened, and both the
 * real location and the identity are read from the open descriptor. (On
 * Linux through /proc/self/fd; elsewhere realpath and stat are compared
 * twice, which narrows the window without closing it.)
 */
async function pinPath(target: string): Promise<PinnedPath> {
	let handle: fs.FileHandle;
	try {
		handle = await fs.open(target, 'r');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			throw error;
		}

		// Not openable (a socket, say): resolve and stat, still checked below.
		const real = await fs.realpath(target);
		const stats = await fs.stat(real);
		return {real, identity: `${stats.dev}:${stats.ino}`, directory: stats.isDirectory()};
	}

	try {
		const stats = await handle.stat();
		const real = process.platform === 'linux'
			? await fs.readlink(`/proc/self/fd/${handle.fd}`)
			: await fs.realpath(target);
		if (process.platform !== 'linux') {
			const again = await fs.stat(real);
			if (again.dev !== stats.dev || again.ino !== stats.ino) {
				throw usageError(`${target} changed while moat was checking it.`, 'Run again; if it keeps changing, something is swapping it.');
			}
		}

		return {real, identity: `${stats.dev}:${stats.ino}`, directory: stats.isDirectory()};
	} finally {
		await handle.close();
	}
}

async function realDirectory(given: string, cwd: string): Promise<PinnedPath> {
	const absolute = path.resolve(cwd, given);
	let pinned: PinnedPath;
	try {
		pinned = await pinPath(absolute);
	} catch (error) {
		if (isMoatError(error)) {
			throw error;
		}

		throw usageError(`Workspace ${absolute} does not exist.`, 'Pass an existing directory, or create it first.');
	}

	if (!pinned.directory) {
		throw usageError(`Workspace ${absolute} is a file, not a directory.`, 'Pass the directory that holds your project.');
	}

	return pinned;
}

/**
 * Resolves symlinks in the longest existing prefix of a path, so a path that
 * does not exist yet (a MOAT_HOME about to be created) still compares by
 * where it really is.
 */
async function realPathOrResolved(target: string): Promise<string> {
	const absolute = path.resolve(target);
	try {
		return await fs.realpath(absolute);
	} catch {
		const parent = path.dirname(absolute);
		return parent === absolute ? absolute : path.join(await realPathOrResolved(parent), path.basename(absolute));
	}
}

/** `export 'NAME'='value'` lines; names are already checked to be POSIX names. */
export function shellAssignments(variables: Readonly<Record<string, string>>): string {
	return Object.entries(variables)
		.map(([name, value]) => `export ${name}='${value.replaceAll('\'', String.raw`'\''`)}'`)
		.join('\n');
}

function parseEnvironment(assignments: readonly string[]): Record<string, string> {
	const result: Record<string, string> = {};
	for (const assignment of assignments) {
		const equals = assignment.indexOf('=');
		const name = equals === -1 ? assignment : assignment.slice(0, equals);
		if (equals === -1 || !environmentNamePattern.test(name)) {
			throw usageError(
				equals === -1
					? `-e ${assignment} has no value.`
					: `-e ${assignment}: "${name}" is not a valid environment variable name.`,
				'Write -e NAME=value with a name of letters, digits and _ that does not start with a digit.',
			);
		}

		result[name] = assignment.slice(equals + 1);
	}

	return result;
}

/**
 * The run lifecycle: start a container for a workspace, keep the stored
 * record in step with the engine, stop, destroy and clean up.
 */
export function createRunService({engine, store, environment, reporter, grantExists, audit, trust, confirm, network, secrets = createSecretResolver(environment.variables)}: RunServiceDependencies) {
	// An event that cannot be logged is reported, not fatal: the run itself
	// is already under way, and the log's chain shows any gap it leaves.
	async function record(runId: string, type: AuditEventType, data: Record<string, unknown>, seal = false): Promise<void> {
		try {
			await audit?.record(runId, type, data);
			if (seal) {
				await audit?.seal(runId);
			}
		} catch (error) {
			reporter.warn(`could not write the audit log of ${runId}: ${(error as Error).message}`);
		}
	}

	async function protectedList(): Promise<ProtectedPath[]> {
		const dockerHost = environment.variables[environmentVariables.dockerHost];
		const sockets = ['/var/run/docker.sock', '/run/docker.sock'];
		if (dockerHost?.startsWith('unix://')) {
			sockets.push(dockerHost.slice('unix://'.length));
		}

		const literal = protectedPaths({moatHome: path.resolve(environment.moatHome), userHome: path.resolve(environment.userHome), dockerSockets: sockets, agentCache: agentCacheDirectory(environment)});
		// Both the path as named and where its symlinks lead: ~/.ssh may be a
		// link into a dotfiles directory.
		const resolved = await Promise.all(literal.map(async entry => ({...entry, path: await realPathOrResolved(entry.path)})));
		const seen = new Set<string>();
		return [...literal, ...resolved].filter(entry => !seen.has(entry.path) && seen.add(entry.path));
	}

	async function resolveMounts(specs: readonly string[], base: string, origin: string, refused: ProtectedPath[]): Promise<Array<MountSpec & {identity: string}>> {
		return Promise.all(
			specs.map(async spec => {
				const mount = parseMount(spec, base, origin);
				let pinned: PinnedPath;
				try {
					pinned = await pinPath(mount.source);
				} catch (error) {
					if (isMoatError(error)) {
						throw error;
					}

					throw usageError(`Mount source ${mount.source} (${origin}) does not exist.`, 'Create it, or fix the path.');
				}

				// The path checked is the one the identity was taken from.
				checkHostPath(pinned.real, `to mount`, refused);
				return {...mount, source: pinned.real, identity: pinned.identity};
			}),
		);
	}

	/** Brings a run in line with its container (exit code, logs, removal). */
	async function finish(run: RunMetadata): Promise<RunMetadata> {
		if (!run.containerId) {
			return run;
		}

		let container: ContainerState | undefined;
		try {
			container = await engine.inspectContainer(run.containerId);
		} catch (error) {
			if (error instanceof MoatError) {
				throw error;
			}

			// A transient engine error is not evidence that the container is
			// gone: keep the record as it is and try again next time.
			reporter.debug(`could not inspect ${run.containerId}: ${(error as Error).message}`);
			return run;
		}

		const decision = reconcile(run, container, environment.now());
		let captured = true;
		if (decision.catchUpLogs) {
			const catchUp = async () => captureLogs(engine, store, run.id, run.containerId!, {follow: false, tty: run.interactive}).catch((error: unknown) => {
				reporter.debug(`could not read the output of ${run.id}: ${(error as Error).message}`);
				return true;
			});
			captured = await catchUp();
			if (!captured && decision.removeContainer) {
				// The daemon is copying the output live; the container has ended,
				// so its copy ends in a moment. Wait for it rather than leave the
				// container behind for a later look to remove.
				await waitForCaptureLock(store.captureLockFile(run.id), 5000);
				captured = await catchUp();
			}
		}

		// Several moat processes may see the same exit at once; only the one
		// that makes the change records it, so the log says it once.
		let next = Object.keys(decision.change).length === 0 ? run : await withFileLock(path.join(store.directory(run.id), 'state.lock'), async () => {
			const current = await store.read(run.id);
			if (isActive(run) && !isActive(current)) {
				return current;
			}

			const changed = await store.update(run.id, decision.change);
			if (isActive(run) && !isActive(changed)) {
				// The token dies with the run: nothing can use the proxy in its name again.
				await network?.release(run.id).catch((error: unknown) => {
					reporter.debug(`could not revoke the proxy token of ${run.id}: ${(error as Error).message}`);
				});
				await record(run.id, 'run.exited', {state: changed.state, exitCode: changed.exitCode, error: changed.error}, true);
			}

			return changed;
		});

		// Another process is still copying the output: the container (and
		// its log) must stay until it is done; a later look removes it.
		if (decision.removeContainer && captured) {
			await engine.removeContainer(run.containerId, {force: false});
			next = await store.update(run.id, {containerId: null});
		}

		return next;
	}

	/**
	 * Creates and starts a run. `beforeStart` runs once the container exists
	 * but before it starts: an interactive run attaches there so that not a
	 * byte of output is missed.
	 */
	async function start(request: RunRequest, beforeStart?: (prepared: PreparedRun) => Promise<void>): Promise<RunMetadata> {
		const pinnedWorkspace = await realDirectory(request.workspace, request.cwd);
		const workspace = pinnedWorkspace.real;
		const refused = await protectedList();
		checkHostPath(workspace, 'the workspace', refused);
		const {config} = await loadWorkspaceConfig(workspace);

		const command = request.command.length > 0 ? [...request.command] : (config.command ?? []);
		if (command.length === 0 || (command[0] ?? '').trim() === '') {
			throw usageError('No command to run.', 'Put one after --, as in moat run . -- npm test, or set command in agent.yaml.');
		}

		const name = request.name ?? config.name ?? path.basename(workspace);
		if (!runNamePattern.test(name)) {
			throw usageError(`Run name "${name}" is not valid.`, 'Use letters, digits, ".", "_" and "-", starting with a letter or digit.');
		}

		const commandLineEnvironment = parseEnvironment(request.environment);
		const userEnvironment: Record<string, string> = {...config.env, ...commandLineEnvironment};
		// A variable that is both a value and a secret in agent.yaml is a
		// mistake worth saying; -e on the command line simply wins over both.
		const doubled = Object.keys(config.secrets ?? {}).find(secretName => Object.hasOwn(config.env ?? {}, secretName));
		if (doubled) {
			throw usageError(`agent.yaml sets ${doubled} in both env and secrets.`, `Keep ${doubled} in one of them.`);
		}

		const secretReferences = Object.entries(config.secrets ?? {}).filter(([secretName]) => !Object.hasOwn(commandLineEnvironment, secretName));
		const interactive = request.interactive ?? config.interactive ?? false;
		if (interactive && !request.detach && !request.hasTerminal) {
			throw usageError(
				request.interactive ? 'Interactive mode (-i) needs a terminal, and this is not one.' : 'This run is interactive (interactive: true in agent.yaml) and needs a terminal, and this is not one.',
				'Drop -i (or pass -i=false) to stream its output, start it with -d, or run moat from a terminal.',
			);
		}

		const mounts = [
			...(await resolveMounts(config.mounts ?? [], workspace, 'agent.yaml', refused)),
			...(await resolveMounts(request.mounts, request.cwd, '-m', refused)),
		];

		const owner = await fs.stat(workspace);
		let uid = owner.uid;
		let gid = owner.gid;
		if (uid === 0) {
			reporter.warn(`${workspace} is owned by root; the agent runs as UID ${rootReplacementId} and may not be able to write it. chown it to your user.`);
			uid = rootReplacementId;
			gid = gid === 0 ? rootReplacementId : gid;
		}

		const grants = [...new Set([...(config.grants ?? []), ...request.grants])];
		for (const grant of grants) {
			if (grantExists && !(await grantExists(grant))) {
				const provider = grant.startsWith('ssh:') ? `ssh --host ${grant.slice(4)}` : grant.split(':')[0];
				throw notFoundError(`The run asks for the ${grant} grant, and there is none.`, `Store it first with moat grant ${provider}.`);
			}
		}

		// agent.yaml is written by the agent too: what it asks for beyond the
		// workspace needs the user's yes once (SPEC §3). The command line is
		// the user's own word, so what it passes counts as approved.
		const configMounts = mounts.slice(0, (config.mounts ?? []).length);
		const requests: TrustRequest[] = [
			...(config.grants ?? []).map(grant => ({kind: 'grant' as const, value: grant})),
			...(config.base_image && !isOfficialImage(config.base_image) ? [{kind: 'base image' as const, value: config.base_image}] : []),
			// A secret hands the container a value from the user's vault or
			// shell (env://AWS_SECRET_ACCESS_KEY): the agent could name any.
			...secretReferences.map(([, reference]) => ({kind: 'secret' as const, value: reference})),
			...configMounts
				.filter(mount => path.relative(workspace, mount.source).startsWith('..') || path.isAbsolute(path.relative(workspace, mount.source)))
				.map(mount => ({kind: 'mount' as const, value: `${mount.source}:${mount.target}${mount.readOnly ? ':ro' : ''}`})),
		];
		const commandLine = new Set(request.grants);
		const trusted = {path: workspace, identity: pinnedWorkspace.identity};
		const unapproved = trust ? (await trust.unapproved(trusted, requests)).filter(item => !(item.kind === 'grant' && commandLine.has(item.value))) : [];
		if (unapproved.length > 0) {
			const list = describeRequests(unapproved);
			if (!request.hasTerminal || !confirm) {
				const grantFlags = unapproved.filter(item => item.kind === 'grant').map(item => `--grant ${item.value}`);
				throw usageError(
					`agent.yaml asks for ${list}, which this workspace has not used before.`,
					`Run moat on a terminal to approve${grantFlags.length > 0 ? `, or pass ${grantFlags.join(' ')} on the command line` : ''}.`,
				);
			}

			if (!(await confirm(`agent.yaml in ${workspace} asks for ${list}. Allow it for this workspace?`))) {
				throw usageError(`Not allowed: ${list}.`, 'Remove it from agent.yaml, or run again and answer yes.');
			}
		}

		if (trust) {
			await trust.approve(trusted, [...unapproved, ...requests.filter(item => item.kind === 'grant' && commandLine.has(item.value))]);
		}

		// Read now, after the user approved them and before anything is
		// built or created: a secret that cannot be read stops the run here.
		// One at a time, in file order, so the first failure named is the
		// first in the file, and op's approval prompts come one by one.
		const resolvedSecrets: Array<{name: string; backend: SecretBackend}> = [];
		for (const [secretName, reference] of secretReferences) {
			const {backend, value} = await secrets.resolve(secretName, reference);
			userEnvironment[secretName] = value;
			resolvedSecrets.push({name: secretName, backend});
			reporter.debug(`secret ${secretName} read through ${backend}`);
		}

		const agentSetup = await request.prepareAgent?.({workspace, uid, gid: gid || rootReplacementId});
		const agent = request.agent ?? config.agent ?? null;
		// What moat's own helpers run in the container: ssh for ssh: grants, curl for the AWS helper.
		const helperPackages = [...grants.some(grant => grant.startsWith('ssh:')) ? ['openssh-client'] : [], ...grants.includes('aws') ? ['curl'] : []];
		const plan = planDependencies([...config.dependencies ?? [], ...helperPackages.filter(name => !(config.dependencies ?? []).includes(name))], config.base_image);
		const buildOptions = {
			onBuildStart: (tag: string, base: string) => {
				reporter.info(`Building image ${tag} from ${base}…`);
			},
			onProgress: (line: string) => {
				reporter.debug(line);
			},
		};
		let image = await ensureImage(engine, plan, {...buildOptions, rebuild: request.rebuild});

		const id = newRunId();
		// What was checked must be what gets mounted: an agent could swap a
		// checked directory for a symlink before the engine follows the path.
		// The container's start compares each target's device and inode with
		// the source's as checked here. That holds where the engine shares
		// this machine's filesystems (Linux with a local socket); elsewhere
		// (Docker Desktop's file sharing renumbers them) it is skipped.
		const localEngine = environment.platform === 'linux' && !engine.address.includes('://');
		const mountChecks = localEngine
			? [`/workspace=${pinnedWorkspace.identity}`, ...mounts.map(mount => `${mount.target}=${mount.identity}`)].join(' ')
			: undefined;
		const policy = {mode: config.network?.policy ?? 'permissive', allow: config.network?.allow ?? []} as const;
		// The proxy learns the run before the container exists: its token goes into the container's environment.
		const sshGrants = grants.filter(grant => grant.startsWith('ssh:'));
		if (sshGrants.length > 0 && network) {
			await checkSshAgent(environment.variables.SSH_AUTH_SOCK, sshGrants);
		}

		const access = network
			? await network.register({
				runId: id, agent, policy: {mode: policy.mode, allow: [...policy.allow]}, grants,
				...sshGrants.length > 0 ? {ssh: {upstream: environment.variables.SSH_AUTH_SOCK, uid: uid || rootReplacementId, gid: gid || rootReplacementId}} : {},
			})
			: undefined;
		// The run's SSH agent and client files: the folder read-only, its config where ssh looks first.
		const sshBinds = access?.sshDirectory
			? [
				{source: access.sshDirectory, target: containerSshDirectory, readOnly: true},
				{source: path.join(access.sshDirectory, 'config'), target: containerSshConfig, readOnly: true},
			]
			: [];
		// An aws grant's helper and config, read-only: the container asks the proxy for a session, never holds a key.
		const awsBinds = access?.aws
			? await awsCredentialProcessMounts(environment.moatHome, access.aws.region).catch(async (error: unknown) => {
				await network?.release(id).catch(() => undefined);
				throw error;
			})
			: [];
		const spec = {
			name: `moat-${id}`,
			command,
			// The user's variables travel as one shell-quoted value applied
			// after moat-init drops root: set directly, PATH or LD_PRELOAD
			// from agent.yaml would steer the root phase.
			environment: {
				MOAT_USER_ENV: shellAssignments({...agentSetup?.environment, ...userEnvironment}),
				MOAT_RUN_ID: id,
				MOAT_RUN_NAME: name,
				MOAT_UID: String(uid),
				MOAT_GID: String(gid || rootReplacementId),
				...(mountChecks ? {MOAT_MOUNT_CHECKS: mountChecks} : {}),
				...(access ? withoutVariables(sealedEnvironment(access, grants), agentSetup?.withoutPlaceholders ?? []) : {}),
				...(access?.sshDirectory ? {SSH_AUTH_SOCK: containerAgentSocket} : {}),
				// Where each declared port is reached from the host, by name, through moat's router.
				...serviceVariables(config.ports ?? {}, name, routerPort(environment.variables)),
			},
			...(access ? {network: access.network} : {}),
			workingDirectory: '/workspace',
			binds: [{source: workspace, target: '/workspace', readOnly: false}, ...mounts.map(({identity: _identity, ...bind}) => bind), ...agentSetup?.binds ?? [], ...sshBinds, ...awsBinds],
			labels: {
				[containerLabels.managed]: 'true',
				[containerLabels.runId]: id,
				[containerLabels.runName]: name,
				[containerLabels.home]: environment.moatHome,
			},
			tty: interactive,
			openStdin: interactive,
		};
		let containerId: string;
		try {
			try {
				containerId = await engine.createContainer({...spec, image});
			} catch (error) {
				// A `moat clean` elsewhere can remove the image between the check
				// and the create; build it again once rather than fail the run.
				if ((error as {statusCode?: number}).statusCode !== 404) {
					throw error;
				}

				image = await ensureImage(engine, plan, {...buildOptions, rebuild: false});
				containerId = await engine.createContainer({...spec, image});
			}
		} catch (error) {
			await network?.release(id).catch(() => undefined);
			throw error;
		}

		const now = environment.now().toISOString();
		const run: RunMetadata = {
			id,
			name,
			workspace,
			agent,
			image,
			command,
			grants,
			ports: config.ports ?? {},
			mounts: mounts.map(mount => `${mount.source}:${mount.target}${mount.readOnly ? ':ro' : ''}`),
			environmentNames: Object.keys(userEnvironment).sort(),
			containerId,
			state: 'created',
			interactive,
			keep: request.keep,
			createdAt: now,
			startedAt: null,
			stoppedAt: null,
			exitCode: null,
			error: null,
			stopRequested: false,
		};
		await store.create(run);
		await record(id, 'run.created', {
			name,
			workspace,
			image,
			command,
			grants,
			mounts: run.mounts,
			environmentNames: run.environmentNames,
			interactive,
			policy,
		});
		for (const secret of resolvedSecrets) {
			// Which variable came from which backend; the value never.
			await record(id, 'secret.resolved', {name: secret.name, backend: secret.backend});
		}

		try {
			await beforeStart?.({run, config});
			await engine.startContainer(containerId);
		} catch (error) {
			const reason = (error as {json?: {message?: string}}).json?.message ?? (error as Error).message;
			await store.update(id, {state: 'failed', error: reason, stoppedAt: environment.now().toISOString()});
			await network?.release(id).catch(() => undefined);
			await record(id, 'run.exited', {state: 'failed', exitCode: null, error: reason}, true);
			if (!request.keep) {
				await engine.removeContainer(containerId, {force: true});
				await store.update(id, {containerId: null});
			}

			if (error instanceof MoatError) {
				throw error;
			}

			throw new MoatError(`The container for ${id} did not start: ${reason}`, 'Check the command and mounts; moat logs shows any output.', 1, {cause: error});
		}

		// Signed at once, so a live run's log is anchored from its start.
		await record(id, 'run.started', {containerId}, true);
		// Another moat process may already have seen the container end and
		// recorded that; never move a finished run back to running.
		const current = await store.read(id);
		return current.state === 'created' ? store.update(id, {state: 'running', startedAt: environment.now().toISOString()}) : current;
	}

	/** Every run, each brought in line with the engine first. */
	async function list(): Promise<RunMetadata[]> {
		const runs = await store.list();
		return Promise.all(runs.map(async run => finish(run)));
	}

	async function find(reference: string | undefined): Promise<RunMetadata> {
		return finish(resolveRun(await store.list(), reference));
	}

	return {
		start,
		list,
		find,
		/** Brings one run in line with its container (exit code, logs, removal). */
		reconcile: finish,
		/** Appends an event to the run's audit log. */
		record,

		/** Everything the run has printed so far, caught up from the engine first. */
		async output(run: RunMetadata): Promise<LogRecord[]> {
			if (run.containerId) {
				const captured = await captureLogs(engine, store, run.id, run.containerId, {follow: false, tty: run.interactive}).catch((error: unknown) => {
					if (error instanceof MoatError) {
						throw error;
					}

					reporter.debug(`could not read the output of ${run.id}: ${(error as Error).message}`);
					return true;
				});
				if (!captured && !isActive(await store.read(run.id))) {
					// Another process is copying a finished run's output right
					// now; what it writes is what we want to show.
					await waitForCaptureLock(store.captureLockFile(run.id));
				}
			}

			return store.readLogs(run.id);
		},

		/**
		 * Streams a run's output as it happens (and what it missed before),
		 * until the container ends or `signal` aborts. Returns the run as it
		 * stands afterwards.
		 */
		async follow(run: RunMetadata, onRecord: (record: LogRecord) => void, signal?: AbortSignal): Promise<RunMetadata> {
			const {containerId} = run;
			while (containerId && !signal?.aborted) {
				const captured = await captureLogs(engine, store, run.id, containerId, {follow: true, tty: run.interactive, onRecord, signal}).catch(
					(error: unknown) => {
						if (error instanceof MoatError) {
							throw error;
						}

						reporter.debug(`following ${run.id} ended: ${(error as Error).message}`);
						return true;
					},
				);
				// Someone else is copying the output: read the file as it grows,
				// and take over if they go away before the run ends.
				if (captured || (await tailLogFile(run, onRecord, signal)) === 'ended') {
					break;
				}
			}

			if (signal?.aborted) {
				return store.read(run.id);
			}

			return finish(await store.read(run.id));
		},

		/**
		 * Streams a run's output live, as the engine produces it, until the
		 * container ends or `signal` aborts; then brings the record up to
		 * date (logs.jsonl is filled from the engine's log). The engine's
		 * attach stream is complete at any volume, unlike following its log,
		 * which can skip output while the log file rotates.
		 */
		async stream(
			run: RunMetadata,
			sinks: Record<OutputStream, (bytes: Buffer) => void>,
			options: {signal?: AbortSignal; attachment?: Attachment; pending?: BufferedOutput} = {},
		): Promise<RunMetadata> {
			if (!run.containerId && !options.attachment) {
				return run;
			}

			if (run.interactive || !run.containerId) {
				// A TTY's output is terminal drawing; as lines it reads better cleaned.
				return this.follow(run, record => {
					sinks[record.stream](Buffer.from(record.line + '\n'));
				}, options.signal);
			}

			const attachment = options.attachment ?? (await engine.attach(run.containerId!, {stdin: false}));
			// Waiting for the exit starts now, alongside the output, so the
			// exit code is there as soon as the output ends.
			const exited = this.wait(run).catch(() => undefined);
			const decoder = createFrameDecoder();
			await new Promise<void>(resolve => {
				const done = () => {
					attachment.output.off('data', onData);
					attachment.output.off('end', done);
					attachment.output.off('close', done);
					resolve();
				};

				const onData = (chunk: Buffer) => {
					for (const frame of decoder.push(chunk)) {
						sinks[frame.stream](frame.data);
					}
				};

				// What arrived (or ended) before this listener, first.
				const earlier = options.pending?.take() ?? {chunks: [], ended: false};
				for (const chunk of earlier.chunks) {
					onData(chunk);
				}

				if (earlier.ended) {
					done();
					return;
				}

				attachment.output.on('data', onData);
				attachment.output.once('end', done);
				attachment.output.once('close', done);
				options.signal?.addEventListener('abort', done, {once: true});
			});
			attachment.close();
			if (options.signal?.aborted) {
				return store.read(run.id);
			}

			await exited;
			return finish(await store.read(run.id));
		},

		/** Waits for the container to end; the exit code, or undefined if it vanished. */
		async wait(run: RunMetadata): Promise<number | undefined> {
			if (!run.containerId) {
				return run.exitCode ?? undefined;
			}

			try {
				return await engine.waitContainer(run.containerId);
			} catch (error) {
				if (error instanceof MoatError) {
					throw error;
				}

				return (await store.read(run.id)).exitCode ?? undefined;
			}
		},

		async stop(run: RunMetadata): Promise<RunMetadata> {
			if (!isActive(run) || !run.containerId) {
				return run;
			}

			// Under the same lock as the exit transition, so a concurrent
			// finisher cannot overwrite the request with an older record.
			await withFileLock(path.join(store.directory(run.id), 'state.lock'), async () => store.update(run.id, {stopRequested: true}));
			await record(run.id, 'run.stopped', {requestedBy: 'user'});
			await engine.stopContainer(run.containerId, 10);
			return finish(await store.read(run.id));
		},

		async destroy(run: RunMetadata, force: boolean): Promise<void> {
			if (isActive(run) && !force) {
				throw usageError(`Run ${run.id} (${run.name}) is still running.`, `Stop it first with moat stop ${run.id}, or use moat destroy -f ${run.id}.`);
			}

			// The token goes first: nothing may use the proxy in the run's name while it is torn down.
			await network?.release(run.id);
			if (run.containerId) {
				await engine.removeContainer(run.containerId, {force: true});
			}

			await store.remove(run.id);
		},

		/** What `moat clean` would remove: finished runs, and moat images no container uses. */
		async cleanable(): Promise<{runs: RunMetadata[]; images: Array<{id: string; tags: string[]; sizeBytes: number}>; orphanContainers: string[]}> {
			const runs = (await list()).filter(run => !isActive(run));
			const known = new Set((await store.list()).map(run => run.id));
			// Only this MOAT_HOME's containers: another home's runs are not ours to judge.
			const containers = await engine.listContainers({[containerLabels.managed]: 'true', [containerLabels.home]: environment.moatHome});
			const everyContainer = await engine.listContainers({[containerLabels.managed]: 'true'});
			const removedRunIds = new Set(runs.map(run => run.id));
			const orphanContainers = containers
				.filter(container => {
					const runId = container.labels[containerLabels.runId] ?? '';
					return (!known.has(runId) || removedRunIds.has(runId)) && container.status !== 'running';
				})
				.map(container => container.id);
			const remaining = everyContainer.filter(container => !orphanContainers.includes(container.id));
			const usedImages = new Set(remaining.map(container => container.imageId));
			const images = (await engine.listImages({[imageLabels.managed]: 'true'})).filter(image => !usedImages.has(image.id));
			return {runs, images: images.map(image => ({id: image.id, tags: image.tags, sizeBytes: image.sizeBytes})), orphanContainers};
		},

		async clean(plan: {runs: RunMetadata[]; images: Array<{id: string}>; orphanContainers: string[]}): Promise<void> {
			for (const container of plan.orphanContainers) {
				await engine.removeContainer(container, {force: true});
			}

			for (const run of plan.runs) {
				await store.remove(run.id);
			}

			for (const image of plan.images) {
				await engine.removeImage(image.id).catch((error: unknown) => {
					reporter.warn(`could not remove image ${image.id.slice(7, 19)}: ${(error as Error).message}`);
				});
			}
		},
	};

	async function tailLogFile(run: RunMetadata, onRecord: (record: LogRecord) => void, signal?: AbortSignal): Promise<'ended' | 'unlocked'> {
		let seen = (await store.readLogs(run.id)).length;
		while (!signal?.aborted) {
			await new Promise(resolve => {
				setTimeout(resolve, 200);
			});
			const records = await store.readLogs(run.id);
			for (const record of records.slice(seen)) {
				onRecord(record);
			}

			seen = records.length;
			if (!isActive(await store.read(run.id))) {
				return 'ended';
			}

			if (!(await isCaptureLocked(store.captureLockFile(run.id)))) {
				return 'unlocked';
			}
		}

		return 'ended';
	}
}

export type RunService = ReturnType<typeof createRunService>;
