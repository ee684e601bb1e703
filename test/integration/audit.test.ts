import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type {AuditBundle} from '../../source/audit/audit-bundle.js';
import type {AuditEntry} from '../../source/audit/audit-chain.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, moat, readJson, type Sandbox} from '../helpers/moat.js';

async function setUp(t: {teardown(fn: () => Promise<void>): void}): Promise<{sandbox: Sandbox; workspace: string}> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		// A test that moved MOAT_HOME away may have failed before moving it back.
		await fs.rename(movedHome(sandbox), sandbox.moatHome).catch(() => undefined);
		const result = await moat(['list', '--json'], {env: sandbox.env});
		for (const run of JSON.parse(result.stdout || '[]') as RunMetadata[]) {
			// eslint-disable-next-line no-await-in-loop
			await moat(['destroy', '-f', run.id], {env: sandbox.env});
		}

		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {sandbox, workspace};
}

const movedHome = (sandbox: Sandbox) => `${sandbox.moatHome}-moved`;
const entriesFile = (sandbox: Sandbox, runId: string) => path.join(sandbox.moatHome, 'runs', runId, 'audit', 'entries.jsonl');

async function newestRunId(sandbox: Sandbox): Promise<string> {
	const result = await moat(['list', '--json'], {env: sandbox.env});
	const runs = JSON.parse(result.stdout) as RunMetadata[];
	return runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]!.id;
}

dockerTest('moat audit verifies a finished run\'s log, and its exported bundle verifies offline, pinned to the printed key or not, but not to another key', async t => {
	const {sandbox, workspace} = await setUp(t);
	const ran = await moat(['run', workspace, '--', 'echo', 'hi'], {env: sandbox.env});
	t.is(ran.code, 0, ran.stderr);
	t.is(ran.stdout, 'hi\n');
	const runId = await newestRunId(sandbox);

	const audited = await moat(['audit'], {env: sandbox.env});
	t.is(audited.code, 0, audited.stderr);
	t.regex(audited.stdout, new RegExp(`^Audit log of ${runId} \\(\\S+\\): 3 entries, 1 signed checkpoints\\n`));
	t.regex(audited.stdout, /^ {2}run\.created +1$/m);
	t.regex(audited.stdout, /^ {2}run\.started +1$/m);
	t.regex(audited.stdout, /^ {2}run\.exited +1$/m);
	t.regex(audited.stdout, /^Verified: the chain, the Merkle tree and every signature hold\.$/m);
	const fingerprint = /^Signing key (SHA256:[\w+/]{43})$/m.exec(audited.stdout)?.[1];
	t.truthy(fingerprint, audited.stdout);

	const bundleFile = path.join(path.dirname(sandbox.moatHome), 'bundle.json');
	const exported = await moat(['audit', runId, '--export', bundleFile], {env: sandbox.env});
	t.is(exported.code, 0, exported.stderr);
	t.regex(exported.stderr, /Wrote the proof bundle to .*bundle\.json\./);
	const bundle = await readJson<AuditBundle>(bundleFile);
	t.is(bundle.format, 'moat-audit-bundle/1');
	t.is(bundle.runId, runId);
	t.deepEqual(bundle.entries.map(entry => entry.type), ['run.created', 'run.started', 'run.exited']);
	t.is(bundle.proofs.length, 3);

	// Nothing but the file: the key and the run's log are out of reach.
	await fs.rename(sandbox.moatHome, movedHome(sandbox));
	const unpinned = await moat(['verify-bundle', bundleFile], {env: sandbox.env});
	t.is(unpinned.code, 0, unpinned.stderr + unpinned.stdout);
	t.regex(unpinned.stdout, /^Origin: not pinned/m);
	t.regex(unpinned.stdout, /^Verified:/m);

	const pinned = await moat(['verify-bundle', bundleFile, '--key', fingerprint!], {env: sandbox.env});
	t.is(pinned.code, 0, pinned.stderr + pinned.stdout);
	t.regex(pinned.stdout, /^Origin: signed by the pinned key\.$/m);

	const otherKey = await moat(['verify-bundle', bundleFile, '--key', 'SHA256:other'], {env: sandbox.env});
	t.is(otherKey.code, 1, otherKey.stderr);
	t.regex(otherKey.stdout, /^NOT VERIFIED: the signing key: it is SHA256:\S+, not the pinned SHA256:other\.$/m);
	await fs.rename(movedHome(sandbox), sandbox.moatHome);
});

dockerTest('changing one byte of an entry\'s data in entries.jsonl makes moat audit exit 1 naming that entry', async t => {
	const {sandbox, workspace} = await setUp(t);
	t.is((await moat(['run', workspace, '--', 'true'], {env: sandbox.env})).code, 0);
	const runId = await newestRunId(sandbox);
	const file = entriesFile(sandbox, runId);
	const lines = (await fs.readFile(file, 'utf8')).split('\n');
	const started = JSON.parse(lines[1]!) as AuditEntry;
	t.is(started.type, 'run.started');
	// One hex digit of the container id, so the line is still valid JSON.
	const at = lines[1]!.indexOf('"containerId":"') + '"containerId":"'.length;
	lines[1] = lines[1]!.slice(0, at) + (lines[1]![at] === 'a' ? 'b' : 'a') + lines[1]!.slice(at + 1);
	await fs.writeFile(file, lines.join('\n'));

	const audited = await moat(['audit', runId], {env: sandbox.env});
	t.is(audited.code, 1, audited.stderr);
	t.regex(audited.stdout, /^NOT VERIFIED: entry 1: its contents do not match its hash \(it was changed\)\.$/m);
	t.notRegex(audited.stdout, /^Verified/m);
});

