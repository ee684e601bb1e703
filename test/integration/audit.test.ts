import {createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {makeBundle, type AuditBundle} from '../../source/audit/audit-bundle.js';
import {checkpointMessage, entryLeaves, keyFingerprint, makeEntry, verifyLog, type AuditEntry, type Checkpoint} from '../../source/audit/audit-chain.js';
import {createAuditLog, witnessFile} from '../../source/audit/audit-log.js';
import {makeWitnessEntry, witnessedCheckpoint} from '../../source/audit/audit-witness.js';
import {treeRoot} from '../../source/audit/merkle.js';
import type {RunMetadata, RunState} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, moat, readJson, type Sandbox} from '../helpers/moat.js';
import {until} from '../helpers/deadline.js';

async function setUp(t: {teardown(fn: () => Promise<void>): void}): Promise<{sandbox: Sandbox; workspace: string}> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		// A test that moved MOAT_HOME away may have failed before moving it back.
		await fs.rename(movedHome(sandbox), sandbox.moatHome).catch(() => undefined);
		const result = await moat(['list', '--json'], {env: sandbox.env});
		for (const run of JSON.parse(result.stdout || '[]') as RunMetadata[]) {
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

dockerTest('moat audit says a finished run\'s log is sealed, the witness holding its final checkpoint, and its exported bundle verifies as sealed offline, pinned to the printed key or not, but not to another key', async t => {
	const {sandbox, workspace} = await setUp(t);
	const ran = await moat(['run', workspace, '--', 'echo', 'hi'], {env: sandbox.env});
	t.is(ran.code, 0, ran.stderr);
	t.is(ran.stdout, 'hi\n');
	const runId = await newestRunId(sandbox);

	const audited = await moat(['audit'], {env: sandbox.env});
	t.is(audited.code, 0, audited.stderr);
	t.regex(audited.stdout, new RegExp(`^Audit log of ${runId} \\(\\S+\\): 3 entries, 2 signed checkpoints\\n`));
	t.regex(audited.stdout, /^ {2}run\.created +1$/m);
	t.regex(audited.stdout, /^ {2}run\.started +1$/m);
	t.regex(audited.stdout, /^ {2}run\.exited +1$/m);
	t.regex(audited.stdout, /^Witness: holds its final checkpoint of 3 entries \(root [\da-f]{16}…\)\.$/m);
	t.regex(audited.stdout, /^Sealed: the log ends with run\.exited under a signed checkpoint, and the chain, the Merkle tree and every signature hold\.$/m);
	t.notRegex(audited.stdout, /^(Verified|NOT)/m);
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
	t.regex(unpinned.stdout, /^Sealed:/m);

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
	t.notRegex(audited.stdout, /^(Verified|Sealed)/m);
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
	t.regex(audited.stdout, /: 4 entries, 2 signed checkpoints\n/);
	t.regex(audited.stdout, /^ {2}run\.stopped +1$/m);
	t.regex(audited.stdout, /^ {2}run\.exited +1$/m);
	t.regex(audited.stdout, /^Sealed:/m);
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

/** Writes a run's metadata.json as moat would, with no container behind it. */
async function writeRun(sandbox: Sandbox, id: string, name: string, state: RunState): Promise<void> {
	const run: RunMetadata = {
		id,
		name,
		workspace: '/nowhere',
		agent: null,
		image: 'moat/run:0000',
		command: ['true'],
		grants: [],
		ports: {},
		mounts: [],
		environmentNames: [],
		containerId: null,
		state,
		interactive: false,
		keep: false,
		createdAt: '2025-01-01T00:00:00.000Z',
		startedAt: '2025-01-01T00:00:01.000Z',
		stoppedAt: state === 'stopped' ? '2025-01-01T00:00:02.000Z' : null,
		exitCode: state === 'stopped' ? 0 : null,
		error: null,
		stopRequested: false,
	};
	await fs.mkdir(path.join(sandbox.moatHome, 'runs', id), {recursive: true});
	await fs.writeFile(path.join(sandbox.moatHome, 'runs', id, 'metadata.json'), JSON.stringify(run));
}

test('moat audit of a run that has no audit log exits 1 saying so', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const runId = 'run_00000000abcd';
	await writeRun(sandbox, runId, 'old-run', 'stopped');

	const audited = await moat(['audit', 'old-run'], {env: sandbox.env});
	t.is(audited.code, 1);
	t.is(audited.stderr, `moat: Run ${runId} has no audit log.\nRuns started by this version of moat keep one; older runs do not.\n`);
	t.is(audited.stdout, '');
});

/** A run's log of three sealed entries and two recorded after the checkpoint. */
async function logWithUnsignedTail(sandbox: Sandbox, runId: string): Promise<void> {
	const log = createAuditLog(sandbox.moatHome);
	await log.record(runId, 'run.created', {});
	await log.record(runId, 'run.started', {containerId: 'c0ffee'});
	await log.record(runId, 'credential.injected', {grant: 'github'});
	await log.seal(runId);
	await log.record(runId, 'terminal.attached', {});
	await log.record(runId, 'terminal.detached', {});
}

test('moat audit of a running run says it is open and whole so far, and how many newest entries are chained but not yet signed', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const runId = 'run_00000000a001';
	await writeRun(sandbox, runId, 'live-run', 'running');
	await logWithUnsignedTail(sandbox, runId);

	const audited = await moat(['audit', runId], {env: sandbox.env});
	t.is(audited.code, 0, audited.stdout + audited.stderr);
	t.regex(audited.stdout, /^Audit log of run_00000000a001 \(live-run\): 5 entries, 1 signed checkpoint$/m);
	t.regex(audited.stdout, /^2 newest entries are chained but not yet signed \(the run is still going\)\.\nWitness: nothing yet \(a run is witnessed when it is sealed\)\.\nOpen, whole so far: the run is still going; the chain, the Merkle tree and every signature hold\.$/m);
});

test('moat audit of a stopped run whose newest entries no checkpoint covers exits 1 naming the first of them', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const runId = 'run_00000000a002';
	await writeRun(sandbox, runId, 'ended-run', 'stopped');
	await logWithUnsignedTail(sandbox, runId);

	const audited = await moat(['audit', runId], {env: sandbox.env});
	t.is(audited.code, 1, audited.stdout + audited.stderr);
	t.regex(audited.stdout, /^NOT VERIFIED: entry 3: the run has ended, yet no signed checkpoint covers it \(it was added afterwards\)\.$/m);
	t.notRegex(audited.stdout, /not yet signed/);
	t.notRegex(audited.stdout, /^(Verified|Sealed)/m);
});

