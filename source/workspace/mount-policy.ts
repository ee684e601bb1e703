import path from 'node:path';
import {usageError} from '../errors.js';
import {printable} from '../text/printable.js';

export type MountSpec = {source: string; target: string; readOnly: boolean};

/** Directories a mount may not cover. */
export const systemDirectories = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/root', '/run', '/sbin', '/sys', '/usr', '/var'] as const;

/**
 * Where other tools keep credentials in a home directory: a mount of any of
 * them would hand the agent exactly what grants keep from it.
 */
export const credentialDirectories = [
	['.ssh', 'your SSH keys (~/.ssh)'],
	['.config/gh', 'the GitHub CLI\'s login (~/.config/gh)'],
	['.claude', 'Claude Code\'s login (~/.claude)'],
	['.claude.json', 'Claude Code\'s settings (~/.claude.json)'],
	['.codex', 'Codex\'s login (~/.codex)'],
	['.aws', 'your AWS credentials (~/.aws)'],
	['.docker', 'your Docker registry logins (~/.docker)'],
	['.config/gcloud', 'your Google Cloud credentials (~/.config/gcloud)'],
	['.kube', 'your Kubernetes credentials (~/.kube)'],
	['.gnupg', 'your GnuPG keys (~/.gnupg)'],
	['.netrc', 'your .netrc passwords'],
	['.git-credentials', 'your stored git credentials'],
] as const;

/**
 * Parses `src:dst[:ro]`. Relative sources are taken from `base` (the
 * workspace for agent.yaml, the current directory for -m).
 */
export function parseMount(spec: string, base: string, origin: string): MountSpec {
	const parts = spec.split(':');
	const fix = 'Write mounts as source:destination or source:destination:ro, with an absolute destination.';
	if (parts.length < 2 || parts.length > 3 || parts.some(part => part === '')) {
		throw usageError(`Mount "${printable(spec)}" (${origin}) is not source:destination[:ro].`, fix);
	}

	const [source = '', target = '', mode] = parts;
	if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
		throw usageError(`Mount "${printable(spec)}" (${origin}) has mode "${printable(mode)}"; only ro and rw exist.`, fix);
	}

	if (/\s/.test(target)) {
		throw usageError(`Mount "${printable(spec)}" (${origin}) has a space in its destination.`, 'Use a destination path without spaces.');
	}

	if (!target.startsWith('/')) {
		throw usageError(`Mount "${printable(spec)}" (${origin}) has a relative destination "${printable(target)}".`, fix);
	}

	// Normalise first: "/workspace/", "/workspace/." and "/x/.." name the
	// same places as "/workspace" and "/".
	const normalized = path.posix.resolve(target);
	if (normalized === '/workspace' || normalized === '/') {
		throw usageError(`Mount "${printable(spec)}" (${origin}) would replace ${printable(normalized)}.`, 'Mount it somewhere else, such as /data.');
	}

	// The container's start hands the home directory to the user as root;
	// nothing from the host may sit in it.
	if (normalized === '/home' || normalized.startsWith('/home/')) {
		throw usageError(`Mount "${printable(spec)}" (${origin}) targets ${printable(normalized)}, inside the container's home directories.`, 'Mount it under /workspace, /data, /mnt, /opt or /srv instead.');
	}

	// The container's start runs as root from these directories; a mount
	// over them would let agent.yaml choose what root runs.
	const system = systemDirectories.find(directory => normalized === directory || normalized.startsWith(`${directory}/`));
	if (system) {
		throw usageError(`Mount "${printable(spec)}" (${origin}) targets ${system}, a system directory.`, 'Mount it under /workspace, /data, /mnt, /opt or /srv instead.');
	}

	return {source: path.resolve(base, source), target: normalized, readOnly: mode === 'ro'};
}

/** A path the agent must never see, and why. */
export type ProtectedPath = {path: string; what: string};

export function protectedPaths(options: {moatHome: string; userHome: string; dockerSockets: readonly string[]; agentCache?: string}): ProtectedPath[] {
	return [
		{path: options.moatHome, what: 'moat\'s own data (MOAT_HOME)'},
		...credentialDirectories.map(([relative, what]) => ({path: path.join(options.userHome, relative), what})),
		// Shared by every bottle: an agent that could write it would change the agent of all the others.
		...(options.agentCache ? [{path: options.agentCache, what: 'moat\'s agent cache (MOAT_CACHE_DIR)'}] : []),
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
				`Refusing ${what} ${printable(hostPath)}: it ${relation} ${entry.what}${relation === 'is' ? '' : ` at ${printable(entry.path)}`}.`,
				'Choose a directory that holds only what the agent should see.',
			);
		}
	}
}
