import path from 'node:path';
import type {Engine} from '../engine/engine.js';
import type {ArchiveEntry} from '../engine/tar-archive.js';
import {MoatError} from '../errors.js';
import {containerCaBundle, containerCaFile} from '../proxy/container-environment.js';
import {printable} from '../text/printable.js';

/**
 * What only root could do in a bottle, done before it starts and never
 * inside it: the engine's archive API reads the image's account files and
 * writes moat's versions back (README: Security). The bottle then starts
 * as the workspace owner's UID/GID with no capability at all, so no binary
 * the image provides ever runs as root — a crafted `gosu` or `id` has
 * nothing to fake. The decisions here are pure; `prepareBottle` is the I/O.
 */

export const bottleUser = 'moatuser';
export const bottleHome = `/home/${bottleUser}`;

type AccountFiles = {passwd: string; group: string};

function lines(text: string): string[] {
	return text.split('\n').filter(line => line !== '');
}

/**
 * /etc/passwd and /etc/group where moatuser carries the given UID and GID.
 * Another account with that UID (node:20's "node" is 1000) is dropped, so
 * the UID names moatuser alone; a group that already has the GID is reused
 * as moatuser's primary group.
 */
export function accountFiles(files: AccountFiles, uid: number, gid: number): AccountFiles {
	const passwdLines = lines(files.passwd);
	const moatLine = `${bottleUser}:x:${uid}:${gid}::${bottleHome}:/bin/bash`;
	const passwd = passwdLines.filter(line => {
		const [name, , id] = line.split(':');
		return name !== bottleUser && id !== String(uid);
	});
	const existing = passwdLines.find(line => line.startsWith(`${bottleUser}:`));
	const shell = existing?.split(':')[6];
	passwd.push(shell ? moatLine.replace(/:\/bin\/bash$/, `:${shell}`) : moatLine);

	const groupLines = lines(files.group);
	const gidTaken = groupLines.some(line => line.split(':')[2] === String(gid) && !line.startsWith(`${bottleUser}:`));
	const group = groupLines.filter(line => !line.startsWith(`${bottleUser}:`));
	if (!gidTaken) {
		group.push(`${bottleUser}:x:${gid}:`);
	}

	return {passwd: passwd.join('\n') + '\n', group: group.join('\n') + '\n'};
}

const systemBundle = '/etc/ssl/certs/ca-certificates.crt';

function file(filePath: string, content: string, mode = 0o644, owner = {uid: 0, gid: 0}): ArchiveEntry {
	return {path: filePath.replace(/^\//, ''), type: 'file', mode, ...owner, content: Buffer.from(content, 'utf8')};
}

/** moat's CA in the system trust store (programs with a built-in path) and as its own files. */
export function caEntries(imageBundle: string, caCertificate: string): ArchiveEntry[] {
	const ca = caCertificate.endsWith('\n') ? caCertificate : `${caCertificate}\n`;
	const bundle = imageBundle === '' || imageBundle.endsWith('\n') ? `${imageBundle}${ca}` : `${imageBundle}\n${ca}`;
	return [
		file(containerCaFile, ca),
		file(containerCaBundle, bundle),
		file(systemBundle, bundle),
		file('/usr/local/share/ca-certificates/moat.crt', ca),
	];
}

/**
 * The image's home folder handed to the user: every entry re-owned, with
 * permission bits only (a setuid file in the image loses the bit). Paths
 * at or under a mount target are left out: those are the host's files
 * (agent state), never re-owned by moat.
 */
export function homeEntries(entries: readonly ArchiveEntry[], uid: number, gid: number, mountTargets: readonly string[]): ArchiveEntry[] {
	const parent = path.posix.dirname(bottleHome).slice(1);
	const mounted = mountTargets.map(target => target.replace(/^\/+|\/+$/g, ''));
	const underMount = (entryPath: string) => mounted.some(target => entryPath === target || entryPath.startsWith(`${target}/`));
	return entries
		.filter(entry => entry.type !== 'other')
		.map(entry => ({...entry, path: `${parent}/${entry.path}`, uid, gid}))
		.filter(entry => (entry.path === bottleHome.slice(1) || entry.path.startsWith(`${bottleHome.slice(1)}/`)) && !underMount(entry.path));
}

function text(entries: ArchiveEntry[] | undefined): string {
	const found = entries?.find(entry => entry.type === 'file');
	return found ? found.content.toString('utf8') : '';
}

export type BottleOwner = {uid: number; gid: number; caCertificate?: string; mountTargets: readonly string[]};

/**
 * What the root setup reads of an image: its account files, the home
 * folder it gives moatuser (undefined when it has none) and its CA bundle.
 * The same for every container of one image, so it is read once per image
 * (image-files-cache.ts).
 */
export type ImageFiles = {passwd: string; group: string; home: ArchiveEntry[] | undefined; bundle: string};

/** Reads an image's files through a container of it (created, not started). */
export async function readImageFiles(engine: Engine, containerId: string): Promise<ImageFiles> {
	const readBundle = async () => {
		const bundle = await engine.readPath(containerId, systemBundle);
		const link = bundle?.[0];
		return link?.type === 'symlink' && link.linkTarget
			? engine.readPath(containerId, path.posix.resolve(path.posix.dirname(systemBundle), link.linkTarget))
			: bundle;
	};

	const [passwd, group, home, bundle] = await Promise.all([
		engine.readPath(containerId, '/etc/passwd'),
		engine.readPath(containerId, '/etc/group'),
		engine.readPath(containerId, bottleHome),
		readBundle(),
	]);
	return {passwd: text(passwd), group: text(group), home, bundle: text(bundle)};
}

/** The entries of moat's root setup of a bottle: pure, from the image's files and the owner. */
export function rootSetupEntries(files: ImageFiles, owner: BottleOwner): ArchiveEntry[] {
	const accounts = accountFiles({passwd: files.passwd, group: files.group}, owner.uid, owner.gid);
	return [
		file('/etc/passwd', accounts.passwd),
		file('/etc/group', accounts.group),
		...homeEntries(files.home ?? [{path: bottleUser, type: 'directory', mode: 0o755, uid: 0, gid: 0, content: Buffer.alloc(0)}], owner.uid, owner.gid, owner.mountTargets),
		...owner.caCertificate ? caEntries(files.bundle, owner.caCertificate) : [],
	];
}

/** Writes moat's root setup into a created container. Call before it starts. */
export async function prepareBottle(engine: Engine, containerId: string, owner: BottleOwner, files: ImageFiles): Promise<void> {
	await engine.writeEntries(containerId, rootSetupEntries(files, owner));
}

/**
 * Fails unless every process of the bottle runs as the owner, by each of its
 * real, effective, saved and filesystem ids as the kernel reports them.
 */
export async function checkBottleIdentity(engine: Engine, containerId: string, uid: number, gid: number): Promise<void> {
	const processes = await engine.processIdentities(containerId);
	const wrong = processes.find(process => process.uids.some(id => id !== uid) || process.gids.some(id => id !== gid));
	if (wrong) {
		throw new MoatError(
			`A process of the bottle (${printable(wrong.command)}, PID ${wrong.pid}) runs as UID ${wrong.uids.join('/')} GID ${wrong.gids.join('/')}, not as ${uid}:${gid}; moat stopped it.`,
			'The image or the engine changed the user the bottle runs as. Check base_image, and report it if the image is one moat picked.',
			1,
		);
	}
}
