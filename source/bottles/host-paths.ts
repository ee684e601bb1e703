import fs from 'node:fs/promises';
import path from 'node:path';
import {agentCacheDirectory} from '../agents/agent-cache.js';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {isMoatError, usageError} from '../errors.js';
import {checkHostPath, parseMount, protectedPaths, type MountSpec, type ProtectedPath} from '../workspace/mount-policy.js';
import {printable} from '../text/printable.js';

/** A host path pinned to one file system object: where it really is, and which inode it is. */
export type PinnedPath = {real: string; identity: string; directory: boolean};

/**
 * Resolves a path and records the inode it names, in one step that a
 * concurrent symlink swap cannot split: the path is opened, and both the
 * real location and the identity are read from the open descriptor. (On
 * Linux through /proc/self/fd; elsewhere realpath and stat are compared
 * twice, which narrows the window without closing it.)
 */
export async function pinPath(target: string): Promise<PinnedPath> {
	let handle: fs.FileHandle;
	try {
		handle = await fs.open(target, 'r');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			throw error;
		}

		// Not openable (a socket, say): resolve and stat, still checked below.
		const real = await fs.realpath(target);
		const stats = await fs.stat(real);
		return {real, identity: `${stats.dev}:${stats.ino}`, directory: stats.isDirectory()};
	}

	try {
		const stats = await handle.stat();
		const real = process.platform === 'linux'
			? await fs.readlink(`/proc/self/fd/${handle.fd}`)
			: await fs.realpath(target);
		if (process.platform !== 'linux') {
			const again = await fs.stat(real);
			if (again.dev !== stats.dev || again.ino !== stats.ino) {
				throw usageError(`${printable(target)} changed while moat was checking it.`, 'Run again; if it keeps changing, something is swapping it.');
			}
		}

		return {real, identity: `${stats.dev}:${stats.ino}`, directory: stats.isDirectory()};
	} finally {
		await handle.close();
	}
}

export async function realDirectory(given: string, cwd: string): Promise<PinnedPath> {
	const absolute = path.resolve(cwd, given);
	let pinned: PinnedPath;
	try {
		pinned = await pinPath(absolute);
	} catch (error) {
		if (isMoatError(error)) {
			throw error;
		}

		throw usageError(`Workspace ${printable(absolute)} does not exist.`, 'Pass an existing directory, or create it first.');
	}

	if (!pinned.directory) {
		throw usageError(`Workspace ${printable(absolute)} is a file, not a directory.`, 'Pass the directory that holds your project.');
	}

	return pinned;
}

/**
 * Resolves symlinks in the longest existing prefix of a path, so a path that
 * does not exist yet (a MOAT_HOME about to be created) still compares by
 * where it really is.
 */
export async function realPathOrResolved(target: string): Promise<string> {
	const absolute = path.resolve(target);
	try {
		return await fs.realpath(absolute);
	} catch {
		const parent = path.dirname(absolute);
		return parent === absolute ? absolute : path.join(await realPathOrResolved(parent), path.basename(absolute));
	}
}

/** The host paths no run may mount: moat's own files, the user's keys, the engine's socket. */
export async function protectedList(environment: MoatEnvironment): Promise<ProtectedPath[]> {
	const dockerHost = environment.variables[environmentVariables.dockerHost];
	const sockets = ['/var/run/docker.sock', '/run/docker.sock'];
	if (dockerHost?.startsWith('unix://')) {
		sockets.push(dockerHost.slice('unix://'.length));
	}

	const literal = protectedPaths({moatHome: path.resolve(environment.moatHome), userHome: path.resolve(environment.userHome), dockerSockets: sockets, agentCache: agentCacheDirectory(environment)});
	// Both the path as named and where its symlinks lead: ~/.ssh may be a
	// link into a dotfiles directory.
	const resolved = await Promise.all(literal.map(async entry => ({...entry, path: await realPathOrResolved(entry.path)})));
	const seen = new Set<string>();
	return [...literal, ...resolved].filter(entry => !seen.has(entry.path) && seen.add(entry.path));
}

export async function resolveMounts(specs: readonly string[], base: string, origin: string, refused: ProtectedPath[]): Promise<Array<MountSpec & {identity: string}>> {
	return Promise.all(
		specs.map(async spec => {
			const mount = parseMount(spec, base, origin);
			let pinned: PinnedPath;
			try {
				pinned = await pinPath(mount.source);
			} catch (error) {
				if (isMoatError(error)) {
					throw error;
				}

				throw usageError(`Mount source ${printable(mount.source)} (${origin}) does not exist.`, 'Create it, or fix the path.');
			}

			// The path checked is the one the identity was taken from.
			checkHostPath(pinned.real, `to mount`, refused);
			return {...mount, source: pinned.real, identity: pinned.identity};
		}),
	);
}
