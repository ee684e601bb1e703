import path from 'node:path';
import {usageError} from '../errors.js';

export type MountSpec = {source: string; target: string; readOnly: boolean};

/**
 * Parses `src:dst[:ro]`. Relative sources are taken from `base` (the
 * workspace for agent.yaml, the current directory for -m).
 */
export function parseMount(spec: string, base: string, origin: string): MountSpec {
	const parts = spec.split(':');
	const fix = 'Write mounts as source:destination or source:destination:ro, with an absolute destination.';
	if (parts.length < 2 || parts.length > 3 || parts.some(part => part === '')) {
		throw usageError(`Mount "${spec}" (${origin}) is not source:destination[:ro].`, fix);
	}

	const [source = '', target = '', mode] = parts;
	if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
		throw usageError(`Mount "${spec}" (${origin}) has mode "${mode}"; only ro and rw exist.`, fix);
	}

	if (!target.startsWith('/')) {
		throw usageError(`Mount "${spec}" (${origin}) has a relative destination "${target}".`, fix);
	}

	// Normalise first: "/workspace/", "/workspace/." and "/x/.." name the
	// same places as "/workspace" and "/".
	const normalized = path.posix.resolve(target);
	if (normalized === '/workspace' || normalized === '/') {
		throw usageError(`Mount "${spec}" (${origin}) would replace ${normalized}.`, 'Mount it somewhere else, such as /data.');
	}

	return {source: path.resolve(base, source), target: normalized, readOnly: mode === 'ro'};
}

/** A path the agent must never see, and why. */
export type ProtectedPath = {path: string; what: string};

export function protectedPaths(options: {moatHome: string; userHome: string; dockerSockets: readonly string[]}): ProtectedPath[] {
	return [
		{path: options.moatHome, what: 'moat\'s own data (MOAT_HOME)'},
		{path: path.join(options.userHome, '.ssh'), what: 'your SSH keys (~/.ssh)'},
		...options.dockerSockets.map(socket => ({path: socket, what: 'the Docker socket'})),
	];
}

function contains(parent: string, child: string): boolean {
	const relative = path.relative(parent, child);
	// "..data" is a name inside parent; only ".." itself or "../…" leaves it.
	const leaves = relative === '..' || relative.startsWith(`..${path.sep}`);
	return relative === '' || (!leaves && !path.isAbsolute(relative));
}

/**
 * Refuses a host path that is, contains, or lies inside a protected path:
 * the agent can edit agent.yaml, so a mount must never be a way out of the
 * bottle. Paths must already have their symlinks resolved.
 */
export function checkHostPath(givenPath: string, what: string, protectedList: readonly ProtectedPath[]): void {
	const hostPath = path.resolve(givenPath);
	for (const entry of protectedList) {
		if (contains(hostPath, entry.path) || contains(entry.path, hostPath)) {
			const relation = hostPath === entry.path ? 'is' : contains(hostPath, entry.path) ? 'contains' : 'is inside';
			throw usageError(
				`Refusing ${what} ${hostPath}: it ${relation} ${entry.what}${relation === 'is' ? '' : ` at ${entry.path}`}.`,
				'Choose a directory that holds only what the agent should see.',
			);
		}
	}
}
