import {execFile} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {defaultResources} from '../../source/runs/resources.js';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, docker, listRuns, moat} from '../helpers/moat.js';

const execFileAsync = promisify(execFile);

/**
 * A hostile image of the kind an agent could ask for in agent.yaml: a
 * `gosu` that keeps root, an `id` that lies, and a setuid-root bash.
 */
async function buildCraftedImage(tag: string, marker: string): Promise<string> {
	const context = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-crafted-'));
	try {
		await fs.writeFile(path.join(context, 'gosu'), '#!/bin/sh\nshift\nexec "$@"\n', {mode: 0o755});
		await fs.writeFile(path.join(context, 'id'), '#!/bin/sh\necho 1000\n', {mode: 0o755});
		await fs.writeFile(path.join(context, 'Dockerfile'), [
			'FROM ubuntu:22.04',
			'COPY gosu id /usr/local/bin/',
			'RUN cp /bin/bash /usr/local/bin/rootbash && chmod 4755 /usr/local/bin/rootbash',
			`LABEL marker=${marker}`,
			'',
		].join('\n'));
		await execFileAsync('docker', ['build', '-q', '-t', tag, context], {env: {...process.env, DOCKER_BUILDKIT: '0'}});
		return (await docker('image', 'inspect', '-f', '{{.Id}}', tag)).trim();
	} finally {
		await fs.rm(context, {recursive: true, force: true});
	}
}

/** Every entry under a folder with its owner and mode, as the host sees them. */
async function walk(folder: string): Promise<Array<{file: string; uid: number; gid: number; mode: number}>> {
	const found: Array<{file: string; uid: number; gid: number; mode: number}> = [];
	for (const name of await fs.readdir(folder, {recursive: true})) {
		const file = path.join(folder, name);
		const stat = await fs.lstat(file);
		found.push({file: name, uid: stat.uid, gid: stat.gid, mode: stat.mode});
	}

	return found;
}

dockerTest('a crafted base image gets no root: it needs approval by image ID, its fake gosu and id never run as root, and nothing the bottle leaves is root-owned, setuid or setgid', async t => {
	const sandbox = await createSandbox();
	const tag = `moat-test-crafted:${randomBytes(4).toString('hex')}`;
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': `base_image: ${tag}\n`});
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
		await execFileAsync('docker', ['rmi', '-f', tag]).catch(() => undefined);
	});
	const firstId = await buildCraftedImage(tag, 'first');

	const refused = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	t.is(refused.code, 2, refused.stderr);
	t.true(refused.stderr.includes(`asks for the base image ${tag}@${firstId}`), refused.stderr);
	t.true(refused.stderr.includes(`--base-image ${tag}`), refused.stderr);

	const attack = [
		'grep -E "^(Uid|Gid|CapEff|CapBnd|NoNewPrivs)" /proc/self/status',
		// The image's setuid-root bash, asked to keep its privileges (-p).
		'/usr/local/bin/rootbash -p -c "grep ^Uid /proc/self/status | sed s/^/rootbash-/; cp /bin/bash /workspace/via-rootbash; chmod 4755 /workspace/via-rootbash; chown 0:0 /workspace/via-rootbash"',
		'cp /bin/bash /workspace/copy; chown 0:0 /workspace/copy 2>/dev/null && echo chowned',
		'gosu root id -u',
		// Setuid and setgid bits on files the bottle owns, every way the
		// kernel offers: chmod, creating with the mode, a setgid folder, and
		// the raw fchmodat system call past the C library.
		'touch /workspace/mine; chmod u+s /workspace/mine || echo chmod-u-refused; chmod g+s /workspace/mine || echo chmod-g-refused',
		`perl -e 'use Fcntl; sysopen(my $f, "/workspace/created", O_CREAT|O_WRONLY, 04755) or print "create-refused\\n"; mkdir("/workspace/folder", 02755) or print "mkdir-refused\\n"; my $p = "/workspace/mine"; syscall(268, -100, $p, 06755) == -1 and print "fchmodat-refused\\n"'`,
		// New namespaces are how an unprivileged process regains capabilities.
		'unshare -U true 2>/dev/null || echo unshare-refused',
		'true',
	].join('; ');
	const ran = await moat(['run', workspace, '--base-image', tag, '--', 'sh', '-c', attack], {env: sandbox.env});
	t.is(ran.code, 0, ran.stderr);
	t.regex(ran.stdout, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m, 'real, effective, saved and filesystem UID are the owner\'s');
	t.regex(ran.stdout, /^Gid:\s+1000\s+1000\s+1000\s+1000$/m);
	t.regex(ran.stdout, /^CapEff:\s+0+$/m);
	t.regex(ran.stdout, /^CapBnd:\s+0+$/m, 'not even the bounding set keeps a capability');
	t.regex(ran.stdout, /^NoNewPrivs:\s+1$/m);
	t.regex(ran.stdout, /^rootbash-Uid:\s+1000\s+1000\s+1000\s+1000$/m, 'the setuid-root bash of the image runs as the owner');
	t.false(ran.stdout.includes('chowned'));
	for (const refusal of ['chmod-u-refused', 'chmod-g-refused', 'create-refused', 'mkdir-refused', 'fchmodat-refused', 'unshare-refused']) {
		t.true(ran.stdout.includes(refusal), `${refusal}: ${ran.stdout}`);
	}

	// What the bottle left: everything but the agent.yaml the test wrote.
	const files = (await walk(workspace)).filter(entry => entry.file !== 'agent.yaml');
	t.true(files.some(entry => entry.file === 'copy'), 'the bottle did write the workspace');
	t.deepEqual(files.filter(entry => entry.uid === 0 || entry.gid === 0), [], 'no file is root-owned');
	t.true(files.some(entry => entry.file === 'mine'), 'the files the bottle tried to mark exist');
	t.deepEqual(files.filter(entry => (entry.mode & 0o6000) !== 0), [], 'no file is setuid or setgid, not even to the owner');

	// Approved once with this ID: the same image runs without asking.
	const again = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	t.is(again.code, 0, again.stderr);

	// The same name on another image asks again.
	const secondId = await buildCraftedImage(tag, 'second');
	t.not(secondId, firstId);
	const changed = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	t.is(changed.code, 2, changed.stderr);
	t.true(changed.stderr.includes(`asks for the base image ${tag}@${secondId}`), changed.stderr);
});

