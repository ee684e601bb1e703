import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type {AuditEventType} from '../audit/audit-chain.js';
import type {AuditSink} from '../audit/audit-log.js';
import {loadWorkspaceConfig} from '../config/config-loader.js';
import {environmentNamePattern, imageReferencePattern, maxRunNameLength, runNamePattern} from '../config/config-names.js';
import type {MoatConfig} from '../config/config-schema.js';
import {awsCredentialProcessMounts} from '../credentials/aws-credential-process.js';
import {containerPackagesFor} from '../credentials/providers/provider-list.js';
import type {RegisteredRun, RunRegistration} from '../daemon/daemon-protocol.js';
import type {BindMount, Engine} from '../engine/engine.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {MoatError, notFoundError, usageError} from '../errors.js';
import {planDependencies} from '../images/dependencies.js';
import {ensureImage} from '../images/image-builder.js';
import {withFileLock} from '../files/file-lock.js';
import {cachedImageFiles} from '../images/image-files-cache.js';
import {bottleHome, bottleUser, checkBottleIdentity, prepareBottle, readImageFiles} from '../images/root-setup.js';
import {resolveResources, type ResourceRequest} from '../runs/resources.js';
import {sealedEnvironment} from '../proxy/container-environment.js';
import {hostServicesName} from '../proxy/proxy-decisions.js';
import {routerPort, serviceVariables} from '../routing/route-decisions.js';
import {containerLabels} from '../runs/labels.js';
import {newRunId, type RunMetadata} from '../runs/run-metadata.js';
import {recordRunEvent, type Reporter} from '../runs/run-service.js';
import type {RunStore} from '../runs/run-store.js';
import {createSecretResolver, type SecretResolver} from '../secrets/secret-resolver.js';
import type {SecretBackend} from '../secrets/secret-references.js';
import {containerAgentDirectory, containerAgentSocket, containerSshConfig, containerSshDirectory} from '../sshagent/ssh-client-files.js';
import {checkHostPath} from '../workspace/mount-policy.js';
import {describeRequests, type TrustRequest, type WorkspaceTrust} from '../workspace/workspace-trust.js';
import {protectedList, realDirectory, resolveMounts} from './host-paths.js';
import {printable} from '../text/printable.js';

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
	/** Ports of this machine from --host-port: the user's own word, approved as given. */
	hostPorts?: readonly number[];
	/** --memory, --cpus and --pids as given; each wins over agent.yaml's resources. */
	resources?: ResourceRequest;
	/** --base-image: the user's own word, approved as given (and recorded with its image ID). */
	baseImage?: string;
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

/** How a run gets (and gives back) its way out through the proxy. */
export type RunNetwork = {
	/** An id whose network the daemon has made ahead, so registering it is quick; undefined when none is ready. */
	nextRunId?(): Promise<string | undefined>;
	register(registration: RunRegistration): Promise<RegisteredRun>;
	/** Revokes the run's proxy token; quiet when no daemon is running. */
	release(runId: string): Promise<void>;
	/**
	 * Said just before the container starts. Resolves once the run's way out
	 * is ready (the gateway joins its network while the container is made);
	 * rejects, failing the run, when it cannot be. Also has the daemon copy
	 * the run's output from the start: a fast writer is then paced to the
	 * copy instead of outrunning the engine's log.
	 */
	starting?(runId: string): Promise<void>;
};

export type PreparedRun = {run: RunMetadata; config: MoatConfig};

/** What starting a run needs of the rest of moat. */
export type LaunchDependencies = {
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

/** A run with ssh: grants needs the user's agent now: said before anything starts, not as a failed signature later. */
async function checkSshAgent(socket: string | undefined, grants: readonly string[]): Promise<void> {
	const hint = `Start ssh-agent, add the key with ssh-add, and run again from that shell (the run has ${printable(grants.join(', '))}).`;
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
			reject(new MoatError(`The SSH agent at ${printable(socket)} cannot be reached (${printable((error as NodeJS.ErrnoException).code ?? error.message)}).`, hint));
		});
	});
}

