import fs from 'node:fs/promises';
import path from 'node:path';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {parseLogRecords} from '../../source/runs/run-store.js';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, docker, moat, readJson} from '../helpers/moat.js';

const script = 'echo one; echo two >&2; echo three; id -u; exit 7';

/** Each stand-in base image, reached the way a user's agent.yaml would. */
const bases = [
	{label: 'ubuntu:22.04 (no dependencies)', config: ''},
	{label: 'debian:bookworm-slim (base_image)', config: 'base_image: debian:bookworm-slim\n'},
	{label: 'node:20 (node@20, which has a UID 1000 user)', config: 'dependencies:\n  - node@20\n'},
	{label: 'python:3.11 (python@3.11)', config: 'dependencies:\n  - python@3.11\n'},
];

for (const base of bases) {
	dockerTest(`on ${base.label}: output is captured in order with streams and the exit code passes through`, async t => {
		const sandbox = await createSandbox();
		const workspace = await createWorkspace(1000, 1000, {'agent.yaml': base.config});
		t.teardown(async () => {
			await sandbox.cleanup();
			await fs.rm(workspace, {recursive: true, force: true});
		});

		// A base image agent.yaml names is approved on the command line (no terminal here).
		const approve = base.config.startsWith('base_image: ') ? ['--base-image', base.config.slice(12).trim()] : [];
		const result = await moat(['run', workspace, ...approve, '--', 'sh', '-c', script], {env: sandbox.env});
		t.is(result.code, 7, result.stderr);
		t.is(result.stdout, 'one\nthree\n1000\n');
		t.true(result.stderr.includes('two\n'));

		const [runId] = await fs.readdir(path.join(sandbox.moatHome, 'runs'));
		const records = parseLogRecords(await fs.readFile(path.join(sandbox.moatHome, 'runs', runId!, 'logs.jsonl'), 'utf8'));
		t.deepEqual(
			records.filter(record => record.stream === 'stdout').map(record => record.line),
			['one', 'three', '1000'],
		);
		t.deepEqual(records.filter(record => record.stream === 'stderr').map(record => record.line), ['two']);
		for (const record of records) {
			t.false(Number.isNaN(Date.parse(record.ts)), `timestamp ${record.ts}`);
		}

		const metadata = await readJson<RunMetadata>(path.join(sandbox.moatHome, 'runs', runId!, 'metadata.json'));
		t.is(metadata.exitCode, 7);
		t.is(metadata.state, 'failed');
		t.is(metadata.containerId, null, 'the container is removed when the run ends');
		t.is(await docker('ps', '-aq', '--filter', `label=moat.run-id=${runId}`), '');
	});
}

dockerTest('a command the bottle does not have is reported as the bottle\'s, not moat\'s, and exits 127', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const result = await moat(['run', workspace, '--', 'nosuchcommand'], {env: sandbox.env});
	t.is(result.code, 127, result.stderr);
	t.regex(result.stderr, /^moat-init: command not found in the bottle: nosuchcommand$/m);
	t.notRegex(result.stderr, /^moat: .*not found/m, 'nothing reads as moat\'s own error');
	t.notRegex(result.stderr, /exec: nosuchcommand/);
});

dockerTest('the container user takes the workspace owner\'s UID and GID, for two owners on the same image', async t => {
	const sandbox = await createSandbox();
	const config = {'agent.yaml': 'dependencies:\n  - node@20\n'};
	const first = await createWorkspace(1000, 1000, config);
	const second = await createWorkspace(4321, 4322, config);
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(first, {recursive: true, force: true});
		await fs.rm(second, {recursive: true, force: true});
	});

	const command = ['--', 'sh', '-c', 'echo "$(id -u):$(id -g):$(id -un):$HOME"; touch /workspace/made-here'];
	const one = await moat(['run', first, ...command], {env: sandbox.env});
	const two = await moat(['run', second, ...command], {env: sandbox.env});
	t.is(one.code, 0, one.stderr);
	t.is(two.code, 0, two.stderr);
	t.is(one.stdout, '1000:1000:moatuser:/home/moatuser\n');
	t.is(two.stdout, '4321:4322:moatuser:/home/moatuser\n');
	t.false(two.stderr.includes('Building image'), 'the second owner reuses the first owner\'s image');

	const firstFile = await fs.stat(path.join(first, 'made-here'));
	const secondFile = await fs.stat(path.join(second, 'made-here'));
	t.deepEqual([firstFile.uid, firstFile.gid], [1000, 1000]);
	t.deepEqual([secondFile.uid, secondFile.gid], [4321, 4322]);
});

dockerTest('a root-owned workspace runs the agent as UID 5000, never as root, and says so', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(0, 0);
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const result = await moat(['run', workspace, '--', 'id', '-u'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, '5000\n');
	t.regex(result.stderr, /owned by root.*UID 5000/);
});

dockerTest('containers start as the workspace owner with no-new-privileges, moat\'s seccomp profile and no capability', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const result = await moat(['run', workspace, '--keep', '--', 'sh', '-c', 'grep -E "^(NoNewPrivs|CapEff)" /proc/self/status'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /NoNewPrivs:\s+1/);
	// The bottle starts as the owner: no capability, effective or bounding.
	t.regex(result.stdout, /CapEff:\s+0+\n/);

	const [runId] = await fs.readdir(path.join(sandbox.moatHome, 'runs'));
	const inspect = JSON.parse(await docker('inspect', `moat-${runId!}`)) as Array<{Config: {User: string}; HostConfig: {SecurityOpt: string[]; CapAdd: string[] | null; CapDrop: string[] | null; Privileged: boolean}}>;
	const [noNewPrivileges, seccomp, ...others] = inspect[0]!.HostConfig.SecurityOpt;
	t.is(noNewPrivileges, 'no-new-privileges');
	t.true(seccomp?.startsWith('seccomp={'), 'moat\'s own seccomp profile, not the engine\'s default');
	t.deepEqual(others, []);
	t.deepEqual(inspect[0]!.HostConfig.CapAdd ?? [], []);
	t.deepEqual(inspect[0]!.HostConfig.CapDrop, ['ALL']);
	t.is(inspect[0]!.Config.User, '1000:1000', 'it starts as the workspace owner, never as root');
	t.false(inspect[0]!.HostConfig.Privileged);
	await moat(['destroy', runId!], {env: sandbox.env});
});

