import type {ArchiveEntry} from './tar-archive.js';

/**
 * What moat needs from a container engine, in moat's own words. The only
 * implementation today is docker-engine.ts (dockerode); tests fake this
 * interface, never the library.
 */

export type Labels = Readonly<Record<string, string>>;

export type ImageSummary = {
	id: string;
	tags: string[];
	labels: Labels;
	sizeBytes: number;
	createdAt: Date;
};

export type BindMount = {source: string; target: string; readOnly: boolean};

export type ContainerSpec = {
	name: string;
	image: string;
	command: string[];
	environment: Readonly<Record<string, string>>;
	workingDirectory: string;
	binds: BindMount[];
	/** Named volumes of the engine (made when missing, with these labels): they live where the engine is. */
	volumes?: Array<{name: string; target: string; readOnly: boolean; labels?: Labels}>;
	labels: Labels;
	tty: boolean;
	openStdin: boolean;
	/** The signal a stop sends first (the engine's default is SIGTERM). */
	stopSignal?: 'SIGHUP' | 'SIGTERM';
	/** The network the container joins (its run's sealed network); the engine's default when absent. */
	network?: string;
	/** Its fixed address on that network (the network must have a subnet moat chose). */
	address?: string;
	/** `uid:gid` to run as, instead of the image's user. */
	user?: string;
	/** Hardening for moat's own service containers: no capability, a read-only root, tmpfs where it writes. */
	sealed?: {readOnlyRoot: boolean; tmpfs: Readonly<Record<string, string>>};
	/** The engine starts it again when it dies (until it is stopped). */
	restartUnlessStopped?: boolean;
	/** Limits on what the container may use. */
	limits?: ResourceLimits;
	/** Names in the container's /etc/hosts: name → address. */
	extraHosts?: Readonly<Record<string, string>>;
	/** Kernel settings of the container's own namespaces. */
	sysctls?: Readonly<Record<string, string>>;
};

/** What one container may use of the engine's machine. */
export type ResourceLimits = {memoryBytes?: number; pids?: number; cpus?: number};

/** A process of a container as the kernel sees it: real, effective, saved and filesystem ids. */
export type ProcessIdentity = {pid: number; command: string; uids: number[]; gids: number[]};

/**
 * A network of moat's with no address on the engine's host: `internal` (no
 * route out), and on Linux the bridge gets no IPv4 address, so nothing of
 * the host answers from it.
 */
export type HostlessNetworkSpec = {
	name: string;
	labels: Labels;
	/** IPv4 subnet in CIDR form; the engine picks one when absent. */
	subnet?: string;
	/** Traffic between the network's containers (a run's network holds the bottle and the gateway). */
	interContainer: boolean;
};

export type NetworkSummary = {id: string; name: string; labels: Labels; subnets: string[]; gateways: string[]; internal: boolean; options: Labels};

/** A process run in a container with its stdin and stdout as one byte stream. */
export type ExecStream = {
	/** stdout of the process (stderr goes to `errors`), and what is written goes to its stdin. */
	readonly stream: import('node:stream').Duplex;
	/** Its stderr, as text. */
	readonly errors: () => string;
};

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';

export type ContainerState = {
	id: string;
	status: ContainerStatus;
	exitCode: number;
	startedAt?: Date;
	finishedAt?: Date;
	/** The engine's own error for a container that failed to start. */
	error?: string;
	/** Its addresses on the networks it joined (the router reaches its ports there). */
	addresses?: string[];
	/** The kernel killed it for going over its memory limit. */
	oomKilled?: boolean;
	/** The id of the image it was made from (`sha256:…`). */
	imageId?: string;
};

export type ContainerSummary = {
	id: string;
	names: string[];
	image: string;
	imageId: string;
	status: ContainerStatus;
	labels: Labels;
};

/** A chunk of a container's output as the engine logged it. */
export type OutputStream = 'stdout' | 'stderr';
export type OutputChunk = {stream: OutputStream; data: Buffer};

export type LogOptions = {
	follow: boolean;
	/** Only output at or after this instant: `seconds.nanoseconds` since the epoch. */
	since?: string;
	/** Ends the iteration early (the container keeps running). */
	signal?: AbortSignal;
	/** The container has a TTY: its log is raw bytes, not multiplexed frames. */
	tty?: boolean;
	/** Prefix each logged line with its instant (default true). */
	timestamps?: boolean;
};

/** A live connection to a container's terminal (or its output streams). */
export type Attachment = {
	/** Raw output for a TTY container, multiplexed frames otherwise. */
	readonly output: NodeJS.ReadableStream;
	write(bytes: Buffer): void;
	/** Closes the connection; the container keeps running. */
	close(): void;
};