type ListedRun = RunMetadata & {resources?: {memoryBytes: number; cpus: number; pids: number}};

dockerTest('limits come from flags, then agent.yaml, then defaults that protect the host, and show in moat list --json and the engine', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'resources:\n  memory: 256m\n  pids: 200\n'});
	t.teardown(async () => {
		await moat(['destroy', '--all', '-f'], {env: sandbox.env}).catch(() => undefined);
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const configured = await moat(['run', workspace, '-d', '--pids', '64', '--cpus', '0.5', '--', 'sleep', '600'], {env: sandbox.env});
	t.is(configured.code, 0, configured.stderr);
	const plain = await createWorkspace(1000, 1000);
	t.teardown(async () => fs.rm(plain, {recursive: true, force: true}));
	const defaulted = await moat(['run', plain, '-d', '--', 'sleep', '600'], {env: sandbox.env});
	t.is(defaulted.code, 0, defaulted.stderr);

	const runs = await listRuns<ListedRun>(sandbox.env);
	const byId = (id: string) => runs.find(run => run.id === id.trim())!;
	t.deepEqual(byId(configured.stdout).resources, {memoryBytes: 256 * 1024 * 1024, cpus: 0.5, pids: 64}, 'flags over agent.yaml, agent.yaml over defaults');
	const info = JSON.parse(await docker('info', '--format', '{{json .}}')) as {NCPU: number; MemTotal: number};
	const expected = defaultResources({cpus: info.NCPU, memoryBytes: info.MemTotal});
	t.deepEqual(byId(defaulted.stdout).resources, expected);
	t.true(expected.pids < 3000 && expected.memoryBytes <= 8 * 1024 ** 3, 'the defaults bound what one bottle takes');

	type Inspected = Array<{HostConfig: {Memory: number; MemorySwap: number; NanoCpus: number; PidsLimit: number}}>;
	const [engineView] = JSON.parse(await docker('inspect', `moat-${configured.stdout.trim()}`)) as Inspected;
	t.deepEqual(
		{memory: engineView!.HostConfig.Memory, swap: engineView!.HostConfig.MemorySwap, cpus: engineView!.HostConfig.NanoCpus, pids: engineView!.HostConfig.PidsLimit},
		{memory: 256 * 1024 * 1024, swap: 256 * 1024 * 1024, cpus: 500_000_000, pids: 64},
	);
});

dockerTest('a bottle cannot start more processes than its limit', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	// Perl's fork fails at once at the limit (a shell would retry for minutes).
	const forker = 'my $n = 0; for (1 .. 500) { my $pid = fork(); last unless defined $pid; if ($pid == 0) { sleep 600; exit 0 } $n++ } print "forked $n\\n"';
	const result = await moat(['run', workspace, '--pids', '64', '--', 'perl', '-e', forker], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	const forked = Number(/forked (\d+)/.exec(result.stdout)?.[1]);
	t.true(forked > 0 && forked < 64, `forked ${forked} of 500`);
});

dockerTest('a bottle killed for memory is reported as such', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const result = await moat(['run', workspace, '--memory', '64m', '--', 'perl', '-e', '$x = "a" x (512 * 1024 * 1024); print "survived\\n"'], {env: sandbox.env});
	t.not(result.code, 0);
	t.false(result.stdout.includes('survived'));
	const [run] = await listRuns<RunMetadata>(sandbox.env);
	t.is(run!.state, 'failed');
	t.true(run!.outOfMemory);
	t.regex(run!.error ?? '', /Out of memory: .* memory limit of 64 MiB/);
	const listed = await moat(['list'], {env: sandbox.env});
	t.regex(listed.stdout, /out of memory/);
});
