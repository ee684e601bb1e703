import {createHash} from 'node:crypto';
import path from 'node:path';
import {formatAllowEntry, internalEntryKind, parseAllowEntry} from '../proxy/network-policy.js';
import {addressKindWords} from '../proxy/proxy-decisions.js';
import {environmentVariables} from '../environment.js';
import type {GatewayStatus} from '../gateway/gateway-status.js';
import type {StorageReport} from './storage-health.js';

/**
 * What the CLI and the daemon say to each other over `daemon.sock` (HTTP
 * with JSON bodies), and the pure decisions about it.
 */

/** The settings a daemon was started with: a daemon with others is replaced, never reused. */
export type DaemonSettings = {
	version: string;
	/** Identifies the build, so a rebuilt moat does not talk to an old daemon. */
	build: string;
	upstreamOverrides: string;
	/** NODE_EXTRA_CA_CERTS (path and a hash of its contents): what upstream TLS trusts. */
	extraCaCertificates: string;
	/** Where the hostname router listens (MOAT_ROUTER_PORT, default 8080). */
	routerPort: number;
	/** MOAT_RUN_CONNECTIONS: connections one run may hold open (null: the default). */
	runConnections: number | null;
};

export type Hello = {
	pid: number;
	settings: DaemonSettings;
	startedAt: string;
	/** moat's gateway on the engine: the bottles' only way out. */
	gateway: GatewayStatus;
	/** The hostname router, or why it is not listening. */
	router: {host: string; port: number} | {error: string};
	runs: number;
	/** What the daemon could not write for want of space (a full disk), while anything waits. */
	storage?: StorageReport;
};

export type RunRegistration = {
	runId: string;
	agent: string | null;
	policy: {mode: 'permissive' | 'strict'; allow: string[]};
	/** Grant names; the daemon reads their values from the store itself. */
	grants: string[];
	/** For ssh: grants: the user's agent (SSH_AUTH_SOCK) to forward signing to, and the container's user. */
	ssh?: {upstream?: string; uid: number; gid: number};
	/** Ports of this machine the run may reach as host.moat.internal (network.host, --host-port). */
	hostPorts?: number[];
};

export type RegisteredRun = {
	/** The run's proxy token: only its hash is kept anywhere. */
	token: string;
	proxy: {host: string; port: number};
	network: string;
	caCertificate: string;
	/** The folder with the run's SSH client files, when it has ssh: grants. */
	sshDirectory?: string;
	/** The engine's volume with the run's SSH agent socket (the gateway's relay), when it has ssh: grants. */
	sshAgentVolume?: string;
	/** Where host.moat.internal points in the bottle (the run's relay), when it was given ports of this machine. */
	hostServices?: string;
	/** For runs with an aws grant: the role's region, for the container's AWS config (its credentials come from the proxy). */
	aws?: {region: string};
};

export type DaemonStatus = Hello & {
	registered: Array<{runId: string; grants: string[]; requests: number; blocked: number}>;
};

/** The answer to `POST /runs/:id/allow`. */
export type AllowedHost = {
	runId: string;
	/** The entry as the run's allow list now holds it (see formatAllowEntry). */
	entry: string;
	/** False when the list already held it: nothing changed and nothing was recorded. */
	added: boolean;
	policy: RunRegistration['policy'];
};

/**
 * The allow entry a `POST /runs/:id/allow` body asks for, or why it cannot
 * be allowed. Entries naming internal addresses are refused here too: the
 * proxy never dials them whatever the list says, and a policy that listed
 * one would tell whoever reads it something the proxy does not do.
 */
export function parseAllowRequest(body: unknown): {entry: string} | {error: string} {
	const host = (body as {host?: unknown} | null | undefined)?.host;
	if (typeof host !== 'string') {
		return {error: 'the body needs a host, as {"host": "api.example.com"}'};
	}

	const entry = parseAllowEntry(host);
	if (!entry) {
		return {error: `${JSON.stringify(host)} is not an allow entry: use host, host:port, *.domain or *.domain:port`};
	}

	const kind = internalEntryKind(entry);
	if (kind) {
		return {error: `${JSON.stringify(host)} is ${addressKindWords[kind] ?? 'an internal address'}, which agents may never reach, whatever the allow list`};
	}

	return {entry: formatAllowEntry(entry)};
}

/** `allow` with `entry` added at the end, unless it already holds it in any spelling. */
export function allowListWith(allow: readonly string[], entry: string): {allow: string[]; added: boolean} {
	const held = allow.some(existing => {
		const parsed = parseAllowEntry(existing);
		return parsed !== undefined && formatAllowEntry(parsed) === entry;
	});
	return held ? {allow: [...allow], added: false} : {allow: [...allow, entry], added: true};
}

export function sameSettings(left: DaemonSettings, right: DaemonSettings): boolean {
	return (Object.keys(left) as Array<keyof DaemonSettings>).every(key => left[key] === right[key])
		&& Object.keys(left).length === Object.keys(right).length;
}

/** Which setting differs, in words, for the message when a daemon is replaced. */
export function settingsDifference(running: DaemonSettings, wanted: DaemonSettings): string | undefined {
	const labels: Record<keyof DaemonSettings, string> = {
		version: 'moat version',
		build: 'moat build',
		upstreamOverrides: environmentVariables.upstreamOverrides,
		extraCaCertificates: environmentVariables.extraCaCertificates,
		routerPort: environmentVariables.routerPort,
		runConnections: environmentVariables.runConnections,
	};
	const key = (Object.keys(labels) as Array<keyof DaemonSettings>).find(name => running[name] !== wanted[name]);
	return key ? labels[key] : undefined;
}

export function tokenHash(token: string): string {
	return createHash('sha256').update(token).digest('hex');
}

export function daemonPaths(moatHome: string) {
	return {
		socket: path.join(moatHome, 'daemon.sock'),
		lock: path.join(moatHome, 'daemon.lock'),
		state: path.join(moatHome, 'daemon-state.json'),
		log: path.join(moatHome, 'daemon.log'),
		proxyDirectory: path.join(moatHome, 'proxy'),
	};
}

/** Unix socket paths are limited to 107 bytes on Linux (103 on macOS). */
export const maximumSocketPath = 103;

/**
 * What daemon-state.json's `network` says since the gateway: each run has its
 * own network. Any other value is the shared network of an older moat
 * (`moat-sealed`, its host-side address the proxy's), served until its runs end.
 */
export const gatewayNetworkMarker = 'gateway';
