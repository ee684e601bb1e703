import {spawnSync} from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {readArchive, writeArchive, type ArchiveEntry} from '../source/engine/tar-archive.js';
import {accountFiles, caEntries, homeEntries} from '../source/images/root-setup.js';

const passwd = [
	'root:x:0:0:root:/root:/bin/bash',
	'node:x:1000:1000::/home/node:/bin/bash',
	'moatuser:x:1001:1001::/home/moatuser:/bin/zsh',
	'',
].join('\n');
const group = ['root:x:0:', 'node:x:1000:', 'moatuser:x:1001:', ''].join('\n');

test('moatuser takes the owner\'s UID; another account with that UID is dropped; its shell is kept', t => {
	const files = accountFiles({passwd, group}, 1000, 1000);
	t.deepEqual(files.passwd.split('\n'), ['root:x:0:0:root:/root:/bin/bash', 'moatuser:x:1000:1000::/home/moatuser:/bin/zsh', '']);
	// GID 1000 is node's group already: reused, and moatuser's own group entry goes.
	t.deepEqual(files.group.split('\n'), ['root:x:0:', 'node:x:1000:', '']);
});

test('a free GID becomes moatuser\'s group; an image without moatuser gets one', t => {
	const files = accountFiles({passwd: 'root:x:0:0:root:/root:/bin/sh\n', group: 'root:x:0:\n'}, 501, 20);
	t.is(files.passwd, 'root:x:0:0:root:/root:/bin/sh\nmoatuser:x:501:20::/home/moatuser:/bin/bash\n');
	t.is(files.group, 'root:x:0:\nmoatuser:x:20:\n');
});

test('the home is re-owned without setuid bits, and never what is mounted into it', t => {
	const entry = (entryPath: string, type: ArchiveEntry['type'], mode: number): ArchiveEntry => ({path: entryPath, type, mode, uid: 0, gid: 0, content: Buffer.alloc(0)});
	const read = readArchive(writeArchive([
		entry('moatuser', 'directory', 0o755),
		{...entry('moatuser/.bashrc', 'file', 0o644), content: Buffer.from('alias x=y\n')},
		entry('moatuser/.claude', 'directory', 0o700),
		entry('moatuser/.claude/secret', 'file', 0o600),
		{...entry('moatuser/tool', 'file', 0o755), mode: 0o4755},
	]));
	const home = homeEntries(read, 1000, 1000, ['/home/moatuser/.claude', '/workspace']);
	t.deepEqual(home.map(item => [item.path, item.uid, item.gid, item.mode.toString(8)]), [
		['home/moatuser', 1000, 1000, '755'],
		['home/moatuser/.bashrc', 1000, 1000, '644'],
		['home/moatuser/tool', 1000, 1000, '755'],
	]);
	t.is(home[1]!.content.toString(), 'alias x=y\n');
});

test('moat\'s CA joins the image\'s bundle and stands alone, in the places TLS clients look', t => {
	const entries = caEntries('SYSTEM CA\n', 'MOAT CA');
	t.deepEqual(Object.fromEntries(entries.map(entry => [entry.path, entry.content.toString()])), {
		'etc/moat/ca.pem': 'MOAT CA\n',
		'etc/moat/ca-bundle.pem': 'SYSTEM CA\nMOAT CA\n',
		'etc/ssl/certs/ca-certificates.crt': 'SYSTEM CA\nMOAT CA\n',
		'usr/local/share/ca-certificates/moat.crt': 'MOAT CA\n',
	});
	t.true(entries.every(entry => entry.uid === 0 && entry.mode === 0o644));
});

test('archives moat writes are read back by GNU tar with names, owners, modes and content intact (long names too)', async t => {
	const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-tar-'));
	t.teardown(async () => fs.rm(folder, {recursive: true, force: true}));
	const long = `deep/${'d'.repeat(120)}/file`;
	const archive = writeArchive([
		{path: 'deep', type: 'directory', mode: 0o750, uid: 1000, gid: 1000, content: Buffer.alloc(0)},
		{path: long, type: 'file', mode: 0o640, uid: 1000, gid: 1001, content: Buffer.from('hello')},
		{path: 'link', type: 'symlink', mode: 0o777, uid: 1000, gid: 1000, content: Buffer.alloc(0), linkTarget: long},
	]);
	await fs.writeFile(path.join(folder, 'a.tar'), archive);
	const listing = spawnSync('tar', ['-tvf', path.join(folder, 'a.tar'), '--numeric-owner'], {encoding: 'utf8'});
	t.is(listing.status, 0, listing.stderr);
	t.regex(listing.stdout, new RegExp(`-rw-r----- 1000/1001\\s+5 .* ${long}`));
	t.regex(listing.stdout, /drwxr-x--- 1000\/1000 .* deep\//);
	t.regex(listing.stdout, new RegExp(`link -> ${long}`));
	// And what GNU tar writes, moat reads.
	await fs.mkdir(path.join(folder, 'tree', path.dirname(long)), {recursive: true});
	await fs.writeFile(path.join(folder, 'tree', long), 'hello');
	const made = spawnSync('tar', ['-cf', '-', '-C', path.join(folder, 'tree'), '.'], {maxBuffer: 1 << 24});
	const entries = readArchive(made.stdout);
	const file = entries.find(entry => entry.path === long);
	t.is(file?.content.toString(), 'hello');
	t.is(file?.type, 'file');
});