/** An image the user names, by its ID on the engine now: what is approved is what gets built on. */
async function pinnedImage(engine: Engine, name: string, where: string): Promise<{name: string; id: string}> {
	if (!imageReferencePattern.test(name)) {
		throw usageError(`${where} "${printable(name)}" is not an image reference.`, 'Use a reference such as ubuntu:22.04 or registry.example.com/team/image:tag.');
	}

	const found = await engine.findImage(name);
	if (!found) {
		throw notFoundError(
			`The base image ${name} (${where}) is not on the engine at ${engine.address}.`,
			`Pull it first (docker pull ${name}), then run again: moat asks before using it and records its image ID.`,
		);
	}

	return {name, id: found.id};
}

function withoutVariables(variables: Record<string, string>, names: readonly string[]): Record<string, string> {
	return Object.fromEntries(Object.entries(variables).filter(([name]) => !names.includes(name)));
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
					? `-e ${printable(assignment)} has no value.`
					: `-e ${printable(assignment)}: "${printable(name)}" is not a valid environment variable name.`,
				'Write -e NAME=value with a name of letters, digits and _ that does not start with a digit.',
			);
		}

		result[name] = assignment.slice(equals + 1);
	}

	return result;
}

/**
 * Creates and starts a run. `beforeStart` runs once the container exists
 * but before it starts: an interactive run attaches there so that not a
 * byte of output is missed.
 */
