import {createHash} from 'node:crypto';
import {existsSync} from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type {Duplex} from 'node:stream';
import type {Engine, Labels} from '../engine/engine.js';
import {maximumSocketPath} from '../daemon/daemon-protocol.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {exitCodes, MoatError} from '../errors.js';
import {imageLabels} from '../images/image-builder.js';
import {defaultConnectionsPerRun, parseConnectionsPerRun} from '../proxy/connection-limits.js';
import {containerLabels} from '../runs/labels.js';
import {newRunId} from '../runs/run-metadata.js';
import {openDialer, serveChannel, type Channel, type Dialer} from './gateway-channel.js';
import type {GatewayStatus, GatewayTopology} from './gateway-status.js';
import {gatewayRecipe} from './gateway-image.js';
import {candidateSlots, parseNetworkPool, runSubnet, slotOf, type NetworkPool} from './run-subnets.js';
import {printable} from '../text/printable.js';
import {writeFileAtomic} from '../files/atomic-write.js';
import {sealStillHolds, type SealRecord} from './seal-record.js';

/**
 * moat's gateway (README: The gateway): one small container per engine and
 * MOAT_HOME, the only peer of every bottle. Bottles sit on networks of their
 * own with no address on the host; the gateway joins each and carries every
 * connection to the daemon, which keeps every decision and every
 * credential. This file is the daemon's side: the image, the container, the
 * runs' networks, the channel and the checks that the seal holds.
 */

export type GatewayChannelMode = 'auto' | 'socket' | 'api';

/** Where a run's bottle finds moat. */
export type RunAccess = {
	network: string;
	proxy: {host: string; port: number};
	/** For runs with ssh: grants: the engine's volume holding the SSH agent relay's socket (`agent.sock`). */
	sshAgentVolume?: string;
	/** For runs given ports of this machine: the relay's address, which host.moat.internal names in the bottle. */
	hostServices?: string;
};

/** Where the relay serves the agent socket, inside its own container. */
const relayDirectory = '/run/moat-ssh';

export type Gateway = {
	/** Makes the gateway ready (image, container, channel, checks); rejects with why runs cannot start. */
	ensure(): Promise<void>;
	/**
	 * The run's own network, joined by the gateway; for a run with ssh:
	 * grants or host ports, also its relay (which reaches the proxy with the
	 * run's token).
	 */
	openRun(runId: string, options?: {token: string; ssh: boolean; hostPorts: readonly number[]}): Promise<RunAccess>;
	/**
	 * The id of the next run, whose network is made (and joined) already, or
	 * undefined when none is ready; either way the one after it is made
	 * now. Making a network is about 0.2 s of the engine's time that a
	 * run's start then does not wait for.
	 */
	nextRunId(): string | undefined;
	/**
	 * Resolves once the gateway has joined the run's network, or rejects
	 * with why it could not. openRun returns as soon as the network exists
	 * (the container can be made on it); the bottle must not start before
	 * this.
	 */
	joined(runId: string): Promise<void>;
	/** Leaves and removes the run's network (its container has ended). */
	closeRun(runId: string): Promise<void>;
	/** A connection to a bottle's port, made by the gateway (the hostname router). */
	dial(host: string, port: number): Promise<Duplex>;
	status(): GatewayStatus;
	close(): Promise<void>;
};

export type GatewayOptions = {
	engine: Engine;
	environment: MoatEnvironment;
	log(message: string): void;
	/** Hands a bottle's connection to the proxy. */
	accept(socket: Duplex): void;
	/** Whether the daemon serves the run: a run network of an unknown run with no container is left over, and goes. */
	knownRun?(runId: string): boolean;
};

/** The port bottles reach the gateway on, inside their networks. */
export const gatewayPort = 3128;

export const gatewayLabels = {
	gateway: 'moat.gateway',
	/** On a run's network: which run it is. */
	runNetwork: 'moat.run-network',
	/** On a run's relay container and its SSH agent volume: which run it serves. */
	runRelay: 'moat.run-relay',
	/** On every network moat made: they share the subnet pool. */
	network: 'moat.network',
	/** What the container was made from: an older one is replaced. */
	recipe: 'moat.gateway-recipe',
} as const;

export const runNetworkName = (runId: string) => `moat-run-${runId}`;
const sshVolumeName = (runId: string) => `moat-ssh-${runId}`;

