import os from 'node:os';
import path from 'node:path';

/**
 * Every environment variable moat reads from the host, named once. The
 * variables a grant's token may come from (GITHUB_TOKEN, ANTHROPIC_API_KEY,
 * …) are their provider's data, in source/credentials/providers/; the ones
 * moat sets inside containers (MOAT_RUN_ID, the proxy's) are the bottle's.
 */
export const environmentVariables = {
	// moat's own settings
	home: 'MOAT_HOME',
	cacheDirectory: 'MOAT_CACHE_DIR',
	requireDocker: 'MOAT_REQUIRE_DOCKER',
	upstreamOverrides: 'MOAT_UPSTREAM_OVERRIDES',
	keyringBackend: 'MOAT_KEYRING_BACKEND',
	routerPort: 'MOAT_ROUTER_PORT',
	daemonIdleMilliseconds: 'MOAT_DAEMON_IDLE_MS',
	doubleInterruptMilliseconds: 'MOAT_DOUBLE_INTERRUPT_MS',
	claudeCodeVersion: 'MOAT_CLAUDE_CODE_VERSION',
	codexVersion: 'MOAT_CODEX_VERSION',
	gatewayBaseImage: 'MOAT_GATEWAY_BASE',
	gatewayChannel: 'MOAT_GATEWAY_CHANNEL',
	networkPool: 'MOAT_NETWORK_POOL',
	/** How many connections one run may hold open through the proxy (default 256; see proxy/connection-limits.ts). */
	runConnections: 'MOAT_RUN_CONNECTIONS',
	/** The size of each of the three files of the engine's log of a bottle (default 100m; see engine/docker-engine.ts). */
	engineLogSize: 'MOAT_ENGINE_LOG_SIZE',
	// Set by moat in its gateway container (gateway-program.ts repeats them: it runs alone there)
	gatewayPort: 'MOAT_GATEWAY_PORT',
	gatewayDaemonSocket: 'MOAT_GATEWAY_DAEMON_SOCKET',
	gatewayRunConnections: 'MOAT_GATEWAY_RUN_CONNECTIONS',
	relaySocket: 'MOAT_RELAY_SOCKET',
	relayPorts: 'MOAT_RELAY_PORTS',
	relayProxy: 'MOAT_RELAY_PROXY',
	// The engine, as the docker CLI finds it
	dockerHost: 'DOCKER_HOST',
	dockerTlsVerify: 'DOCKER_TLS_VERIFY',
	dockerCertificatePath: 'DOCKER_CERT_PATH',
	// The user's terminal, files and agents
	noColor: 'NO_COLOR',
	xdgCacheHome: 'XDG_CACHE_HOME',
	sshAuthSocket: 'SSH_AUTH_SOCK',
	// Node's trust settings the daemon inherits or must not
	extraCaCertificates: 'NODE_EXTRA_CA_CERTS',
	/** Which build of React the dashboard loads: production unless set. */
	nodeEnvironment: 'NODE_ENV',
	tlsRejectUnauthorized: 'NODE_TLS_REJECT_UNAUTHORIZED',
	// The host's AWS credentials, which assume a granted role
	awsAccessKeyId: 'AWS_ACCESS_KEY_ID',
	awsSecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
	awsSessionToken: 'AWS_SESSION_TOKEN',
	awsSharedCredentialsFile: 'AWS_SHARED_CREDENTIALS_FILE',
	awsProfile: 'AWS_PROFILE',
	awsRegion: 'AWS_REGION',
	awsDefaultRegion: 'AWS_DEFAULT_REGION',
} as const;

/**
 * The parts of the outside world moat depends on, passed in rather than read
 * from globals so tests can point them elsewhere.
 */
export type MoatEnvironment = {
	readonly variables: Readonly<Record<string, string | undefined>>;
	/** The user's home directory (for `~/.ssh` and the default MOAT_HOME). */
	readonly userHome: string;
	readonly moatHome: string;
	readonly now: () => Date;
	readonly platform: NodeJS.Platform;
};

export function createEnvironment(
	variables: Readonly<Record<string, string | undefined>> = process.env,
	userHome: string = os.homedir(),
): MoatEnvironment {
	const configured = variables[environmentVariables.home];
	return {
		variables,
		userHome,
		moatHome: configured ? path.resolve(configured) : path.join(userHome, '.moat'),
		now: () => new Date(),
		platform: process.platform,
	};
}
