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
	labels: Labels;
	tty: boolean;
	openStdin: boolean;
	/** The network the container joins (moat's sealed network); the engine's default when absent. */
	network?: string;
};

/** A network as moat uses it: the gateway is the one address its containers can reach. */
export type NetworkInfo = {name: string; gateway: string};

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

export type EngineInfo = {serverVersion: string; apiVersion: string; operatingSystem: string};

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

	/**
	 * Creates (or finds) an `internal` bridge network with no route out and
	 * no traffic between its containers, and returns its gateway address.
	 */
	ensureSealedNetwork(name: string, labels: Labels): Promise<NetworkInfo>;
	createContainer(spec: ContainerSpec): Promise<string>;
	startContainer(id: string): Promise<void>;
	/** Undefined when the container does not exist. */
	inspectContainer(id: string): Promise<ContainerState | undefined>;
	/** Timestamped output, in engine order; ends when the container does (with follow). */
	logs(id: string, options: LogOptions): AsyncIterable<OutputChunk>;
	/** Connects to a running (or created) container's terminal. */
	attach(id: string, options: {stdin: boolean}): Promise<Attachment>;
	/** Sets the size of a TTY container's terminal. */
	resize(id: string, size: {rows: number; columns: number}): Promise<void>;
	/** Resolves with the exit code once the container has stopped. */
	waitContainer(id: string): Promise<number>;
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