export function gatewayPaths(moatHome: string) {
	const directory = path.join(moatHome, 'gateway');
	return {directory, socket: path.join(directory, 'proxy.sock'), seal: path.join(directory, 'seal.json')};
}

function homeHash(moatHome: string) {
	return createHash('sha256').update(moatHome).digest('hex').slice(0, 10);
}


function channelMode(variables: MoatEnvironment['variables']): GatewayChannelMode {
	const value = variables[environmentVariables.gatewayChannel];
	return value === 'socket' || value === 'api' ? value : 'auto';
}

/** Every address of this machine's interfaces, the targets the seal check must find unreachable. */
function hostAddresses(): string[] {
	return [...new Set(Object.values(os.networkInterfaces()).flat()
		.filter(entry => entry && !entry.internal && !entry.address.startsWith('fe80'))
		.map(entry => entry!.family === 'IPv6' ? `[${entry!.address}]` : entry!.address))].sort();
}

function topologyOf(engineAddress: string, homeNetworkId: string): GatewayTopology {
	if (/^(tcp|ssh|https?):\/\//.test(engineAddress) && !/^\w+:\/\/(127\.|localhost|\[::1\])/.test(engineAddress)) {
		return 'remote';
	}

	// A bridge of this engine in this machine's own network stack: the engine runs here.
	return existsSync(`/sys/class/net/br-${homeNetworkId.slice(0, 12)}`) ? 'local' : 'vm';
}

/** The engine's words for a container that is gone or going: waiting will not help. */
const containerGone = (error: unknown) => /no such container|marked for removal|is not running|is dead/i.test((error as Error).message);

async function retry<T>(what: () => Promise<T>, attempts: number): Promise<T> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await what();
		} catch (error) {
			if (attempt >= attempts || containerGone(error)) {
				throw error;
			}

			await new Promise(resolve => {
				setTimeout(resolve, 100 * Math.min(attempt, 10));
			});
		}
	}
}

