import fs from 'node:fs/promises';
import test from 'ava';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, moat} from '../helpers/moat.js';

test('moat deps list shows the runtimes, the npm tools and the package fallback', async t => {
	const sandbox = await createSandbox();
	t.teardown(sandbox.cleanup);
	const result = await moat(['deps', 'list'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /^NAME\s+KIND\s+PROVIDES$/m);
	t.regex(result.stdout, /^node@VERSION\s+runtime\s+base image node:VERSION$/m);
	t.regex(result.stdout, /^go@VERSION\s+runtime\s+base image golang:VERSION$/m);
	t.regex(result.stdout, /^claude-code\s+npm\s+@anthropic-ai\/claude-code$/m);
	const json = JSON.parse((await moat(['deps', 'list', '--json'], {env: sandbox.env})).stdout) as Array<{name: string}>;
	t.true(json.some(entry => entry.name === 'python@VERSION'));
});

test('moat deps info names what a dependency becomes', async t => {
	const sandbox = await createSandbox();
	t.teardown(sandbox.cleanup);
	t.is((await moat(['deps', 'info', 'node@20'], {env: sandbox.env})).stdout, 'node@20: runtime, provides base image node:20\n');
	t.is((await moat(['deps', 'info', 'ripgrep'], {env: sandbox.env})).stdout, 'ripgrep: system, provides the base distribution\'s package of that name\n');
});

test('moat deps info refuses what dependencies: refuses, in the same words (nodejs@20)', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'dependencies:\n  - nodejs@20\n'});
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	const info = await moat(['deps', 'info', 'nodejs@20'], {env: sandbox.env});
	t.is(info.code, 2);
	t.is(info.stdout, '');
	t.is(info.stderr, 'moat: Unknown dependency "nodejs@20".\nDid you mean node@20? Use a runtime (node@20, python@3.11, go@1.22), a known tool (claude-code, codex) or a Debian package name. See moat deps list.\n');
	// The config is refused before anything reaches the engine.
	const run = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	t.is(run.code, 2);
	t.true(run.stderr.includes(info.stderr.split('\n')[1]!), run.stderr);
});

test('moat deps with an unknown action is a usage error with the fix', async t => {
	const sandbox = await createSandbox();
	t.teardown(sandbox.cleanup);
	const result = await moat(['deps', 'show'], {env: sandbox.env});
	t.is(result.code, 2);
	t.regex(result.stderr, /moat deps takes list or info NAME[\s\S]*moat deps list/);
});

dockerTest('moat system images and containers list only moat\'s own objects', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		await moat(['destroy', '-f'], {env: sandbox.env});
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const runId = (await moat(['run', workspace, '-d', '-n', 'listed', '--', 'sleep', '300'], {env: sandbox.env})).stdout.trim();
	const images = await moat(['system', 'images'], {env: sandbox.env});
	t.is(images.code, 0, images.stderr);
	t.regex(images.stdout, /^IMAGE\s+ID\s+BASE\s+SIZE\s+AGE$/m);
	t.regex(images.stdout, /^moat\/run:[\da-f]{16}\s/m);
	t.false(/^ubuntu:22\.04\s/m.test(images.stdout), 'base images are not moat\'s');

	const containers = await moat(['system', 'containers'], {env: sandbox.env});
	t.is(containers.code, 0, containers.stderr);
	t.regex(containers.stdout, new RegExp(`${runId}\\s+listed\\s+running`));
	const bad = await moat(['system', 'volumes'], {env: sandbox.env});
	t.is(bad.code, 2);
});

dockerTest('a grant named in agent.yaml runs once it is passed with --grant, and the workspace remembers it', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'grants:\n  - github\n'});
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	const env = {...sandbox.env, MOAT_KEYRING_BACKEND: 'file'};
	t.is((await moat(['grant', 'github', '--no-validate'], {env: {...env, GITHUB_TOKEN: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', PATH: '/usr/bin:/bin'}})).code, 0);
	t.is((await moat(['run', workspace, '--', 'true'], {env})).code, 2, 'not yet allowed');
	const allowed = await moat(['run', workspace, '--grant', 'github', '--', 'true'], {env});
	t.is(allowed.code, 0, allowed.stderr);
	const remembered = await moat(['run', workspace, '--', 'true'], {env});
	t.is(remembered.code, 0, remembered.stderr);
});

dockerTest('on a terminal, moat asks before using what agent.yaml asks for, and a no is not remembered', async t => {
	const {TmuxSession} = await import('../helpers/tmux.js');
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'base_image: debian:bookworm-slim\n'});
	const session = await TmuxSession.start(['run', workspace, '--', 'true'], {env: sandbox.env, columns: 220});
	t.teardown(async () => {
		await session.kill();
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	await session.waitFor(/asks for the base image debian:bookworm-slim@sha256:[\da-f]{64}\. Allow it for this workspace\? \[y\/N\]/);
	await session.type('n');
	await session.keys('Enter');
	t.is(await session.exitCode(), 2);
	t.regex(await session.screen(), /Not allowed: the base image debian:bookworm-slim@sha256:[\da-f]{64}\./);
	const trust = JSON.parse(await fs.readFile(`${sandbox.moatHome}/trust.json`, 'utf8').catch(() => '{}')) as Record<string, unknown>;
	t.deepEqual(trust, {}, 'a no is not remembered');
});
