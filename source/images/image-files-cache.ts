import fs from 'node:fs/promises';
import path from 'node:path';
import {readArchive, writeArchive, type ArchiveEntry} from '../engine/tar-archive.js';
import {writeFileAtomic} from '../files/atomic-write.js';
import type {ImageFiles} from './root-setup.js';

/**
 * The files the root setup reads of an image (root-setup.ts), kept per
 * image id under MOAT_HOME. Reading them through the engine's archive API
 * costs about a second on every run; an image's content never changes
 * under its id, so a second run of the same image reads one local file.
 */

const textParts = ['passwd', 'group', 'bundle'] as const;
const homePrefix = 'home/';

function textEntry(name: string, content: string): ArchiveEntry {
	return {path: name, type: 'file', mode: 0o600, uid: 0, gid: 0, content: Buffer.from(content, 'utf8'), mtime: 0};
}

/** One tar: the texts as files, the home folder's entries under `home/` (none when the image has no home). Pure. */
export function packImageFiles(files: ImageFiles): Buffer {
	return writeArchive([
		...textParts.map(part => textEntry(part, files[part])),
		...(files.home ?? []).map(entry => ({...entry, path: `${homePrefix}${entry.path}`})),
	]);
}

/** Reads back what packImageFiles wrote; undefined for anything else. Pure. */
export function unpackImageFiles(archive: Buffer): ImageFiles | undefined {
	let entries: ArchiveEntry[];
	try {
		entries = readArchive(archive);
	} catch {
		return undefined;
	}

	const texts = new Map(entries.filter(entry => entry.type === 'file' && !entry.path.startsWith(homePrefix)).map(entry => [entry.path, entry.content.toString('utf8')]));
	if (!textParts.every(part => texts.has(part))) {
		return undefined;
	}

	const home = entries.filter(entry => entry.path.startsWith(homePrefix)).map(entry => ({...entry, path: entry.path.slice(homePrefix.length)}));
	return {passwd: texts.get('passwd')!, group: texts.get('group')!, bundle: texts.get('bundle')!, home: home.length > 0 ? home : undefined};
}

/**
 * The image's files from the cache, or read with `read` and kept. A cache
 * that cannot be read or written is only slower: `read` answers.
 */
export async function cachedImageFiles(moatHome: string, imageId: string | undefined, read: () => Promise<ImageFiles>): Promise<ImageFiles> {
	const digest = /^sha256:([\da-f]{64})$/.exec(imageId ?? '')?.[1];
	if (!digest) {
		return read();
	}

	const file = path.join(moatHome, 'cache', 'image-files', `${digest}.tar`);
	const cached = await fs.readFile(file).then(unpackImageFiles, () => undefined);
	if (cached) {
		return cached;
	}

	const files = await read();
	await fs.mkdir(path.dirname(file), {recursive: true, mode: 0o700})
		.then(async () => writeFileAtomic(file, packImageFiles(files)))
		.catch(() => undefined);
	return files;
}