export async function launchRun(dependencies: LaunchDependencies, request: RunRequest, beforeStart?: (prepared: PreparedRun) => Promise<void>): Promise<RunMetadata> {
	const {engine, store, environment, reporter, grantExists, trust, confirm, network, secrets = createSecretResolver(environment.variables, {userHome: environment.userHome})} = dependencies;
	const record = async (runId: string, type: AuditEventType, data: Record<string, unknown>, seal = false) => recordRunEvent(dependencies, runId, type, data, seal);
	const pinnedWorkspace = await realDirectory(request.workspace, request.cwd);
	const workspace = pinnedWorkspace.real;
	const refused = await protectedList(environment);
	checkHostPath(workspace, 'the workspace', refused);
	const {config} = await loadWorkspaceConfig(workspace);

	const command = request.command.length > 0 ? [...request.command] : (config.command ?? []);
	if (command.length === 0 || (command[0] ?? '').trim() === '') {
		throw usageError('No command to run.', 'Put one after --, as in moat run . -- npm test, or set command in agent.yaml.');
	}

	const name = request.name ?? config.name ?? path.basename(workspace);
	// Checked before the name is quoted: a name of 100 kB is refused, not echoed.
	if (name.length > maxRunNameLength) {
		throw usageError(`The run name is ${name.length} characters long; at most ${maxRunNameLength} fit (it becomes a host name label).`, 'Pass a shorter name with -n, or set a shorter name in agent.yaml.');
	}

	if (!runNamePattern.test(name)) {
		throw usageError(`Run name "${printable(name)}" is not valid.`, 'Use letters, digits, ".", "_" and "-", starting with a letter or digit, or pass another name with -n.');
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
		reporter.warn(`${printable(workspace)} is owned by root; the agent runs as UID ${rootReplacementId} and may not be able to write it. chown it to your user.`);
		uid = rootReplacementId;
		gid = gid === 0 ? rootReplacementId : gid;
	}

	const grants = [...new Set([...(config.grants ?? []), ...request.grants])];
	for (const grant of grants) {
		if (grantExists && !(await grantExists(grant))) {
			const provider = grant.startsWith('ssh:') ? `ssh --host ${grant.slice(4)}` : grant.split(':')[0];
			throw notFoundError(`The run asks for the ${printable(grant)} grant, and there is none.`, `Store it first with moat grant ${printable(provider ?? grant)}.`);
		}
	}

	const engineInfo = await engine.info();
	const resources = resolveResources(request.resources ?? {}, config.resources ?? {}, engineInfo);
	// A base image runs the agent's whole world: agent.yaml naming one needs
	// the user's yes for that very image, by its ID, so a rebuilt or retagged
	// image asks again; the build then uses the ID, never the name.
	const baseImageName = request.baseImage ?? config.base_image;
	const baseImage = baseImageName === undefined ? undefined : await pinnedImage(engine, baseImageName, request.baseImage === undefined ? 'base_image in agent.yaml' : '--base-image');
	const baseImageRequest = baseImage ? {kind: 'base image' as const, value: `${baseImage.name}@${baseImage.id}`} : undefined;

	// agent.yaml is written by the agent too: what it asks for beyond the
	// workspace needs the user's yes once (README: agent.yaml). The command line is
	// the user's own word, so what it passes counts as approved.
	const configMounts = mounts.slice(0, (config.mounts ?? []).length);
	const requests: TrustRequest[] = [
		...(config.grants ?? []).map(grant => ({kind: 'grant' as const, value: grant})),
		...(baseImageRequest ? [baseImageRequest] : []),
		// A secret hands the container a value from the user's vault or
		// shell (env://AWS_SECRET_ACCESS_KEY): the agent could name any.
		...secretReferences.map(([, reference]) => ({kind: 'secret' as const, value: reference})),
		...configMounts
			.filter(mount => path.relative(workspace, mount.source).startsWith('..') || path.isAbsolute(path.relative(workspace, mount.source)))
			.map(mount => ({kind: 'mount' as const, value: `${mount.source}:${mount.target}${mount.readOnly ? ':ro' : ''}`})),
		// A port of this machine is a way past the seal: the database or dev server there.
		...(config.network?.host ?? []).map(port => ({kind: 'host port' as const, value: String(port)})),
	];
	const commandLine = new Set(request.grants);
	const commandLinePorts = new Set((request.hostPorts ?? []).map(String));
	const hostPorts = [...new Set([...config.network?.host ?? [], ...request.hostPorts ?? []])].sort((a, b) => a - b);
	const trusted = {path: workspace, identity: pinnedWorkspace.identity};
	const givenOnCommandLine = (item: TrustRequest) => (item.kind === 'grant' && commandLine.has(item.value))
		|| (item.kind === 'host port' && commandLinePorts.has(item.value))
		|| (item.kind === 'base image' && request.baseImage !== undefined);
	const unapproved = trust ? (await trust.unapproved(trusted, requests)).filter(item => !givenOnCommandLine(item)) : [];
	if (unapproved.length > 0) {
		const list = describeRequests(unapproved);
		if (!request.hasTerminal || !confirm) {
			const flagFor = {grant: 'grant', 'host port': 'host-port', 'base image': 'base-image'} as const;
			const grantFlags = unapproved.flatMap(item => {
				const flag = flagFor[item.kind as keyof typeof flagFor];
				return flag ? [`--${flag} ${printable(item.kind === 'base image' ? baseImage!.name : item.value)}`] : [];
			});
			throw usageError(
				`agent.yaml asks for ${list}, which this workspace has not used before.`,
				`Run moat on a terminal to approve${grantFlags.length > 0 ? `, or pass ${grantFlags.join(' ')} on the command line` : ''}.`,
			);
		}

		if (!(await confirm(`agent.yaml in ${printable(workspace)} asks for ${list}. Allow it for this workspace?`))) {
			throw usageError(`Not allowed: ${list}.`, 'Remove it from agent.yaml, or run again and answer yes.');
		}
	}

	if (trust) {
		await trust.approve(trusted, [...unapproved, ...requests.filter(item => givenOnCommandLine(item))]);
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

	const bottleGid = gid || rootReplacementId;
	const agentSetup = await request.prepareAgent?.({workspace, uid, gid: bottleGid});
	const agent = request.agent ?? config.agent ?? null;
	// What moat's own helpers run in the container, as each grant's provider declares it.
	const helperPackages = containerPackagesFor(grants);
	const named = planDependencies([...config.dependencies ?? [], ...helperPackages.filter(name => !(config.dependencies ?? []).includes(name))], baseImage?.name);
	const plan = baseImage ? {...named, baseImage: baseImage.id} : named;
	const buildOptions = {
		onBuildStart: (tag: string, base: string) => {
			reporter.info(`Building image ${tag} from ${base}…`);
		},
		onProgress: (line: string) => {
			reporter.debug(line);
		},
	};
	let image = await ensureImage(engine, plan, {...buildOptions, rebuild: request.rebuild});

	const id = (network ? await network.nextRunId?.() : undefined) ?? newRunId();
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
		await checkSshAgent(environment.variables[environmentVariables.sshAuthSocket], sshGrants);
	}

	const access = network
		? await network.register({
			runId: id, agent, policy: {mode: policy.mode, allow: [...policy.allow]}, grants,
			...hostPorts.length > 0 ? {hostPorts} : {},
			...sshGrants.length > 0 ? {ssh: {upstream: environment.variables[environmentVariables.sshAuthSocket], uid: uid || rootReplacementId, gid: gid || rootReplacementId}} : {},
		})
		: undefined;
	// The run's SSH agent and client files: the folder read-only, its config where ssh looks first.
	const sshBinds = access?.sshDirectory
		? [
			{source: access.sshDirectory, target: containerSshDirectory, readOnly: true},
			{source: path.join(access.sshDirectory, 'config'), target: containerSshConfig, readOnly: true},
		]
		: [];
	// The agent socket is the gateway's relay, in a volume of the engine: never a host socket.
	const sshVolumes = access?.sshAgentVolume ? [{name: access.sshAgentVolume, target: containerAgentDirectory, readOnly: true}] : [];
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
			HOME: bottleHome,
			USER: bottleUser,
			LOGNAME: bottleUser,
			...(mountChecks ? {MOAT_MOUNT_CHECKS: mountChecks} : {}),
			...(access ? withoutVariables(sealedEnvironment(access, grants), agentSetup?.withoutPlaceholders ?? []) : {}),
			...(access?.sshDirectory ? {SSH_AUTH_SOCK: containerAgentSocket} : {}),
			// Where each declared port is reached from the host, by name, through moat's router.
			...serviceVariables(config.ports ?? {}, name, routerPort(environment.variables)),
		},
		...(access ? {network: access.network} : {}),
		workingDirectory: '/workspace',
		binds: [{source: workspace, target: '/workspace', readOnly: false}, ...mounts.map(({identity: _identity, ...bind}) => bind), ...agentSetup?.binds ?? [], ...sshBinds, ...awsBinds],
		volumes: sshVolumes,
		// Ports of this machine the run was given answer there, through its relay (network.host).
		...access?.hostServices ? {extraHosts: {[hostServicesName]: access.hostServices}} : {},
		labels: {
			[containerLabels.managed]: 'true',
			[containerLabels.runId]: id,
			[containerLabels.runName]: name,
			[containerLabels.home]: environment.moatHome,
		},
		tty: interactive,
		openStdin: interactive,
		// A stop is a hangup for a terminal: an interactive shell ignores
		// SIGTERM and would wait out the grace, but it ends on SIGHUP and
		// passes the hangup to its jobs, as when a terminal window closes.
		stopSignal: interactive ? 'SIGHUP' as const : 'SIGTERM' as const,
		// The bottle starts as the owner, never as root (images/root-setup.ts did root's part).
		user: `${uid}:${bottleGid}`,
		limits: resources,
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

	try {
		// Read once per image (the one this container was made from): the same for every container of it.
		const imageId = (await engine.inspectContainer(containerId))?.imageId;
		const files = await cachedImageFiles(environment.moatHome, imageId, async () => readImageFiles(engine, containerId));
		await prepareBottle(engine, containerId, {
			uid,
			gid: bottleGid,
			...(access ? {caCertificate: access.caCertificate} : {}),
			mountTargets: [...spec.binds.map(bind => bind.target), ...spec.volumes.map(volume => volume.target)],
		}, files);
	} catch (error) {
		await network?.release(id).catch(() => undefined);
		await engine.removeContainer(containerId, {force: true}).catch(() => undefined);
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
		resources,
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
		resources,
		...(baseImage ? {baseImage: baseImageRequest!.value} : {}),
	});
	for (const secret of resolvedSecrets) {
		// Which variable came from which backend; the value never.
		await record(id, 'secret.resolved', {name: secret.name, backend: secret.backend});
	}

	try {
		await beforeStart?.({run, config});
		await network?.starting?.(id);
		await engine.startContainer(containerId);
		await checkBottleIdentity(engine, containerId, uid, bottleGid).catch(async (error: unknown) => {
			await engine.killContainer(containerId).catch(() => undefined);
			throw error;
		});
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

		throw new MoatError(`The container for ${id} did not start: ${printable(reason)}`, 'Check the command and mounts; moat logs shows any output.', 1, {cause: error});
	}

	// Signed at once, so a live run's log is anchored from its start.
	await record(id, 'run.started', {containerId}, true);
	// Another moat process (the daemon, copying its output) may already have
	// seen the container end and recorded that: under the state lock it
	// takes for that, a finished run is never moved back to running.
	return withFileLock(store.stateLockFile(id), async () => {
		const current = await store.read(id);
		return current.state === 'created' ? store.update(id, {state: 'running', startedAt: environment.now().toISOString()}) : current;
	});
}