dockerTest('images are reused by input hash and --rebuild builds again', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'base_image: debian:bookworm-slim\ndependencies:\n  - procps\n'});
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const approved = await moat(['run', workspace, '--base-image', 'debian:bookworm-slim', '--', 'true'], {env: sandbox.env});
	t.is(approved.code, 0, `approved on the command line: ${approved.stderr}`);
	const reused = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	t.is(reused.code, 0, reused.stderr);
	t.false(reused.stderr.includes('Building image'));

	const rebuilt = await moat(['run', workspace, '--rebuild', '--', 'true'], {env: sandbox.env});
	t.is(rebuilt.code, 0, rebuilt.stderr);
	t.true(rebuilt.stderr.includes('Building image'));
});

dockerTest('an image build failure shows the failing step and exits 1', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'dependencies:\n  - no-such-package-moat-test\n'});
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const result = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	t.is(result.code, 1);
	t.regex(result.stderr, /Building the image from ubuntu:22\.04 failed/);
	t.regex(result.stderr, /Step \d+\/\d+ : RUN/);
	t.regex(result.stderr, /no-such-package-moat-test/);
	t.false(result.stderr.includes('    at '), 'no stack trace without -v');
});

dockerTest('agent.yaml\'s env reaches the command but cannot steer the root phase of the container\'s start', async t => {
	const sandbox = await createSandbox();
	// An awk on the PATH agent.yaml asks for: if the root phase ran it, it would leave a root-owned marker.
	const workspace = await createWorkspace(1000, 1000, {
		'agent.yaml': 'env:\n  PATH: /workspace/bin:/usr/local/bin:/usr/bin:/bin\n  LD_PRELOAD: /workspace/nothing.so\n',
	});
	await fs.mkdir(path.join(workspace, 'bin'));
	await fs.writeFile(path.join(workspace, 'bin', 'awk'), '#!/bin/sh\nid -u > /workspace/awk-ran-as\nexec /usr/bin/awk "$@"\n', {mode: 0o755});
	await fs.chown(path.join(workspace, 'bin'), 1000, 1000);
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const result = await moat(['run', workspace, '--', 'sh', '-c', 'echo "$PATH"; echo "preload=$LD_PRELOAD"'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, '/workspace/bin:/usr/local/bin:/usr/bin:/bin\npreload=/workspace/nothing.so\n');
	const ranAs = await fs.readFile(path.join(workspace, 'awk-ran-as'), 'utf8').catch(() => undefined);
	t.not(ranAs?.trim(), '0', 'the workspace\'s awk never ran as root');
});

dockerTest('-e values with quotes, spaces and newlines reach the command exactly', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const value = 'it\'s "quoted" $HOME `x`\nsecond line';
	const result = await moat(['run', workspace, '-e', `TRICKY=${value}`, '-e', 'EMPTY=', '--', 'sh', '-c', 'printf "%s|%s" "$TRICKY" "${EMPTY-unset}"'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, `${value}|`);
});

dockerTest('many attached runs at once each print their own output, however fast the command ends', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	const results = await Promise.all(Array.from({length: 8}, async (_, index) => moat(['run', workspace, '--', 'echo', `hello-${index}`], {env: sandbox.env})));
	for (const [index, result] of results.entries()) {
		t.is(result.code, 0, result.stderr);
		t.is(result.stdout, `hello-${index}\n`);
	}
});

dockerTest('the container refuses to start when a mount is not the directory moat checked (device and inode differ)', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	const data = await createWorkspace();
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
		await fs.rm(data, {recursive: true, force: true});
	});

	// A destination with = in it is checked like any other.
	const equals = await moat(['run', workspace, '-m', `${data}:/data/a=b`, '--', 'ls', '-d', '/data/a=b'], {env: sandbox.env});
	t.is(equals.code, 0, equals.stderr);

	// A real run passes its checks, extra mount included.
	const good = await moat(['run', workspace, '-m', `${data}:/data:ro`, '--', 'sh', '-c', 'echo "$MOAT_MOUNT_CHECKS" | wc -w; ls -d /data'], {env: sandbox.env});
	t.is(good.code, 0, good.stderr);
	t.is(good.stdout, '2\n/data\n');

	// The same image started with the identity of another directory: what a swap between check and mount looks like.
	const [run] = JSON.parse((await moat(['list', '--json'], {env: sandbox.env})).stdout) as Array<{image: string}>;
	const other = await fs.stat(sandbox.moatHome);
	const swapped = await docker('run', '--rm', '--init', '-e', 'MOAT_UID=1000', '-e', 'MOAT_GID=1000', '-e', `MOAT_MOUNT_CHECKS=/workspace=${other.dev}:${other.ino}`, '-v', `${workspace}:/workspace`, run!.image, 'true').then(
		() => 'started',
		(error: {stderr?: string; code?: number}) => error.stderr ?? String(error.code),
	);
	t.regex(swapped, /the mount at \/workspace is not what moat checked on the host/);
});