for (const line of ['null', 'garbage']) {
	test(`moat audit exits 1 naming the entry when a middle line of entries.jsonl is replaced by ${line}`, async t => {
		const sandbox = await createSandbox();
		t.teardown(async () => sandbox.cleanup());
		const runId = 'run_00000000a003';
		await writeRun(sandbox, runId, 'broken-run', 'stopped');
		const log = createAuditLog(sandbox.moatHome);
		for (const type of ['run.created', 'run.started', 'run.exited']) {
			await log.record(runId, type, {});
		}

		await log.seal(runId);
		const file = entriesFile(sandbox, runId);
		const lines = (await fs.readFile(file, 'utf8')).split('\n');
		lines[1] = line;
		await fs.writeFile(file, lines.join('\n'));

		const audited = await moat(['audit', runId], {env: sandbox.env});
		t.is(audited.code, 1, audited.stdout + audited.stderr);
		t.regex(audited.stdout, /: 3 entries, 1 signed checkpoint$/m);
		t.regex(audited.stdout, /^NOT VERIFIED: entry 1: it is not an audit entry \(a field is missing or of the wrong type\)\.$/m);
	});
}

test('moat audit prints a run name with control characters escaped, with no raw escape or newline from it', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const runId = 'run_00000000a004';
	await writeRun(sandbox, runId, 'evil\n\u001B[8mname', 'stopped');
	const log = createAuditLog(sandbox.moatHome);
	await log.record(runId, 'run.created', {});
	await log.record(runId, 'run.exited', {});
	await log.seal(runId);

	const audited = await moat(['audit', runId], {env: sandbox.env});
	t.is(audited.code, 0, audited.stdout + audited.stderr);
	t.false(audited.stdout.includes('\u001B'));
	t.regex(audited.stdout, /^Audit log of run_00000000a004 \(evil\\n\\x1b\[8mname\): 2 entries, 1 signed checkpoint\n/);
});

