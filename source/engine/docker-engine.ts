import {readFileSync} from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {Duplex} from 'node:stream';
import Docker from 'dockerode';
import {environmentVariables} from '../environment.js';
import {exitCodes, MoatError, usageError} from '../errors.js';
import {
	BuildError,
	type Attachment,
	type ContainerSpec,
	type ContainerState,
	type ContainerStatus,
	type ContainerSummary,
	type Engine,
	type ExecStream,
	type NetworkSummary,
	type EngineEvent,
	type EngineInfo,
	type ImageSummary,
	type Labels,
	type LogOptions,
	type OutputChunk,
} from './engine.js';
import {createFrameDecoder} from './log-frames.js';
import {printable} from '../text/printable.js';
import {readArchive, writeArchive} from './tar-archive.js';
import {seccompProfile} from './seccomp-profile.js';

// Built once: the same profile goes with every container moat creates.
const seccompJson = JSON.stringify(seccompProfile());

const defaultSocket = '/var/run/docker.sock';

/**
 * Docker's bounded log ring: output survives moat exiting, but never fills
 * the disk. It is what a run's output is caught up from when no moat daemon
 * was copying it (log-capture.ts), so its size is how long a fast writer
 * may go uncopied before lines are lost; MOAT_ENGINE_LOG_SIZE sets each of
 * its three files.
 */
export function logRing(variables: Readonly<Record<string, string | undefined>>): {'max-size': string; 'max-file': string} {
	const size = variables[environmentVariables.engineLogSize] || '100m';
	if (!/^[1-9]\d*[kmg]$/.test(size)) {
		throw usageError(
			`${environmentVariables.engineLogSize} is "${printable(size)}", not a size.`,
			`Give a number with k, m or g, such as 100m (the default), or unset it.`,
		);
	}

	return {'max-size': size, 'max-file': '3'};
}

type Connection = {options: Docker.DockerOptions; address: string};

