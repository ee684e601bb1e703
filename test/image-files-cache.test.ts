import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {cachedImageFiles, packImageFiles, unpackImageFiles} from '../source/images/image-files-cache.js';
import type {ImageFiles} from '../source/images/root-setup.js';

const imageId = `sha256:${'ab'.repeat(32)}`;

const files: ImageFiles = {
	passwd: 'root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000::/home/node:/bin/sh\n',
	group: 'root:x:0:\n',
	bundle: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
	home: [
		{path: 'moatuser', type: 'directory', mode: 0o755, uid: 0, gid: 0, content: Buffer.alloc(0), mtime: 1_700_000_000},
		{path: 'moatuser/.bashrc', type: 'file', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('export PS1="$ "\n'), mtime: 1_700_000_001},
		{path: 'moatuser/.local/bin/tool', type: 'symlink', mode: 0o777, uid: 0, gid: 0, content: Buffer.alloc(0), linkTarget: '/usr/bin/true', mtime: 1_700_000_002},
	],
};

async function home(t: ExecutionContext): Promise<string> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-image-files-'));
	t.teardown(async () => fs.rm(root, {recursive: true, force: true}));
	return root;
}

test('an image\'s files come back from their archive as they went in, a missing home folder included', t => {
	t.deepEqual(unpackImageFiles(packImageFiles(files)), files);
	t.deepEqual(unpackImageFiles(packImageFiles({...files, home: undefined})), {...files, home: undefined});
	t.deepEqual(unpackImageFiles(packImageFiles({...files, passwd: '', bundle: ''})), {...files, passwd: '', bundle: ''});
});

test('an archive that is not one of these reads as nothing', t => {
	t.is(unpackImageFiles(Buffer.from('not a tar at all')), undefined);
	t.is(unpackImageFiles(Buffer.alloc(0)), undefined);
});

test('the files are read through the engine once per image id, then from the cache', async t => {
	const moatHome = await home(t);
	let reads = 0;
	const read = async () => {
		reads++;
		return files;
	};

	t.deepEqual(await cachedImageFiles(moatHome, imageId, read), files);
	t.deepEqual(await cachedImageFiles(moatHome, imageId, read), files);
	t.is(reads, 1);
	// Another image is read for itself.
	await cachedImageFiles(moatHome, `sha256:${'cd'.repeat(32)}`, read);
	t.is(reads, 2);
	const stat = await fs.stat(path.join(moatHome, 'cache', 'image-files', `${'ab'.repeat(32)}.tar`));
	t.is(stat.mode & 0o777, 0o600);
});

test('a damaged cache file is read again from the engine and replaced; an id that is not a digest is never cached', async t => {
	const moatHome = await home(t);
	const read = async () => files;
	await cachedImageFiles(moatHome, imageId, read);
	const file = path.join(moatHome, 'cache', 'image-files', `${'ab'.repeat(32)}.tar`);
	await fs.writeFile(file, 'garbage');
	let reads = 0;
	t.deepEqual(await cachedImageFiles(moatHome, imageId, async () => {
		reads++;
		return files;
	}), files);
	t.is(reads, 1);
	t.deepEqual(unpackImageFiles(await fs.readFile(file)), files);

	for (const id of [undefined, 'sha256:../../etc', 'moat/run:latest']) {
		await cachedImageFiles(moatHome, id, read);
	}

	t.deepEqual(await fs.readdir(path.join(moatHome, 'cache', 'image-files')), [`${'ab'.repeat(32)}.tar`]);
});