/** A bundle of three entries signed by a fresh key, with checkpoints for `checkpointRunId`. */
function signedBundle(bundleRunId: string, checkpointRunId: string, types: readonly string[] = ['run.created', 'run.started', 'run.exited']): AuditBundle {
	const {privateKey, publicKey} = generateKeyPairSync('ed25519');
	const entries: AuditEntry[] = [];
	for (const type of types) {
		entries.push(makeEntry(entries.at(-1), `2025-01-01T00:00:0${entries.length}.000Z`, type, {}));
	}

	const unsigned = {runId: checkpointRunId, treeSize: entries.length, rootHash: treeRoot(entryLeaves(entries)).toString('hex'), ts: '2025-01-01T00:01:00.000Z'};
	const checkpoint: Checkpoint = {...unsigned, keyFingerprint: keyFingerprint(publicKey), signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64')};
	return JSON.parse(JSON.stringify(makeBundle(bundleRunId, publicKey.export({type: 'spki', format: 'pem'}).toString(), entries, [checkpoint]))) as AuditBundle;
}

async function verifyBundleFile(t: {teardown(fn: () => Promise<void>): void}, bundle: AuditBundle) {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const file = path.join(path.dirname(sandbox.moatHome), 'bundle.json');
	await fs.writeFile(file, JSON.stringify(bundle));
	return moat(['verify-bundle', file], {env: sandbox.env});
}

test('moat verify-bundle of a bundle moved to another run (its runId changed) exits 1 naming the checkpoint\'s run', async t => {
	const bundle = signedBundle('run_00000000b001', 'run_00000000b001');
	t.is((await verifyBundleFile(t, bundle)).code, 0);
	bundle.runId = 'run_00000000b002';
	const result = await verifyBundleFile(t, bundle);
	t.is(result.code, 1, result.stdout + result.stderr);
	t.regex(result.stdout, /^Bundle for run_00000000b002: 3 entries, 1 signed checkpoint$/m);
	t.regex(result.stdout, /^NOT VERIFIED: checkpoint 0 \(size 3\): it is for run run_00000000b001, not run_00000000b002\.$/m);
});

const evilRunId = 'run_x\n\u001B[8mhidden';

test('moat verify-bundle prints a runId and entry type with a newline and an escape sequence escaped, with no raw ESC or newline from them', async t => {
	const result = await verifyBundleFile(t, signedBundle(evilRunId, evilRunId, ['run.created', 'evil\u001B[2J\ntype', 'run.exited']));
	t.is(result.code, 0, result.stdout + result.stderr);
	t.false(result.stdout.includes('\u001B'));
	t.deepEqual(result.stdout.split('\n'), [
		String.raw`Bundle for run_x\n\x1b[8mhidden: 3 entries, 1 signed checkpoint`,
		String.raw`  evil\x1b[2J\ntype      1`,
		'  run.created            1',
		'  run.exited             1',
		result.stdout.split('\n')[4]!,
		'Origin: not pinned (pass --key FINGERPRINT to prove who signed it).',
		'Sealed: the log ends with run.exited under a signed checkpoint, and the chain, the Merkle tree and every signature hold.',
		'',
	]);
	t.regex(result.stdout.split('\n')[4]!, /^Signing key SHA256:[\w+/]{43}$/);
});

test('moat verify-bundle prints a failure reason quoting a runId with a newline and an escape sequence with them escaped', async t => {
	const result = await verifyBundleFile(t, signedBundle(evilRunId, 'run_00000000b003'));
	t.is(result.code, 1, result.stdout + result.stderr);
	t.false(result.stdout.includes('\u001B'));
	t.regex(result.stdout, /^Bundle for run_x\\n\\x1b\[8mhidden: 3 entries, 1 signed checkpoint$/m);
	t.regex(result.stdout, /^NOT VERIFIED: checkpoint 0 \(size 3\): it is for run run_00000000b003, not run_x\\n\\x1b\[8mhidden\.$/m);
	t.is(result.stdout.split('\n').length, 8, 'seven lines and the final newline: the runId adds none');
});

test('moat verify-bundle prints a checkpoint\'s key fingerprint with control characters escaped when it names it in a failure', async t => {
	const bundle = signedBundle('run_00000000b004', 'run_00000000b004');
	bundle.checkpoints[0]!.keyFingerprint = 'SHA256:forged\u001B]0;title\u0007';
	const result = await verifyBundleFile(t, bundle);
	t.is(result.code, 1, result.stdout + result.stderr);
	t.false(result.stdout.includes('\u001B'));
	t.false(result.stdout.includes('\u0007'));
	t.regex(result.stdout, /^NOT VERIFIED: checkpoint 0 \(size 3\): it was signed by SHA256:forged\\x1b\]0;title\\x07, not by this log's key SHA256:\S+\.$/m);
});

// JSON.parse's message quotes the start of the file, newline included; the
// error must still be one line saying what is wrong and one saying what to do.
test('moat verify-bundle on a garbage file that ends in a newline prints exactly two lines', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const garbage = path.join(path.dirname(sandbox.moatHome), 'garbage.json');
	await fs.writeFile(garbage, 'garbage\n');
	const result = await moat(['verify-bundle', garbage], {env: sandbox.env});
	t.is(result.code, 2);
	t.is(result.stderr.trimEnd().split('\n').length, 2, result.stderr);
});

dockerTest('a run\'s blocked requests are audited by the daemon, and kill -9 of the daemon mid-write leaves a log that verifies up to its last complete entry', async t => {
	const {sandbox, workspace} = await setUp(t);
	await fs.writeFile(path.join(workspace, 'agent.yaml'), 'network:\n  policy: strict\n  allow: ["*.allowed.test"]\n');
	// Each request is refused by policy: a stream of request.blocked entries, written by the daemon.
	const started = await moat(['run', workspace, '-d', '--', 'sh', '-c', 'i=0; while [ $i -lt 400 ]; do curl -s -o /dev/null http://blocked$i.test/; i=$((i+1)); done; echo finished'], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	const file = entriesFile(sandbox, runId);
	const count = async () => (await fs.readFile(file, 'utf8').catch(() => '')).split('\n').filter(line => line.includes('"request.blocked"')).length;
	// The daemon audits blocked requests as they happen.
	await until(async () => await count() >= 20, 'twenty request.blocked entries in the audit log');
	const pid = Number(await fs.readFile(path.join(sandbox.moatHome, 'daemon.lock'), 'utf8'));
	process.kill(pid, 'SIGKILL');
	// Whatever the kill cut off, the log verifies as far as it is whole.
	const audited = await moat(['audit', runId], {env: sandbox.env});
	t.is(audited.code, 0, audited.stdout + audited.stderr);
	t.regex(audited.stdout, /^ {2}request\.blocked +\d+$/m);
	t.regex(audited.stdout, /^Open, whole so far:/m);
	const entries = (await fs.readFile(file, 'utf8')).split('\n').filter(line => line.trim() !== '').flatMap(line => {
		try {
			return [JSON.parse(line) as AuditEntry];
		} catch {
			return [];
		}
	});
	const blocked = entries.find(entry => entry.type === 'request.blocked');
	t.like(blocked?.data, {reason: 'Host "blocked0.test" is not in the allow list.'});
	t.true(/^blocked\d+\.test$/.test(String(blocked?.data.host)));
	await moat(['stop', runId], {env: sandbox.env});
});

const checkpointsFile = (sandbox: Sandbox, runId: string) => path.join(sandbox.moatHome, 'runs', runId, 'audit', 'checkpoints.jsonl');
const readLines = async (file: string) => (await fs.readFile(file, 'utf8')).trimEnd().split('\n');

/**
 * A real detached run under a strict policy that makes 5 blocked requests
 * and ends, finished and sealed by the daemon: its log is run.created,
 * run.started, 5 request.blocked, run.exited. The requests wait for the
 * test's go-ahead, so run.started (and its checkpoint) come first.
 */
async function sealedRun(t: ExecutionContext): Promise<{sandbox: Sandbox; runId: string}> {
	const {sandbox, workspace} = await setUp(t);
	await fs.writeFile(path.join(workspace, 'agent.yaml'), 'network:\n  policy: strict\n  allow: ["*.allowed.test"]\n');
	const started = await moat(['run', workspace, '-d', '--', 'sh', '-c', 'until [ -e /workspace/go ]; do sleep 0.1; done; for i in 1 2 3 4 5; do curl -s -o /dev/null http://blocked$i.test/; done'], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	await fs.writeFile(path.join(workspace, 'go'), '');
	const log = createAuditLog(sandbox.moatHome);
	await until(async () => witnessedCheckpoint(await log.readWitness(), runId) !== undefined, 'the witness holding the run\'s final checkpoint');
	const types = (await log.read(runId)).entries.map(entry => entry.type);
	t.deepEqual(types, ['run.created', 'run.started', ...Array.from({length: 5}, () => 'request.blocked'), 'run.exited']);
	t.deepEqual((await log.read(runId)).checkpoints.map(checkpoint => checkpoint.treeSize), [2, 8]);
	return {sandbox, runId};
}

const fingerprintOf = (stdout: string) => /^Signing key (SHA256:[\w+/]{43})$/m.exec(stdout)?.[1];

dockerTest('a stopped run\'s log cut back to its first 2 entries, later checkpoints dropped (issue 18), is NOT SEALED in moat audit, naming what is missing, and so is a bundle cut the same way with --key pinned', async t => {
	const {sandbox, runId} = await sealedRun(t);
	const intact = await moat(['audit', runId], {env: sandbox.env});
	t.is(intact.code, 0, intact.stdout + intact.stderr);
	t.regex(intact.stdout, /^ {2}request\.blocked +5$/m);
	t.regex(intact.stdout, /^Sealed:/m);
	const fingerprint = fingerprintOf(intact.stdout)!;
	const bundleFile = path.join(path.dirname(sandbox.moatHome), 'bundle.json');
	t.is((await moat(['audit', runId, '--export', bundleFile], {env: sandbox.env})).code, 0);

	// The attack: the first 2 entries kept, the checkpoints over later ones dropped.
	const entryLines = await readLines(entriesFile(sandbox, runId));
	await fs.writeFile(entriesFile(sandbox, runId), entryLines.slice(0, 2).join('\n') + '\n');
	const checkpointLines = await readLines(checkpointsFile(sandbox, runId));
	await fs.writeFile(checkpointsFile(sandbox, runId), checkpointLines.filter(line => (JSON.parse(line) as Checkpoint).treeSize <= 2).join('\n') + '\n');
	const cut = await moat(['audit', runId], {env: sandbox.env});
	t.is(cut.code, 1, cut.stdout + cut.stderr);
	t.regex(cut.stdout, /: 2 entries, 1 signed checkpoint$/m);
	t.regex(cut.stdout, /^NOT SEALED: the end of the log: it stops at entry 1 \(run\.started\): run\.exited and the signed checkpoint over it are missing \(the log was cut back, or read before the run sealed it\)\.$/m);
	t.regex(cut.stdout, /^Witness: holds its final checkpoint of 8 entries \(root [\da-f]{16}…\)\.$/m);
	t.notRegex(cut.stdout, /^(Verified|Sealed)/m);

	// The bundle, cut the same way, its inclusion proofs made again for what is left.
	const bundle = await readJson<AuditBundle>(bundleFile);
	t.is((await moat(['verify-bundle', bundleFile, '--key', fingerprint], {env: sandbox.env})).code, 0);
	const cutBundle = makeBundle(runId, bundle.publicKey, bundle.entries.slice(0, 2), bundle.checkpoints.filter(checkpoint => checkpoint.treeSize <= 2));
	await fs.writeFile(bundleFile, JSON.stringify(cutBundle));
	const pinned = await moat(['verify-bundle', bundleFile, '--key', fingerprint], {env: sandbox.env});
	t.is(pinned.code, 1, pinned.stdout + pinned.stderr);
	t.regex(pinned.stdout, /^Origin: signed by the pinned key\.$/m);
	t.regex(pinned.stdout, /^NOT SEALED: the end of the log: it stops at entry 1 \(run\.started\): run\.exited and the signed checkpoint over it are missing/m);
	t.notRegex(pinned.stdout, /^(Verified|Sealed)/m);
});

/** Signs a checkpoint over `entries` with `key`, as the audit log does. */
function signWith(key: KeyObject, runId: string, entries: readonly AuditEntry[], ts: string): Checkpoint {
	const unsigned = {runId, treeSize: entries.length, rootHash: treeRoot(entryLeaves(entries)).toString('hex'), ts};
	return {...unsigned, keyFingerprint: keyFingerprint(createPublicKey(key)), signature: sign(null, checkpointMessage(unsigned), key).toString('base64')};
}

const jsonLines = (values: readonly unknown[]) => values.map(value => JSON.stringify(value)).join('\n') + '\n';

dockerTest('the witness catches a run cut back to an earlier validly signed prefix (record set back to running), and one rewritten and re-signed with the key in MOAT_HOME; a witness rewritten too is caught only by its head pinned elsewhere', async t => {
	const {sandbox, runId} = await sealedRun(t);
	const witnessed = await moat(['audit', '--witness'], {env: sandbox.env});
	t.is(witnessed.code, 0, witnessed.stdout + witnessed.stderr);
	t.regex(witnessed.stdout, /^Witness log .*audit-witness\.jsonl: 1 sealed runs$/m);
	const pinnedHead = /^Head 0 ([\da-f]{64})$/m.exec(witnessed.stdout)?.[1];
	t.truthy(pinnedHead, witnessed.stdout);
	t.is((await moat(['audit', '--witness', '--head', pinnedHead!], {env: sandbox.env})).code, 0);

	const log = createAuditLog(sandbox.moatHome);
	const original = await log.read(runId);
	const metadataFile = path.join(sandbox.moatHome, 'runs', runId, 'metadata.json');
	const metadata = await readJson<RunMetadata>(metadataFile);

	// 1. Cut back to the first checkpoint's prefix, a log that verifies on its
	// own as a live run's, and the record set back to running to match.
	const prefix = original.entries.slice(0, original.checkpoints[0]!.treeSize);
	t.true(verifyLog(prefix, original.checkpoints.slice(0, 1), await log.publicKeyPem(), {runId, sealed: false}).ok);
	await fs.writeFile(entriesFile(sandbox, runId), jsonLines(prefix));
	await fs.writeFile(checkpointsFile(sandbox, runId), jsonLines(original.checkpoints.slice(0, 1)));
	await fs.writeFile(metadataFile, JSON.stringify({...metadata, state: 'running', stoppedAt: null, exitCode: null}));
	const prefixAudit = await moat(['audit', runId], {env: sandbox.env});
	t.is(prefixAudit.code, 1, prefixAudit.stdout + prefixAudit.stderr);
	t.regex(prefixAudit.stdout, /^Witness: holds its final checkpoint of 8 entries/m);
	t.regex(prefixAudit.stdout, /^NOT SEALED: the end of the log: it stops at entry 1 \(run\.started\)/m);
	t.notRegex(prefixAudit.stdout, /^(Verified|Sealed|Open)/m);
	await fs.writeFile(metadataFile, JSON.stringify(metadata));

	// 2. With the signing key from MOAT_HOME: the blocked requests taken out,
	// the chain rebuilt and every checkpoint signed again. On its own the log is sealed.
	const key = createPrivateKey(await fs.readFile(path.join(sandbox.moatHome, 'audit-signing-key.pem'), 'utf8'));
	const forged: AuditEntry[] = [];
	for (const entry of original.entries.filter(entry => entry.type !== 'request.blocked')) {
		forged.push(makeEntry(forged.at(-1), entry.ts, entry.type, entry.data));
	}

	const forgedCheckpoints = [signWith(key, runId, forged.slice(0, 2), original.checkpoints[0]!.ts), signWith(key, runId, forged, original.checkpoints[1]!.ts)];
	t.is(verifyLog(forged, forgedCheckpoints, await log.publicKeyPem(), {runId, sealed: true}).state, 'sealed');
	await fs.writeFile(entriesFile(sandbox, runId), jsonLines(forged));
	await fs.writeFile(checkpointsFile(sandbox, runId), jsonLines(forgedCheckpoints));
	const rewritten = await moat(['audit', runId], {env: sandbox.env});
	t.is(rewritten.code, 1, rewritten.stdout + rewritten.stderr);
	t.regex(rewritten.stdout, /^NOT SEALED: the log: the witness holds its final checkpoint of 8 entries \(root [\da-f]{16}…\), but the log has 3: it was cut back\.$/m);
	t.notRegex(rewritten.stdout, /^(Verified|Sealed)/m);

	// 3. The witness rebuilt to hold the forged checkpoint instead: moat
	// audit of the run cannot tell (all of MOAT_HOME was rewritten), but the
	// head pinned before is gone from the witness.
	await fs.writeFile(witnessFile(sandbox.moatHome), jsonLines([makeWitnessEntry(undefined, new Date().toISOString(), forgedCheckpoints[1]!)]));
	const fooled = await moat(['audit', runId], {env: sandbox.env});
	t.is(fooled.code, 0, fooled.stdout + fooled.stderr);
	t.regex(fooled.stdout, /^Sealed:/m);
	const unpinned = await moat(['audit', '--witness'], {env: sandbox.env});
	t.is(unpinned.code, 0, unpinned.stdout + unpinned.stderr);
	t.notRegex(unpinned.stdout, new RegExp(pinnedHead!));
	const pinned = await moat(['audit', '--witness', '--head', pinnedHead!], {env: sandbox.env});
	t.is(pinned.code, 1, pinned.stdout + pinned.stderr);
	t.regex(pinned.stdout, new RegExp(`^NOT VERIFIED: the pinned head: no witness entry has the hash ${pinnedHead!}: the witness was cut back or rewritten since it was pinned\\.$`, 'm'));
});

test('moat audit --head without --witness, --head that is not a head, and --witness with a run are usage errors (exit 2)', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const withoutWitness = await moat(['audit', '--head', 'a'.repeat(64)], {env: sandbox.env});
	t.is(withoutWitness.code, 2, withoutWitness.stderr);
	t.regex(withoutWitness.stderr, /^Run moat audit --witness --head HASH\.$/m);
	const notAHead = await moat(['audit', '--witness', '--head', 'xyz'], {env: sandbox.env});
	t.is(notAHead.code, 2, notAHead.stderr);
	t.regex(notAHead.stderr, /^moat: --head xyz is not a witness head\.$/m);
	const withRun = await moat(['audit', '--witness', 'run_000000000000'], {env: sandbox.env});
	t.is(withRun.code, 2, withRun.stderr);
	t.regex(withRun.stderr, /takes no run/);
});

test('moat audit --witness on a home with no sealed run verifies an empty witness with no head', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const result = await moat(['audit', '--witness'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /: 0 sealed runs\nHead: none \(no run has been sealed yet\)\nVerified: the chain holds\./);
});
