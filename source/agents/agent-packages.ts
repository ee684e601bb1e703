import {environmentVariables} from '../environment.js';

/**
 * The agents moat puts in bottles, as npm packages installed once on the
 * host (agent-cache.ts) and mounted read-only into each bottle, so neither
 * the image nor moat's CA (which differs per MOAT_HOME) is tied to them.
 */
export type AgentPackage = {
	/** The agent name runs carry (`agent:` in agent.yaml). */
	agent: 'claude' | 'codex';
	title: string;
	packageName: string;
	/** Pinned so every bottle runs what was tested; the variable overrides it. */
	version: string;
	versionVariable: string;
	/**
	 * The native executable for a CPU, relative to the installed prefix: the
	 * platform package's own binary, so no install script has to run.
	 */
	binary(cpu: string): string;
	/** Where the installed prefix is mounted in the bottle. */
	mountPoint: string;
};

export const agentPackages = {
	claude: {
		agent: 'claude',
		title: 'Claude Code',
		packageName: '@anthropic-ai/claude-code',
		version: '2.1.330',
		versionVariable: environmentVariables.claudeCodeVersion,
		binary: cpu => `node_modules/@anthropic-ai/claude-code-linux-${cpu}/claude`,
		mountPoint: '/opt/moat/claude-code',
	},
	codex: {
		agent: 'codex',
		title: 'Codex',
		packageName: '@openai/codex',
		version: '0.169.0',
		versionVariable: environmentVariables.codexVersion,
		binary: cpu => `node_modules/@openai/codex-linux-${cpu}/vendor/${cpu === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-musl/bin/codex`,
		mountPoint: '/opt/moat/codex',
	},
} as const satisfies Record<string, AgentPackage>;

/** The ELF machine numbers of the CPUs bottles run on. */
export const elfMachines: Record<string, number> = {x64: 62, arm64: 183};

/** npm's names for the engine's platform (bottles are Linux, on the host's CPU). */
export function npmCpu(arch: string): string {
	return arch === 'arm64' || arch === 'aarch64' ? 'arm64' : 'x64';
}

/** A version as npm accepts it; anything else could smuggle arguments into the install. */
export const versionPattern = /^\d+\.\d+\.\d+(?:-[\w.]+)?$/;