export function createGateway(options: GatewayOptions): Gateway {
	const {engine, environment, log, accept} = options;
	const home = environment.moatHome;
	const name = `moat-gateway-${homeHash(home)}`;
	const paths = gatewayPaths(home);
	const mode = channelMode(environment.variables);
	const socketUsable = mode !== 'api' && Buffer.byteLength(paths.socket) <= maximumSocketPath;
	// Twice the daemon's per-run limit and some: room for connections not yet counted there (before their first request).
	const configuredPerRun = parseConnectionsPerRun(environment.variables[environmentVariables.runConnections]);
	const gatewayConnectionsPerRun = 2 * (('value' in configuredPerRun ? configuredPerRun.value : undefined) ?? defaultConnectionsPerRun) + 64;
	const ownLabels: Labels = {[gatewayLabels.gateway]: 'true', [containerLabels.home]: home};
	let status: GatewayStatus = {container: name, state: 'starting'};
	let ensuring: Promise<void> | undefined;
	let containerId: string | undefined;
	let imageTag: string | undefined;
	let channel: Channel | undefined;
	let dialer: Dialer | undefined;
	let socketServer: net.Server | undefined;
	let closed = false;
	// Runs whose network the gateway is still joining (openRun does not wait for it).
	const joins = new Map<string, Promise<void>>();
	type MadeNetwork = {networkName: string; addresses: ReturnType<typeof runSubnet>};
	// The network made ahead for the next run (nextRunId), and those handed out but not yet opened.
	let spare: {runId: string; made: Promise<MadeNetwork>} | undefined;
	const handedOut = new Map<string, Promise<MadeNetwork>>();
	let restoreTimer: NodeJS.Timeout | undefined;

	const pool = (): NetworkPool => {
		const parsed = parseNetworkPool(environment.variables[environmentVariables.networkPool]);
		if ('error' in parsed) {
			throw new MoatError(`${printable(parsed.error)}.`, 'Fix MOAT_NETWORK_POOL (or unset it) and run moat proxy restart.', exitCodes.usage);
		}

		return parsed;
	};

	/** A network with no host address on a free subnet of the pool: the engine refuses overlaps, so try the next. */
	async function createNetwork(networkName: string, labels: Labels, interContainer: boolean) {
		const existing = await engine.inspectNetwork(networkName);
		if (existing) {
			return existing;
		}

		const range = pool();
		const used = new Set((await engine.listNetworks({[gatewayLabels.network]: 'true'}))
			.flatMap(network => network.subnets.map(subnet => slotOf(range, subnet)))
			.filter((slot): slot is number => slot !== undefined));
		for (const slot of candidateSlots(range, networkName, used, 64)) {
			try {
				return await engine.createHostlessNetwork({
					name: networkName,
					labels: {...labels, [gatewayLabels.network]: 'true'},
					subnet: runSubnet(range, slot).subnet,
					interContainer,
				});
			} catch (error) {
				if (!(error as {overlaps?: boolean}).overlaps) {
					throw error;
				}
			}
		}

		throw new MoatError('No free subnet is left in moat\'s network pool.', 'Remove finished runs (moat clean), or set MOAT_NETWORK_POOL to a larger range.', exitCodes.failure);
	}

	async function listenOnSocket() {
		if (!socketUsable || socketServer) {
			return;
		}

		await fs.mkdir(paths.directory, {recursive: true, mode: 0o700});
		await fs.rm(paths.socket, {force: true});
		const server = net.createServer({noDelay: true}, socket => {
			accept(socket);
		});
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(paths.socket, () => {
				server.off('error', reject);
				resolve();
			});
		});
		await fs.chmod(paths.socket, 0o600);
		socketServer = server;
	}

	async function ensureImage() {
		const recipe = await gatewayRecipe(environment.variables[environmentVariables.gatewayBaseImage]);
		if (!(await engine.findImage(recipe.tag))) {
			log(`building the gateway image ${recipe.tag} from ${recipe.baseImage}`);
			try {
				await engine.buildImage({tag: recipe.tag, labels: {[imageLabels.managed]: 'true', [imageLabels.hash]: recipe.hash, [imageLabels.base]: recipe.baseImage}, files: recipe.files});
			} catch (error) {
				throw new MoatError(
					`The gateway's image could not be built from ${printable(recipe.baseImage)}: ${printable((error as Error).message)}`,
					`The engine needs ${printable(recipe.baseImage)} (docker pull ${printable(recipe.baseImage)}), or set MOAT_GATEWAY_BASE to a local image with Node 22 or newer.`,
					exitCodes.failure,
					{cause: error},
				);
			}
		}

		return recipe;
	}

	/** The gateway container, running and current: an old or broken one is replaced. */
	async function ensureContainer(recipe: {tag: string; hash: string}, homeNetwork: string): Promise<string> {
		const wanted = `${recipe.hash}/${mode}/${process.getuid?.() ?? 0}/${gatewayConnectionsPerRun}`;
		for (const container of await engine.listContainers(ownLabels)) {
			if (container.labels[gatewayLabels.recipe] !== wanted) {
				log(`replacing the gateway ${container.names[0] ?? container.id} (made from an older recipe)`);
				await engine.removeContainer(container.id, {force: true});
				continue;
			}

			if (container.status === 'removing' || container.status === 'dead') {
				// Going away (docker rm -f): let it; if its name is still taken, the next attempt finds it gone.
				await engine.removeContainer(container.id, {force: true}).catch(() => undefined);
				continue;
			}

			if (container.status !== 'running') {
				try {
					await engine.startContainer(container.id);
				} catch (error) {
					log(`the gateway would not start again (${(error as Error).message}); making a new one`);
					await engine.removeContainer(container.id, {force: true});
					continue;
				}
			}

			return container.id;
		}

		const id = await engine.createContainer({
			name,
			image: recipe.tag,
			command: ['node', '/moat/gateway.mjs', 'serve'],
			environment: {
				[environmentVariables.gatewayPort]: String(gatewayPort),
				[environmentVariables.gatewayRunConnections]: String(gatewayConnectionsPerRun),
				...(socketUsable ? {[environmentVariables.gatewayDaemonSocket]: '/run/moat-daemon/proxy.sock'} : {}),
			},
			workingDirectory: '/',
			// The daemon's own folder, read-only: the gateway may reach its socket and nothing else of the host.
			binds: socketUsable ? [{source: paths.directory, target: '/run/moat-daemon', readOnly: true}] : [],
			labels: {...ownLabels, [gatewayLabels.recipe]: wanted},
			tty: false,
			openStdin: false,
			network: homeNetwork,
			// As the daemon's user: the socket is the daemon's alone (mode 0600).
			user: `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`,
			sealed: {readOnlyRoot: true, tmpfs: {'/tmp': 'rw,noexec,nosuid,size=16m'}},
			restartUnlessStopped: true,
			limits: {memoryBytes: 512 * 1024 * 1024, pids: 512},
		});
		await engine.startContainer(id);
		log(`gateway ${name} started`);
		return id;
	}

	async function openChannels(id: string) {
		channel?.close();
		dialer?.close();
		// The exec may come before the main process listens: try again for a few seconds.
		channel = await retry(async () => {
			const {stream, errors} = await engine.exec(id, ['node', '/moat/gateway.mjs', 'channel']);
			const opened = serveChannel(stream, accept);
			const outcome = await Promise.race([opened.ready.then(() => 'ready' as const), opened.closed.then(() => 'closed' as const)]);
			if (outcome === 'closed') {
				throw new Error(`the gateway's channel closed at once: ${errors().trim() || 'no reason given'}`);
			}

			return opened;
		}, 40);
		dialer = await retry(async () => {
			const {stream, errors} = await engine.exec(id, ['node', '/moat/gateway.mjs', 'dialer']);
			const opened = openDialer(stream);
			const outcome = await Promise.race([opened.ready.then(() => 'ready' as const), opened.closed.then(() => 'closed' as const)]);
			if (outcome === 'closed') {
				throw new Error(`the gateway's dialer closed at once: ${errors().trim() || 'no reason given'}`);
			}

			return opened;
		}, 40);
		const current = channel;
		void current.closed.then(() => {
			if (closed || channel !== current) {
				return;
			}

			// The gateway died or was removed: make it again; runs' connections wait meanwhile.
			log('the gateway\'s channel closed; restoring the gateway');
			restore(1);
		});
	}

	/** Brings the gateway back, trying again (less and less often) until it works or the daemon stops. */
	function restore(attempt: number) {
		if (closed) {
			return;
		}

		status = {container: name, state: 'starting'};
		ensuring = undefined;
		ensure().catch((error: unknown) => {
			log(`the gateway could not be restored (attempt ${attempt}): ${(error as Error).message}`);
			restoreTimer = setTimeout(() => {
				restore(attempt + 1);
			}, Math.min(30_000, 1000 * attempt));
		});
	}

	/**
	 * A run's relay: a small container of the gateway's image on the run's
	 * network that serves, for the bottle, the SSH agent socket (in a volume
	 * of the engine the bottle mounts read-only) and the ports of this
	 * machine the run was given (host.moat.internal points at it), each
	 * connection a tunnel through the gateway with the run's token. No host
	 * socket is mounted anywhere, so it works where the engine is a VM
	 * (Docker Desktop) or remote.
	 */
	async function startRelay(runId: string, networkName: string, address: string, proxyUrl: string, serves: {ssh: boolean; hostPorts: readonly number[]}): Promise<string | undefined> {
		const volume = serves.ssh ? sshVolumeName(runId) : undefined;
		const labels = {[containerLabels.home]: home, [gatewayLabels.runRelay]: runId};
		for (const old of await engine.listContainers(labels)) {
			await engine.removeContainer(old.id, {force: true});
		}

		const socketPath = volume ? `${relayDirectory}/agent.sock` : '';
		const id = await engine.createContainer({
			name: `moat-${runId}-relay`,
			image: imageTag!,
			command: ['node', '/moat/gateway.mjs', 'relay'],
			environment: {
				[environmentVariables.relaySocket]: socketPath,
				[environmentVariables.relayPorts]: serves.hostPorts.join(','),
				[environmentVariables.relayProxy]: proxyUrl,
			},
			workingDirectory: '/',
			binds: [],
			volumes: volume ? [{name: volume, target: relayDirectory, readOnly: false, labels}] : [],
			labels,
			tty: false,
			openStdin: false,
			network: networkName,
			address,
			// Root in the container without any capability: it owns the fresh volume, nothing else;
			// a host port below 1024 (the network namespace is its own) needs no capability either.
			user: '0:0',
			sysctls: {'net.ipv4.ip_unprivileged_port_start': '0'},
			sealed: {readOnlyRoot: true, tmpfs: {'/tmp': 'rw,noexec,nosuid,size=1m'}},
			restartUnlessStopped: true,
			limits: {memoryBytes: 64 * 1024 * 1024, pids: 64},
		});
		await engine.startContainer(id);
		// The bottle may use them at once: wait until the socket is there and every port listens.
		// Listening is read from the kernel's table, not tried: a connection would go through to the host's service.
		const ready = 'const fs = require("fs"); const [socket, ...ports] = process.argv.slice(1); if (socket && !fs.existsSync(socket)) process.exit(1); const table = fs.readFileSync("/proc/net/tcp", "utf8"); const listening = new Set(table.split("\\n").slice(1).map(line => line.trim().split(/\\s+/)).filter(fields => fields[3] === "0A").map(fields => parseInt(fields[1].split(":")[1], 16))); process.exit(ports.every(port => listening.has(Number(port))) ? 0 : 1);';
		for (let attempt = 0; attempt < 100; attempt++) {
			const checked = await engine.execToEnd(id, ['node', '-e', ready, socketPath, ...serves.hostPorts.map(String)]).catch(() => ({exitCode: 1}));
			if (checked.exitCode === 0) {
				return volume;
			}

			await new Promise(resolve => {
				setTimeout(resolve, 100);
			});
		}

		throw new MoatError('The run\'s relay (its SSH agent and host ports) did not start.', `See docker logs moat-${runId}-relay, then start the run again.`, exitCodes.failure);
	}

	/**
	 * The bottle's container, stopped but not yet removed, still holds the
	 * relay's volume: try again for a while. What is left (a kept container)
	 * goes at the gateway's next start.
	 */
	function removeVolumeLater(volume: string, attempt: number) {
		engine.removeVolume(volume).catch(() => {
			if (!closed && attempt < 8) {
				setTimeout(() => {
					removeVolumeLater(volume, attempt + 1);
				}, 500 * (2 ** attempt)).unref();
			}
		});
	}

	/** Relay volumes of runs that are over: removed unless a kept container still holds one. */
	async function sweepVolumes() {
		const open = new Set((await engine.listNetworks({[gatewayLabels.runNetwork]: 'true', [containerLabels.home]: home})).map(network => network.name));
		for (const volume of await engine.listVolumes({[containerLabels.home]: home})) {
			const runId = volume.replace(/^moat-ssh-/, '');
			if (!open.has(runNetworkName(runId))) {
				await engine.removeVolume(volume).catch(() => undefined);
			}
		}
	}

	/** Both halves of "the seal holds": nothing of this machine answers from moat's network, and the gateway reaches the daemon. */
	async function check(id: string, homeNetworkId: string) {
		const listener = net.createServer(socket => socket.destroy());
		await new Promise<void>(resolve => {
			listener.listen(0, resolve);
		});
		try {
			const port = (listener.address() as net.AddressInfo).port;
			const startedAt = (await engine.inspectContainer(id))?.startedAt?.toISOString() ?? '';
			const seal: SealRecord = {container: id, startedAt, network: homeNetworkId, addresses: hostAddresses()};
			const recorded: unknown = await fs.readFile(paths.seal, 'utf8').then(text => JSON.parse(text) as unknown, () => undefined);
			// This very gateway was found sealed from these addresses before (seal-record.ts).
			const targets = startedAt !== '' && sealStillHolds(recorded, seal) ? [] : seal.addresses.map(address => `${address}:${port}`);
			const probed = await engine.execToEnd(id, ['node', '/moat/gateway.mjs', 'probe', ...targets, ...(socketUsable ? ['/run/moat-daemon/proxy.sock'] : [])]);
			const results = JSON.parse(probed.stdout.trim() || '{}') as Record<string, string>;
			const reached = targets.filter(target => results[target] === 'connected');
			// Only a shortcut for the next daemon: a record that cannot be kept costs that one the probe again.
			const keep = async () => {
				if (reached.length > 0) {
					await fs.rm(paths.seal, {force: true});
				} else if (targets.length > 0 && startedAt !== '') {
					await fs.mkdir(paths.directory, {recursive: true, mode: 0o700});
					await writeFileAtomic(paths.seal, JSON.stringify(seal) + '\n');
				}
			};

			await keep().catch((error: unknown) => {
				log(`the seal check's answer is not kept: ${(error as Error).message}`);
			});
			if (reached.length > 0) {
				throw new MoatError(
					`moat's sealed network reaches this machine (${reached.join(', ')} answered from it), so bottles could reach its services.`,
					'Runs are refused on this engine. Check that the engine honours the bridge option com.docker.network.bridge.inhibit_ipv4 (Docker 20.10 or newer), then moat proxy restart.',
					exitCodes.failure,
				);
			}

			const viaSocket = socketUsable && results['/run/moat-daemon/proxy.sock'] === 'connected';
			const answered = await engine.execToEnd(id, ['node', '/moat/gateway.mjs', 'probe-proxy']);
			const line = (JSON.parse(answered.stdout.trim() || '{}') as {status?: string}).status ?? '';
			if (!line.startsWith('HTTP/1.1 407')) {
				throw new MoatError(
					`moat's gateway does not reach the daemon (it got "${printable(line || answered.stderr.trim() || 'nothing')}").`,
					'Runs are refused until it does. See the daemon log (moat proxy status names it), then moat proxy restart.',
					exitCodes.failure,
				);
			}

			if (mode === 'socket' && !viaSocket) {
				throw new MoatError('MOAT_GATEWAY_CHANNEL=socket, but the gateway cannot reach the daemon\'s socket (this engine does not share the host\'s files).', 'Unset MOAT_GATEWAY_CHANNEL and run moat proxy restart.', exitCodes.usage);
			}

			status = {container: name, state: 'ready', channel: viaSocket ? 'socket' : 'api', topology: topologyOf(engine.address, homeNetworkId)};
		} finally {
			listener.close();
		}
	}

	/** The run's network on a free subnet of the pool, with the addresses it gives the gateway and relay. */
	async function makeRunNetwork(runId: string): Promise<MadeNetwork> {
		const networkName = runNetworkName(runId);
		const network = await createNetwork(networkName, {[gatewayLabels.runNetwork]: 'true', [containerLabels.home]: home, [containerLabels.runId]: runId}, true);
		const slot = network.subnets.map(subnet => slotOf(pool(), subnet)).find(value => value !== undefined);
		if (slot === undefined) {
			throw new MoatError(`The engine's network ${networkName} is not one of moat's.`, `Remove it (docker network rm ${networkName}) and start the run again.`, exitCodes.failure);
		}

		return {networkName, addresses: runSubnet(pool(), slot)};
	}

	/** A network no run took: the gateway leaves it and it goes. */
	async function dropNetwork(networkName: string) {
		if (containerId) {
			await engine.disconnectNetwork(networkName, containerId).catch(() => undefined);
		}

		await engine.removeNetwork(networkName).catch((error: unknown) => {
			log(`the network ${networkName} stays: ${(error as Error).message}`);
		});
	}

	function makeSpare() {
		if (closed || spare) {
			return;
		}

		const runId = newRunId();
		const made = (async () => {
			await ensure();
			const network = await makeRunNetwork(runId);
			await engine.connectNetwork(network.networkName, containerId!, network.addresses.gateway);
			return network;
		})();
		made.catch((error: unknown) => {
			log(`the next run's network could not be made ahead: ${(error as Error).message}`);
			if (spare?.runId === runId) {
				spare = undefined;
			}
		});
		spare = {runId, made};
	}

	async function bringUp() {
		await listenOnSocket();
		const recipe = await ensureImage();
		const homeNetwork = await createNetwork(name, ownLabels, false);
		const id = await ensureContainer(recipe, homeNetwork.name);
		containerId = id;
		imageTag = recipe.tag;
		// A new gateway joins the networks of runs it served before, at the same address: their bottles keep working.
		for (const network of await engine.listNetworks({[gatewayLabels.runNetwork]: 'true', [containerLabels.home]: home})) {
			// One made ahead for a run that never came (a daemon that ended without taking it down).
			const runId = network.name.replace(/^moat-run-/, '');
			if (options.knownRun && !options.knownRun(runId) && (await engine.listContainers({[containerLabels.runId]: runId, [containerLabels.home]: home}).catch(() => [undefined])).length === 0) {
				await engine.disconnectNetwork(network.name, id).catch(() => undefined);
				await engine.removeNetwork(network.name).catch((error: unknown) => {
					log(`the network ${network.name} stays: ${(error as Error).message}`);
				});
				continue;
			}

			const slot = network.subnets.map(subnet => slotOf(pool(), subnet)).find(value => value !== undefined);
			if (slot !== undefined) {
				await engine.connectNetwork(network.name, id, runSubnet(pool(), slot).gateway).catch((error: unknown) => {
					// The container itself going away is a failed bring-up (tried again); a network in a strange state is not.
					if (containerGone(error)) {
						throw error;
					}

					log(`the gateway could not join ${network.name}: ${(error as Error).message}`);
				});
			}
		}

		await openChannels(id);
		await check(id, homeNetwork.id);
		await sweepVolumes().catch((error: unknown) => {
			log(`old SSH relay volumes stay: ${(error as Error).message}`);
		});
		log(`gateway ready: ${status.channel === 'socket' ? 'the daemon\'s socket' : 'the Docker API channel'}, ${status.topology} engine`);
	}

	function ensure(): Promise<void> {
		if (closed) {
			return Promise.reject(new Error('the daemon is stopping'));
		}

		ensuring ??= bringUp().catch((error: unknown) => {
			status = {container: name, state: 'failed', error: (error as Error).message};
			ensuring = undefined;
			throw error;
		});
		return ensuring;
	}

	return {
		ensure,

		nextRunId() {
			const taken = spare;
			spare = undefined;
			if (taken) {
				handedOut.set(taken.runId, taken.made);
			}

			makeSpare();
			return taken?.runId;
		},

		async openRun(runId, runOptions) {
			await ensure();
			const ahead = handedOut.get(runId);
			handedOut.delete(runId);
			// Made ahead and joined: nothing left to wait for. Had that failed, it is made now.
			const madeAhead = await ahead?.catch(() => undefined);
			const {networkName, addresses} = madeAhead ?? await makeRunNetwork(runId);
			const proxy = {host: addresses.gateway, port: gatewayPort};
			const relay = runOptions !== undefined && (runOptions.ssh || runOptions.hostPorts.length > 0);
			if (!madeAhead && relay) {
				// The relay reaches the proxy through the gateway at once.
				await engine.connectNetwork(networkName, containerId!, addresses.gateway);
			} else if (!madeAhead) {
				// Joining takes the engine about as long as making the network: it
				// goes on while the launcher makes and prepares the container,
				// which needs only the network to exist; joined() holds the start.
				const join = engine.connectNetwork(networkName, containerId!, addresses.gateway);
				join.catch(() => undefined);
				joins.set(runId, join);
			}

			if (!relay) {
				return {network: networkName, proxy};
			}

			const volume = await startRelay(runId, networkName, addresses.relay, `http://moat:${encodeURIComponent(runOptions.token)}@${proxy.host}:${proxy.port}`, runOptions);
			return {
				network: networkName,
				proxy,
				...volume ? {sshAgentVolume: volume} : {},
				...runOptions.hostPorts.length > 0 ? {hostServices: addresses.relay} : {},
			};
		},

		async joined(runId) {
			await joins.get(runId);
			joins.delete(runId);
		},

		async closeRun(runId) {
			const networkName = runNetworkName(runId);
			// A join still under way would otherwise land after the leave, and hold the network.
			await joins.get(runId)?.catch(() => undefined);
			joins.delete(runId);
			for (const relay of await engine.listContainers({[gatewayLabels.runRelay]: runId, [containerLabels.home]: home}).catch(() => [])) {
				await engine.removeContainer(relay.id, {force: true}).catch(() => undefined);
			}

			removeVolumeLater(sshVolumeName(runId), 1);
			if (containerId) {
				await engine.disconnectNetwork(networkName, containerId).catch(() => undefined);
			}

			await engine.removeNetwork(networkName).catch((error: unknown) => {
				log(`the network ${networkName} stays: ${(error as Error).message}`);
			});
		},

		async dial(host, port) {
			await ensure();
			return dialer!.dial(host, port);
		},

		status: () => status,

		async close() {
			closed = true;
			// Networks made ahead that no run took go with the daemon.
			const unused = [...spare ? [spare.made] : [], ...handedOut.values()];
			spare = undefined;
			handedOut.clear();
			for (const made of unused) {
				const network = await made.catch(() => undefined);
				if (network) {
					await dropNetwork(network.networkName);
				}
			}

			clearTimeout(restoreTimer);
			channel?.close();
			dialer?.close();
			if (socketServer) {
				await new Promise<void>(resolve => {
					socketServer!.close(() => {
						resolve();
					});
				});
				await fs.rm(paths.socket, {force: true});
			}
		},
	};
}