export type EngineEvent = {kind: 'container'; action: string; containerId: string; labels: Labels};

export type BuildProgress = (line: string) => void;

export type EngineInfo = {serverVersion: string; apiVersion: string; operatingSystem: string; cpus: number; memoryBytes: number};

export type Engine = {
	/** Where the engine is reached, for messages. */
	readonly address: string;
	/** Throws a MoatError (exit 3) when the engine does not answer. */
	ping(): Promise<void>;
	info(): Promise<EngineInfo>;

	findImage(reference: string): Promise<ImageSummary | undefined>;
	/** Builds from in-memory files; rejects with the failing step's output. */
	buildImage(options: {
		tag: string;
		labels: Labels;
		files: Readonly<Record<string, string>>;
		onProgress?: BuildProgress;
	}): Promise<void>;
	listImages(labels: Labels): Promise<ImageSummary[]>;
	removeImage(id: string): Promise<void>;

	/** Creates a network with no host address; rejects with `overlaps: true` when its subnet is taken. */
	createHostlessNetwork(spec: HostlessNetworkSpec): Promise<NetworkSummary>;
	/** Undefined when there is none by that name. */
	inspectNetwork(name: string): Promise<NetworkSummary | undefined>;
	listNetworks(labels: Labels): Promise<NetworkSummary[]>;
	/** Removes a network; one already gone is not an error. */
	removeNetwork(name: string): Promise<void>;
	/** Removes a named volume; one already gone is not an error (one in use is). */
	removeVolume(name: string): Promise<void>;
	/** Names of the volumes with these labels. */
	listVolumes(labels: Labels): Promise<string[]>;
	/** Joins a container to a network, at a fixed address when given; joined already is not an error. */
	connectNetwork(network: string, container: string, address?: string): Promise<void>;
	disconnectNetwork(network: string, container: string): Promise<void>;
	/** Runs a command in a running container, its stdio as a stream (the Docker API's exec). */
	exec(container: string, command: string[]): Promise<ExecStream>;
	/** Runs a command to its end and returns its stdout, exit code and stderr. */
	execToEnd(container: string, command: string[]): Promise<{exitCode: number; stdout: string; stderr: string}>;
	createContainer(spec: ContainerSpec): Promise<string>;
	/** A path of a (created or running) container's files, as archive entries; undefined when it does not exist. */
	readPath(container: string, path: string): Promise<ArchiveEntry[] | undefined>;
	/** Writes entries (paths from /) into a container's files, with the ownership and modes they carry. */
	writeEntries(container: string, entries: readonly ArchiveEntry[]): Promise<void>;
	/** The ids of each of a running container's processes, as the engine's kernel reports them. */
	processIdentities(container: string): Promise<ProcessIdentity[]>;
	startContainer(id: string): Promise<void>;
	/** Undefined when the container does not exist. */
	inspectContainer(id: string): Promise<ContainerState | undefined>;
	/** Timestamped output, in engine order; ends when the container does (with follow). */
	logs(id: string, options: LogOptions): AsyncIterable<OutputChunk>;
	/** Connects to a running (or created) container's terminal. */
	attach(id: string, options: {stdin: boolean}): Promise<Attachment>;
	/** Sets the size of a TTY container's terminal. */
	resize(id: string, size: {rows: number; columns: number}): Promise<void>;
	/**
	 * Resolves with the exit code once the container has stopped. A container
	 * not started yet counts as stopped unless `nextExit` asks for the end
	 * of the run it is about to begin.
	 */
	waitContainer(id: string, options?: {nextExit?: boolean; signal?: AbortSignal}): Promise<number>;
	stopContainer(id: string, timeoutSeconds: number): Promise<void>;
	killContainer(id: string): Promise<void>;
	removeContainer(id: string, options: {force: boolean}): Promise<void>;
	listContainers(labels: Labels): Promise<ContainerSummary[]>;
	/** Container events matching labels until `close()`. */
	events(labels: Labels, onEvent: (event: EngineEvent) => void): Promise<{close(): void}>;
};

/** An image build that failed, with the build's output up to the failing step. */
export class BuildError extends Error {
	override readonly name = 'BuildError';

	constructor(
		message: string,
		readonly transcript: string[],
	) {
		super(message);
	}

	/** The last `Step n/m` line and what it printed: where the build broke. */
	get failingStep(): string[] {
		const start = this.transcript.findLastIndex(line => /^Step \d+\/\d+ :/.test(line));
		return start === -1 ? this.transcript.slice(-10) : this.transcript.slice(start).slice(-15);
	}
}