/** Where to reach the engine, from DOCKER_HOST the way the docker CLI reads it. */
export function engineConnection(variables: Readonly<Record<string, string | undefined>>, userHome: string = os.homedir()): Connection {
	const host = variables[environmentVariables.dockerHost];
	if (!host) {
		return {options: {socketPath: defaultSocket}, address: defaultSocket};
	}

	if (host.startsWith('unix://')) {
		const socketPath = host.slice('unix://'.length) || defaultSocket;
		return {options: {socketPath}, address: socketPath};
	}

	const fix = 'Set DOCKER_HOST to unix:///path/to/docker.sock or tcp://host:port, or unset it.';
	if (!host.startsWith('tcp://')) {
		throw usageError(`DOCKER_HOST=${printable(host)} uses a scheme moat does not support.`, fix);
	}

	let url: URL;
	try {
		url = new URL(host.replace(/^tcp:/, 'http:'));
	} catch (error) {
		throw usageError(`DOCKER_HOST=${printable(host)} is not a valid address.`, fix, {cause: error});
	}

	// With DOCKER_TLS_VERIFY the engine speaks TLS on 2376 and wants the
	// client certificate from DOCKER_CERT_PATH, as the docker CLI does it.
	const tlsVerify = (variables[environmentVariables.dockerTlsVerify] ?? '') !== '';
	if (tlsVerify) {
		const certificates = variables[environmentVariables.dockerCertificatePath] ?? path.join(userHome, '.docker');
		const read = (name: string) => readFileSync(path.join(certificates, name));
		return {
			options: {host: url.hostname, port: url.port || 2376, protocol: 'https', ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem')},
			address: host,
		};
	}

	return {
		options: {host: url.hostname, port: url.port || 2375, protocol: 'http'},
		address: host,
	};
}

/** The first host address of an IPv4 subnet: what Docker would make the bridge's. */
function firstAddress(subnet: string): string {
	const [base] = subnet.split('/');
	const parts = base!.split('.').map(Number);
	parts[3] = parts[3]! + 1;
	return parts.join('.');
}

function toNetwork(info: Docker.NetworkInspectInfo): NetworkSummary {
	return {
		id: info.Id,
		name: info.Name,
		labels: info.Labels ?? {},
		subnets: (info.IPAM?.Config ?? []).map(config => config.Subnet ?? '').filter(Boolean),
		gateways: (info.IPAM?.Config ?? []).map(config => (config as {Gateway?: string}).Gateway ?? '').filter(Boolean),
		internal: info.Internal ?? false,
		options: info.Options ?? {},
	};
}

/**
 * An exec's hijacked connection as a plain duplex: what is read is the
 * process's stdout (frames decoded, back-pressure kept), what is written is
 * its stdin. Stderr is kept as text for error messages.
 */
function execStream(socket: Duplex): ExecStream {
	const decoder = createFrameDecoder();
	let errorText = '';
	const stream = new Duplex({
		read() {
			socket.resume();
		},
		write(chunk: Buffer, _encoding, callback) {
			socket.write(chunk, callback);
		},
		final(callback) {
			// Half-close: the process sees the end of its stdin.
			socket.end();
			callback();
		},
		destroy(error, callback) {
			socket.destroy();
			callback(error);
		},
	});
	socket.on('data', (chunk: Buffer) => {
		for (const frame of decoder.push(chunk)) {
			if (frame.stream === 'stderr') {
				errorText = (errorText + frame.data.toString('utf8')).slice(-4000);
			} else if (!stream.push(frame.data)) {
				socket.pause();
			}
		}
	});
	socket.on('end', () => stream.push(null));
	socket.on('close', () => {
		if (!stream.readableEnded) {
			stream.push(null);
		}
	});
	socket.on('error', error => stream.destroy(error));
	return {stream, errors: () => errorText};
}

function unreachable(address: string, cause: unknown): MoatError {
	return new MoatError(
		`Cannot reach the Docker engine at ${printable(address)}.`,
		'Start Docker, or set DOCKER_HOST.',
		exitCodes.engineUnreachable,
		{cause},
	);
}

function isConnectionError(error: unknown): boolean {
	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	return ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTDOWN', 'EPIPE'].includes(code ?? '');
}

function statusCode(error: unknown): number | undefined {
	return (error as {statusCode?: number} | undefined)?.statusCode;
}

/** The engine adapter: the only file that imports dockerode. */
export function createDockerEngine(variables: Readonly<Record<string, string | undefined>>, userHome?: string): Engine {
	const {options, address} = engineConnection(variables, userHome);
	const docker = new Docker(options);

	// Every call goes through here so that an engine that stops answering
	// mid-command still gives the user the exit-3 message, not a socket error.
	async function call<T>(action: () => Promise<T>): Promise<T> {
		try {
			return await action();
		} catch (error) {
			if (isConnectionError(error)) {
				throw unreachable(address, error);
			}

			throw error;
		}
	}

	const toImage = (image: Docker.ImageInfo): ImageSummary => ({
		id: image.Id,
		tags: (image.RepoTags ?? []).filter(tag => tag !== '<none>:<none>'),
		labels: image.Labels ?? {},
		sizeBytes: image.Size,
		createdAt: new Date(image.Created * 1000),
	});

	const labelFilter = (labels: Labels) => JSON.stringify({label: Object.entries(labels).map(([key, value]) => `${key}=${value}`)});

	return {
		address,

		async ping() {
			try {
				await docker.ping();
			} catch (error) {
				throw unreachable(address, error);
			}
		},


		async info(): Promise<EngineInfo> {
			const [info, version] = await call(async () => Promise.all([docker.info(), docker.version()]));
			return {
				serverVersion: String(info.ServerVersion),
				apiVersion: version.ApiVersion,
				operatingSystem: String(info.OperatingSystem),
				cpus: Number(info.NCPU) || 1,
				memoryBytes: Number(info.MemTotal) || 0,
			};
		},

		async findImage(reference) {
			try {
				const image = await call(async () => docker.getImage(reference).inspect());
				return {
					id: image.Id,
					tags: image.RepoTags ?? [],
					labels: image.Config?.Labels ?? {},
					sizeBytes: image.Size,
					createdAt: new Date(image.Created),
				};
			} catch (error) {
				if (statusCode(error) === 404) {
					return undefined;
				}

				throw error;
			}
		},

		async buildImage({tag, labels, files, onProgress}) {
			const context = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-build-'));
			try {
				for (const [name, content] of Object.entries(files)) {
					await fs.writeFile(path.join(context, name), content, {mode: 0o755});
				}

				const stream = await call(async () =>
					docker.buildImage({context, src: Object.keys(files)}, {t: tag, labels, rm: true, forcerm: true}),
				);
				const transcript: string[] = [];
				await new Promise<void>((resolve, reject) => {
					docker.modem.followProgress(
						stream,
						(error: Error | null) => {
							if (error) {
								reject(new BuildError(error.message, transcript));
							} else {
								resolve();
							}
						},
						(event: {stream?: string; error?: string; status?: string}) => {
							if (event.error) {
								reject(new BuildError(event.error.trim(), transcript));
								return;
							}

							for (const line of (event.stream ?? event.status ?? '').split('\n')) {
								if (line.trim() !== '') {
									transcript.push(line);
									onProgress?.(line);
								}
							}
						},
					);
				});
			} finally {
				await fs.rm(context, {recursive: true, force: true});
			}
		},

		async listImages(labels) {
			const images = await call(async () => docker.listImages({filters: labelFilter(labels)}));
			return images.map(image => toImage(image));
		},

		async removeImage(id) {
			await call(async () => docker.getImage(id).remove());
		},

		async createHostlessNetwork(spec) {
			try {
				await call(async () => docker.createNetwork({
					Name: spec.name,
					Driver: 'bridge',
					// No route out, and (Linux) no address of the host on the bridge:
					// a bottle reaches its network's other container and nothing else.
					Internal: true,
					CheckDuplicate: true,
					Labels: {...spec.labels},
					...(spec.subnet ? {IPAM: {Driver: 'default', Config: [{Subnet: spec.subnet, Gateway: firstAddress(spec.subnet)}]}} : {}),
					Options: {
						'com.docker.network.bridge.inhibit_ipv4': 'true',
						'com.docker.network.bridge.enable_icc': spec.interContainer ? 'true' : 'false',
					},
				}));
			} catch (error) {
				if (/overlap/i.test((error as Error).message)) {
					throw Object.assign(new Error(`subnet ${spec.subnet ?? ''} is in use`), {overlaps: true});
				}

				if (statusCode(error) !== 409) {
					throw error;
				}
			}

			const created = await this.inspectNetwork(spec.name);
			if (!created) {
				throw new Error(`the engine created network ${spec.name} but does not show it`);
			}

			return created;
		},

		async inspectNetwork(name) {
			try {
				return toNetwork(await call(async () => docker.getNetwork(name).inspect() as Promise<Docker.NetworkInspectInfo>));
			} catch (error) {
				if (statusCode(error) === 404) {
					return undefined;
				}

				throw error;
			}
		},

		async listNetworks(labels) {
			const networks = await call(async () => docker.listNetworks({filters: labelFilter(labels)}));
			return networks.map(network => toNetwork(network));
		},

		async listVolumes(labels) {
			const answer = await call(async () => docker.listVolumes({filters: labelFilter(labels)}));
			return (answer.Volumes ?? []).map(volume => volume.Name);
		},

		async removeVolume(name) {
			try {
				await call(async () => docker.getVolume(name).remove());
			} catch (error) {
				if (statusCode(error) !== 404) {
					throw error;
				}
			}
		},

		async removeNetwork(name) {
			try {
				await call(async () => docker.getNetwork(name).remove());
			} catch (error) {
				if (statusCode(error) !== 404) {
					throw error;
				}
			}
		},

		async connectNetwork(network, container, address) {
			try {
				await call(async () => docker.getNetwork(network).connect({
					Container: container,
					...(address ? {EndpointConfig: {IPAMConfig: {IPv4Address: address}}} : {}),
				}));
			} catch (error) {
				// Already on it: what was asked holds.
				if (!(statusCode(error) === 403 && /already exists|already attached/i.test((error as Error).message))) {
					throw error;
				}
			}
		},

		async disconnectNetwork(network, container) {
			try {
				await call(async () => docker.getNetwork(network).disconnect({Container: container, Force: true}));
			} catch (error) {
				if (statusCode(error) !== 404 && !/is not connected/i.test((error as Error).message)) {
					throw error;
				}
			}
		},

		async exec(container, command): Promise<ExecStream> {
			const exec = await call(async () => docker.getContainer(container).exec({Cmd: command, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: false}));
			const socket = (await call(async () => exec.start({hijack: true, stdin: true}))) as Duplex;
			return execStream(socket);
		},

		async execToEnd(container, command) {
			const exec = await call(async () => docker.getContainer(container).exec({Cmd: command, AttachStdout: true, AttachStderr: true, Tty: false}));
			const socket = (await call(async () => exec.start({hijack: true, stdin: false}))) as Duplex;
			const {stream, errors} = execStream(socket);
			const chunks: Buffer[] = [];
			for await (const chunk of stream) {
				chunks.push(chunk as Buffer);
			}

			const inspected = await call(async () => exec.inspect());
			return {exitCode: inspected.ExitCode ?? -1, stdout: Buffer.concat(chunks).toString('utf8'), stderr: errors()};
		},

		async createContainer(spec: ContainerSpec) {
			const container = await call(async () =>
				docker.createContainer({
					name: spec.name,
					Image: spec.image,
					Cmd: spec.command,
					Env: Object.entries(spec.environment).map(([key, value]) => `${key}=${value}`),
					WorkingDir: spec.workingDirectory,
					Labels: {...spec.labels},
					Tty: spec.tty,
					OpenStdin: spec.openStdin,
					AttachStdin: spec.openStdin,
					StdinOnce: false,
					...(spec.stopSignal ? {StopSignal: spec.stopSignal} : {}),
					HostConfig: {
						Binds: spec.binds.map(bind => `${bind.source}:${bind.target}${bind.readOnly ? ':ro' : ''}`),
						...(spec.extraHosts ? {ExtraHosts: Object.entries(spec.extraHosts).map(([name, address]) => `${name}:${address}`)} : {}),
						...(spec.sysctls ? {Sysctls: {...spec.sysctls}} : {}),
						...(spec.volumes && spec.volumes.length > 0
							? {Mounts: spec.volumes.map(volume => ({Type: 'volume' as const, Source: volume.name, Target: volume.target, ReadOnly: volume.readOnly, VolumeOptions: {NoCopy: true, Labels: {...volume.labels}, DriverConfig: {Name: 'local', Options: {}}}}))}
							: {}),
						// The container is the security boundary: nothing may gain
						// privileges through setuid binaries, and no container of moat's
						// holds a capability (a bottle's root setup is done through the
						// engine's archive API before it starts, never inside it). The
						// seccomp profile refuses setuid/setgid bits and new namespaces.
						SecurityOpt: ['no-new-privileges', `seccomp=${seccompJson}`],
						CapAdd: [],
						CapDrop: ['ALL'],
						Privileged: false,
						// A real init as PID 1 forwards the stop signal to the command: most
						// programs install no handler and would ignore it as PID 1,
						// making every stop wait for the kill timeout.
						Init: true,
						LogConfig: {Type: 'json-file', Config: logRing(variables)},
						// On the sealed network no outside name resolves (the proxy resolves
						// them): let a lookup fail in a second or so rather than after 20.
						...(spec.network ? {NetworkMode: spec.network, DnsOptions: ['timeout:1', 'attempts:1']} : {}),
						...(spec.sealed ? {ReadonlyRootfs: spec.sealed.readOnlyRoot, Tmpfs: {...spec.sealed.tmpfs}} : {}),
						...(spec.restartUnlessStopped ? {RestartPolicy: {Name: 'unless-stopped'}} : {}),
						// Swap counts as memory: the limit is what the bottle may hold, in all.
						...(spec.limits?.memoryBytes ? {Memory: spec.limits.memoryBytes, MemorySwap: spec.limits.memoryBytes} : {}),
						...(spec.limits?.pids ? {PidsLimit: spec.limits.pids} : {}),
						...(spec.limits?.cpus ? {NanoCpus: Math.round(spec.limits.cpus * 1e9)} : {}),
					},
					...(spec.user ? {User: spec.user} : {}),
					...(spec.network && spec.address ? {NetworkingConfig: {EndpointsConfig: {[spec.network]: {IPAMConfig: {IPv4Address: spec.address}}}}} : {}),
				}),
			);
			return container.id;
		},

		async readPath(id, containerPath) {
			try {
				const stream = (await call(async () => docker.getContainer(id).getArchive({path: containerPath}))) as NodeJS.ReadableStream;
				const chunks: Buffer[] = [];
				for await (const chunk of stream) {
					chunks.push(chunk as Buffer);
				}

				return readArchive(Buffer.concat(chunks));
			} catch (error) {
				if (statusCode(error) === 404) {
					return undefined;
				}

				throw error;
			}
		},

		async writeEntries(id, entries) {
			await call(async () => docker.getContainer(id).putArchive(writeArchive(entries), {path: '/'}));
		},

		async processIdentities(id) {
			// ps on the engine's machine, over the container's processes: the kernel's view, not the image's.
			const columns = ['pid', 'ruid', 'euid', 'suid', 'fsuid', 'rgid', 'egid', 'sgid', 'fsgid', 'comm'];
			let top: {Processes?: string[][]};
			try {
				top = await call(async () => docker.getContainer(id).top({ps_args: `-o ${columns.join(',')}`})) as typeof top;
			} catch (error) {
				// Ended already, or ending while asked (the engine then reports its shim
				// gone, "ttrpc: closed"): it has no process left to be wrong.
				const state = await call(async () => docker.getContainer(id).inspect()).catch(() => undefined);
				if (statusCode(error) === 409 || /is not running/i.test((error as Error).message) || (state && !state.State.Running)) {
					return [];
				}

				throw error;
			}

			return (top.Processes ?? []).map(row => ({
				pid: Number(row[0]),
				uids: row.slice(1, 5).map(Number),
				gids: row.slice(5, 9).map(Number),
				command: row.slice(9).join(' '),
			}));
		},

		async startContainer(id) {
			await call(async () => docker.getContainer(id).start());
		},

		async inspectContainer(id): Promise<ContainerState | undefined> {
			try {
				const info = await call(async () => docker.getContainer(id).inspect());
				const parseDate = (value: string | undefined) =>
					value && !value.startsWith('0001-') ? new Date(value) : undefined;
				return {
					id: info.Id,
					status: info.State.Status as ContainerStatus,
					exitCode: info.State.ExitCode,
					startedAt: parseDate(info.State.StartedAt),
					finishedAt: parseDate(info.State.FinishedAt),
					error: info.State.Error || undefined,
					addresses: Object.values(info.NetworkSettings?.Networks ?? {}).map(network => network.IPAddress).filter(Boolean),
					...(info.State.OOMKilled ? {oomKilled: true} : {}),
					...(info.Image ? {imageId: info.Image} : {}),
				};
			} catch (error) {
				if (statusCode(error) === 404) {
					return undefined;
				}

				throw error;
			}
		},

		async *logs(id, {follow, since, signal, tty = false, timestamps = true}: LogOptions): AsyncIterable<OutputChunk> {
			const query = {
				follow,
				stdout: true,
				stderr: true,
				timestamps,
				// The engine parses `seconds.nanoseconds`; strip the padding we
				// use for comparing instants as strings.
				...(since ? {since: since.replace(/^0+(?=\d)/, '')} : {}),
			};
			const container = docker.getContainer(id);
			// dockerode returns a Buffer without follow and a stream with it.
			const output = (await call(async () =>
				container.logs(query as unknown as Docker.ContainerLogsOptions & {follow: true}),
			)) as unknown as NodeJS.ReadableStream | Buffer;
			// A TTY container's log is its raw terminal output, one stream.
			const decoder = tty ? {push: (data: Buffer): OutputChunk[] => [{stream: 'stdout', data}]} : createFrameDecoder();
			if (Buffer.isBuffer(output)) {
				yield * decoder.push(output);
				return;
			}

			const stream = output as NodeJS.ReadableStream & {destroy(): void};
			if (signal?.aborted) {
				stream.destroy();
				return;
			}

			const abort = () => {
				stream.destroy();
			};

			signal?.addEventListener('abort', abort, {once: true});
			try {
				for await (const chunk of stream as AsyncIterable<Buffer>) {
					yield * decoder.push(chunk);
				}
			} catch (error) {
				// Destroying the stream on abort ends the iteration with an error.
				if (!signal?.aborted) {
					throw error;
				}
			} finally {
				signal?.removeEventListener('abort', abort);
			}
		},

		async attach(id, {stdin}): Promise<Attachment> {
			const stream = (await call(async () =>
				docker.getContainer(id).attach({stream: true, stdin, stdout: true, stderr: true, hijack: true}),
			)) as NodeJS.ReadWriteStream & {destroy(): void; end(): void};
			// The engine closes the connection when the container ends; an
			// error on a closing socket is that, not a failure.
			stream.on('error', () => {});
			return {
				output: stream,
				write(bytes) {
					stream.write(bytes);
				},
				close() {
					stream.destroy();
				},
			};
		},

		async resize(id, {rows, columns}) {
			try {
				await call(async () => docker.getContainer(id).resize({h: rows, w: columns}));
			} catch (error) {
				// 409/404: the container is not running (any more); nothing to size.
				if (statusCode(error) !== 409 && statusCode(error) !== 404 && statusCode(error) !== 500) {
					throw error;
				}
			}
		},

		async waitContainer(id, {nextExit = false, signal} = {}) {
			const options = {...nextExit ? {condition: 'next-exit' as const} : {}, ...signal ? {abortSignal: signal} : {}};
			const result = (await call(async () => docker.getContainer(id).wait(options))) as {StatusCode: number};
			return result.StatusCode;
		},

		async stopContainer(id, timeoutSeconds) {
			try {
				await call(async () => docker.getContainer(id).stop({t: timeoutSeconds}));
			} catch (error) {
				// 304: already stopped; 404: already gone. Either way, stopped.
				if (statusCode(error) !== 304 && statusCode(error) !== 404) {
					throw error;
				}
			}
		},

		async killContainer(id) {
			try {
				await call(async () => docker.getContainer(id).kill());
			} catch (error) {
				if (statusCode(error) !== 409) {
					throw error;
				}
			}
		},

		async removeContainer(id, {force}) {
			try {
				await call(async () => docker.getContainer(id).remove({force, v: true}));
			} catch (error) {
				// 404: already gone; 409: removal already in progress.
				if (statusCode(error) !== 404 && statusCode(error) !== 409) {
					throw error;
				}
			}
		},

		async listContainers(labels): Promise<ContainerSummary[]> {
			const containers = await call(async () => docker.listContainers({all: true, filters: labelFilter(labels)}));
			return containers.map(container => ({
				id: container.Id,
				names: container.Names.map(name => name.replace(/^\//, '')),
				image: container.Image,
				imageId: container.ImageID,
				status: container.State as ContainerStatus,
				labels: container.Labels ?? {},
			}));
		},

		async events(labels, onEvent: (event: EngineEvent) => void) {
			const stream = (await call(async () =>
				docker.getEvents({filters: JSON.stringify({type: ['container'], label: Object.entries(labels).map(([k, v]) => `${k}=${v}`)})}),
			)) as NodeJS.ReadableStream & {destroy(): void};
			let pending = '';
			stream.on('data', (chunk: Buffer) => {
				pending += chunk.toString('utf8');
				const lines = pending.split('\n');
				pending = lines.pop() ?? '';
				for (const line of lines.filter(Boolean)) {
					const event = JSON.parse(line) as {Action: string; Actor: {ID: string; Attributes: Record<string, string>}};
					onEvent({kind: 'container', action: event.Action, containerId: event.Actor.ID, labels: event.Actor.Attributes});
				}
			});
			stream.on('error', () => {});
			return {close: () => stream.destroy()};
		},
	};
}