dockerTest('a detached run stopped with moat stop logs run.stopped then run.exited, sealed by a checkpoint', async t => {
	const {sandbox, workspace} = await setUp(t);
	const started = await moat(['run', workspace, '-d', '--', 'sleep', '300'], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	const stopped = await moat(['stop', runId], {env: sandbox.env});
	t.is(stopped.code, 0, stopped.stderr);

	const audited = await moat(['audit', runId], {env: sandbox.env});
	t.is(audited.code, 0, audited.stdout + audited.stderr);
	t.regex(audited.stdout, /: 4 entries, 1 signed checkpoints\n/);
	t.regex(audited.stdout, /^ {2}run\.stopped +1$/m);
	t.regex(audited.stdout, /^ {2}run\.exited +1$/m);
	t.regex(audited.stdout, /^Verified:/m);
	const entries = (await fs.readFile(entriesFile(sandbox, runId), 'utf8')).trimEnd().split('\n').map(line => JSON.parse(line) as AuditEntry);
	t.deepEqual(entries.map(entry => entry.type), ['run.created', 'run.started', 'run.stopped', 'run.exited']);
	t.deepEqual(entries[2]!.data, {requestedBy: 'user'});
	t.is(entries[3]!.data.state, 'stopped');
});

test('moat verify-bundle exits 2 with a clear message for a missing file, a file that is not JSON, JSON that is not a bundle, and no file', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const directory = path.dirname(sandbox.moatHome);

	const missing = await moat(['verify-bundle', path.join(directory, 'missing.json')], {env: sandbox.env});
	t.is(missing.code, 2);
	t.regex(missing.stderr, /^moat: Cannot read .*missing\.json as a bundle: ENOENT/m);
	t.regex(missing.stderr, /^Pass a file written by moat audit --export\.$/m);
	t.is(missing.stdout, '');

	const garbage = path.join(directory, 'garbage.json');
	await fs.writeFile(garbage, 'this is not json');
	const notJson = await moat(['verify-bundle', garbage], {env: sandbox.env});
	t.is(notJson.code, 2);
	t.regex(notJson.stderr, /^moat: Cannot read .*garbage\.json as a bundle: /m);
	t.regex(notJson.stderr, /^Pass a file written by moat audit --export\.$/m);
	t.notRegex(notJson.stderr, /\n\s+at /, 'no stack trace');

	const other = path.join(directory, 'other.json');
	await fs.writeFile(other, JSON.stringify({format: 'something-else/1'}));
	const notBundle = await moat(['verify-bundle', other], {env: sandbox.env});
	t.is(notBundle.code, 2);
	t.regex(notBundle.stderr, /^moat: .*other\.json is not a moat audit bundle \(its format is "something-else\/1"/m);

	const none = await moat(['verify-bundle'], {env: sandbox.env});
	t.is(none.code, 2);
	t.regex(none.stderr, /^moat: Name the bundle to verify\.$/m);
});

test('moat audit of a run that has no audit log exits 1 saying so', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const runId = 'run_00000000abcd';
	const run: RunMetadata = {
		id: runId,
		name: 'old-run',
		workspace: '/nowhere',
		agent: null,
		image: 'moat/run:0000',
		command: ['true'],
		grants: [],
		ports: {},
		mounts: [],
		environmentNames: [],
		containerId: null,
		state: 'stopped',
		interactive: false,
		keep: false,
		createdAt: '2025-01-01T00:00:00.000Z',
		startedAt: '2025-01-01T00:00:01.000Z',
		stoppedAt: '2025-01-01T00:00:02.000Z',
		exitCode: 0,
		error: null,
		stopRequested: false,
	};
	await fs.mkdir(path.join(sandbox.moatHome, 'runs', runId), {recursive: true});
	await fs.writeFile(path.join(sandbox.moatHome, 'runs', runId, 'metadata.json'), JSON.stringify(run));

	const audited = await moat(['audit', 'old-run'], {env: sandbox.env});
	t.is(audited.code, 1);
	t.is(audited.stderr, `moat: Run ${runId} has no audit log.\nRuns started by this version of moat keep one; older runs do not.\n`);
	t.is(audited.stdout, '');
});

// Known bug, reported: JSON.parse's message quotes the start of the file,
// newline included, so the "what is wrong" line breaks in two (SPEC §2: one
// line saying what is wrong, one saying what to do). Remove .failing once fixed.
test('moat verify-bundle on a garbage file that ends in a newline prints exactly two lines', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const garbage = path.join(path.dirname(sandbox.moatHome), 'garbage.json');
	await fs.writeFile(garbage, 'garbage\n');
	const result = await moat(['verify-bundle', garbage], {env: sandbox.env});
	t.is(result.code, 2);
	t.is(result.stderr.trimEnd().split('\n').length, 2, result.stderr);
});
