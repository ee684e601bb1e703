import os from 'node:os';
import path from 'node:path';

/** Every environment variable moat reads, named once. */
export const environmentVariables = {
	home: 'MOAT_HOME',
	requireDocker: 'MOAT_REQUIRE_DOCKER',
	dockerHost: 'DOCKER_HOST',
	noColor: 'NO_COLOR',
	upstreamOverrides: 'MOAT_UPSTREAM_OVERRIDES',
	keyringBackend: 'MOAT_KEYRING_BACKEND',
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
