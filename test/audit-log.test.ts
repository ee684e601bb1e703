import {execFile} from 'node:child_process';
import {createPublicKey} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import {keyFingerprint, verifyLog, type AuditEntry, type Checkpoint} from '../source/audit/audit-chain.js';
import {checkpointEvery, createAuditLog, SealedLogError, witnessFile} from '../source/audit/audit-log.js';
import {verifyWitness, witnessedCheckpoint} from '../source/audit/audit-witness.js';

const execFileAsync = promisify(execFile);
const auditLogModule = fileURLToPath(new URL('../source/audit/audit-log.js', import.meta.url));
const runId = 'run_0123456789ab';

async function temporaryHome(t: ExecutionContext): Promise<string> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-audit-log-'));
	t.teardown(async () => {
		await fs.rm(root, {recursive: true, force: true});
	});
	return path.join(root, 'moat-home');
}

/** A clock that ticks one second per reading, so timestamps are distinct and known. */
function tickingClock(): () => Date {
	let tick = 0;
	return () => new Date(Date.UTC(2025, 0, 1, 0, 0, 0) + (tick++ * 1000));
}

const entriesFile = (home: string) => path.join(home, 'runs', runId, 'audit', 'entries.jsonl');
const checkpointsFile = (home: string) => path.join(home, 'runs', runId, 'audit', 'checkpoints.jsonl');

test(`record appends entries numbered 0..n and signs a checkpoint after every ${checkpointEvery}th; seal adds one over everything`, async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	const count = (checkpointEvery * 2) + 8;
	for (let index = 0; index < count; index++) {
		const entry = await log.record(runId, 'credential.injected', {grant: 'github', index});
		t.is(entry.seq, index);
	}

	let {entries, checkpoints} = await log.read(runId);
	t.deepEqual(entries.map(entry => entry.seq), Array.from({length: count}, (_, index) => index));
	t.deepEqual(entries.map(entry => entry.data.index), Array.from({length: count}, (_, index) => index));
	t.deepEqual(checkpoints.map(checkpoint => checkpoint.treeSize), [checkpointEvery, checkpointEvery * 2]);

	await log.seal(runId);
	({entries, checkpoints} = await log.read(runId));
	t.deepEqual(checkpoints.map(checkpoint => checkpoint.treeSize), [checkpointEvery, checkpointEvery * 2, count]);
	// Signed to the end, though not sealed: no run.exited.
	const verification = verifyLog(entries, checkpoints, await log.publicKeyPem(), {runId, sealed: false});
	t.true(verification.ok, JSON.stringify(verification.failure));
	t.is(verification.unsigned, 0);
	t.deepEqual(verification.countsByType, {'credential.injected': count});
	t.is(checkpoints[0]!.keyFingerprint, verification.keyFingerprint);
});

test('record returns the entry it wrote, exactly as it reads back', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	const first = await log.record(runId, 'run.created', {workspace: '/w'});
	const second = await log.record(runId, 'run.started', {containerId: 'c0ffee'});
	t.deepEqual((await log.read(runId)).entries, [first, second]);
	t.is(second.prev, first.hash);
	t.is(first.ts, '2025-01-01T00:00:00.000Z');
});

test('a run with no log reads as empty, and a run\'s log is kept apart from another run\'s', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	t.deepEqual(await log.read(runId), {entries: [], checkpoints: []});
	await log.record(runId, 'run.created', {});
	await log.record('run_ffffffffffff', 'run.created', {});
	t.is((await log.read('run_ffffffffffff')).entries[0]!.seq, 0);
	t.is((await log.read(runId)).entries.length, 1);
});

test('the signing key file is private (0600) and created once: two logs on the same home share it', async t => {
	const home = await temporaryHome(t);
	const first = createAuditLog(home, tickingClock());
	await first.record(runId, 'run.created', {});
	await first.seal(runId);
	const keyFile = path.join(home, 'audit-signing-key.pem');
	const before = await fs.stat(keyFile);
	t.is(before.mode & 0o777, 0o600);
	t.regex(await fs.readFile(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);

	const second = createAuditLog(home, tickingClock());
	await second.record('run_ffffffffffff', 'run.created', {});
	await second.seal('run_ffffffffffff');
	t.is(await second.publicKeyPem(), await first.publicKeyPem());
	const after = await fs.stat(keyFile);
	t.is(after.ino, before.ino);
	t.is(after.mtimeMs, before.mtimeMs);
	const fingerprint = keyFingerprint(createPublicKey(await first.publicKeyPem()));
	t.is((await second.read('run_ffffffffffff')).checkpoints[0]!.keyFingerprint, fingerprint);
	t.is((await first.read(runId)).checkpoints[0]!.keyFingerprint, fingerprint);
});

test('logs racing to create the signing key on a fresh home all end up with the same key', async t => {
	const home = await temporaryHome(t);
	const keys = await Promise.all(Array.from({length: 8}, async () => createAuditLog(home).publicKeyPem()));
	t.is(new Set(keys).size, 1);
	const leftovers = (await fs.readdir(home)).filter(name => name !== 'audit-signing-key.pem');
	t.deepEqual(leftovers, [], 'no temporary key files are left behind');
});

test('the audit files are private (0600) and their directory 0700', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home);
	await log.record(runId, 'run.created', {});
	await log.seal(runId);
	t.is((await fs.stat(entriesFile(home))).mode & 0o777, 0o600);
	t.is((await fs.stat(checkpointsFile(home))).mode & 0o777, 0o600);
	t.is((await fs.stat(path.dirname(entriesFile(home)))).mode & 0o777, 0o700);
});

test('concurrent record() calls in one process produce one unbroken chain', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home);
	await Promise.all(Array.from({length: 20}, async (_, index) => log.record(runId, 'request.blocked', {index})));
	const {entries, checkpoints} = await log.read(runId);
	t.is(entries.length, 20);
	t.is(new Set(entries.map(entry => entry.data.index)).size, 20);
	t.deepEqual(checkpoints, []);
	await log.seal(runId);
	const sealed = await log.read(runId);
	t.deepEqual(sealed.checkpoints.map(checkpoint => checkpoint.treeSize), [20]);
	const verification = verifyLog(sealed.entries, sealed.checkpoints, await log.publicKeyPem(), {runId, sealed: false});
	t.true(verification.ok, JSON.stringify(verification.failure));
	t.is(verification.unsigned, 0);
});

const writerScript = `
const [moduleFile, home, runId, writer, count] = process.argv.slice(1);
const {createAuditLog} = await import(moduleFile);
const log = createAuditLog(home);
for (let index = 0; index < Number(count); index++) {
	await log.record(runId, 'credential.injected', {writer: Number(writer), index});
}
`;

test('openWriter continues the chain after recorded entries, signs every checkpointEvery appends and on close, and holds the lock meanwhile', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {});
	await log.record(runId, 'run.started', {});
	const writer = await log.openWriter(runId);
	await t.throwsAsync(log.openWriter(runId), {message: `the audit log of ${runId} already has a writer`});
	const appended = Array.from({length: checkpointEvery + 3}, (_, index) => writer.append('request.blocked', {index}));
	t.is(appended[0]!.seq, 2);
	await writer.close();

	const {entries, checkpoints} = await log.read(runId);
	t.is(entries.length, checkpointEvery + 5);
	t.deepEqual(entries.slice(2), appended);
	t.deepEqual(checkpoints.map(checkpoint => checkpoint.treeSize), [checkpointEvery + 2, checkpointEvery + 5]);
	t.true(checkpoints.every(checkpoint => checkpoint.runId === runId));
	const verification = verifyLog(entries, checkpoints, await log.publicKeyPem(), {runId, sealed: false});
	t.true(verification.ok, JSON.stringify(verification.failure));
	t.is(verification.unsigned, 0);

	// Closed, the lock is free again for record().
	const next = await log.record(runId, 'run.exited', {});
	t.is(next.seq, checkpointEvery + 5);
	t.is(next.prev, appended.at(-1)!.hash);
});

/** What is wrong with one round of concurrent writers' log, if anything. */
async function checkConcurrentRound(home: string, round: number, writers: number, perWriter: number): Promise<string[]> {
	const roundRunId = `run_${String(round).padStart(12, '0')}`;
	await Promise.all(Array.from({length: writers}, async (_, writer) =>
		execFileAsync(process.execPath, ['--input-type=module', '-e', writerScript, auditLogModule, home, roundRunId, String(writer), String(perWriter)], {timeout: 120_000})));

	const problems: string[] = [];
	const log = createAuditLog(home);
	const {entries, checkpoints} = await log.read(roundRunId);
	const sequence = entries.map(entry => entry.seq);
	const repeated = sequence.filter((seq, index) => sequence.indexOf(seq) !== index);
	if (entries.length !== writers * perWriter || repeated.length > 0) {
		problems.push(`${entries.length} entries of ${writers * perWriter}, sequence numbers used twice: ${repeated.join(', ') || 'none'}`);
	}

	for (let writer = 0; writer < writers; writer++) {
		// Each writer's own events stay in the order it wrote them.
		const mine = entries.filter(entry => entry.data.writer === writer).map(entry => entry.data.index);
		if (JSON.stringify(mine) !== JSON.stringify(Array.from({length: perWriter}, (_, index) => index))) {
			problems.push(`writer ${writer}'s events are missing or out of order`);
		}
	}

	if (JSON.stringify(checkpoints.map(checkpoint => checkpoint.treeSize)) !== JSON.stringify([checkpointEvery])) {
		problems.push(`checkpoints at sizes ${checkpoints.map(checkpoint => checkpoint.treeSize).join(', ')}, expected ${checkpointEvery}`);
	}

	// The writers never sealed: the entries after the checkpoint are a live run's unsigned tail.
	const verification = verifyLog(entries, checkpoints, await log.publicKeyPem(), {runId: roundRunId, sealed: false});
	if (!verification.ok) {
		problems.push(`verifyLog: ${verification.failure!.what}: ${verification.failure!.reason}`);
	}

	const leftovers = (await fs.readdir(path.join(home, 'runs', roundRunId, 'audit'))).sort();
	if (JSON.stringify(leftovers) !== JSON.stringify(['checkpoints.jsonl', 'entries.jsonl'])) {
		problems.push(`files left in the audit directory: ${leftovers.join(', ')}`);
	}

	return problems.map(problem => `round ${round}: ${problem}`);
}

// The rounds stop at the first broken one, so a race fails fast.
test('concurrent record() calls from six processes produce one unbroken chain that verifies (up to 10 rounds)', async t => {
	const home = await temporaryHome(t);
	const writers = 6;
	// Enough for the writers to cross a checkpoint between them.
	const perWriter = Math.ceil((checkpointEvery + 1) / writers);
	for (let round = 0; round < 10; round++) {
		const problems = await checkConcurrentRound(home, round, writers, perWriter);
		t.deepEqual(problems, []);
		if (problems.length > 0) {
			return;
		}
	}
});

test('a torn last line is skipped by read(), the complete entries still verify, and the next record() continues the chain', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	for (let index = 0; index < 5; index++) {
		await log.record(runId, 'run.started', {index});
	}

	await log.seal(runId);
	const complete = await log.read(runId);
	// A crash mid-write: half of a sixth line, no newline.
	const half = JSON.stringify({seq: 5, ts: '2025-01-01T00:00:09.000Z', type: 'run.exited', data: {state: 'stopped'}, prev: complete.entries[4]!.hash, hash: 'f'.repeat(64)});
	await fs.appendFile(entriesFile(home), half.slice(0, Math.floor(half.length / 2)));

	const torn = await log.read(runId);
	t.deepEqual(torn.entries, complete.entries);
	t.true(verifyLog(torn.entries, torn.checkpoints, await log.publicKeyPem(), {runId, sealed: false}).ok);

	const next = await log.record(runId, 'run.exited', {state: 'stopped'});
	t.is(next.seq, 5);
	t.is(next.prev, complete.entries[4]!.hash);
	const text = await fs.readFile(entriesFile(home), 'utf8');
	t.is(text.split('\n').length, 7, 'six whole lines and the final newline');
	t.notRegex(text, /\n[^\n]*"seq":5,[^\n]*"seq"/, 'the torn fragment is gone, not glued to the new line');
	for (const line of text.trimEnd().split('\n')) {
		t.notThrows(() => JSON.parse(line) as AuditEntry);
	}

	await log.seal(runId);
	const after = await log.read(runId);
	t.is(after.entries.length, 6);
	const verification = verifyLog(after.entries, after.checkpoints, await log.publicKeyPem(), {runId, sealed: true});
	t.true(verification.ok, JSON.stringify(verification.failure));
});

test('a torn last checkpoint line is cut before the next checkpoint is appended', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {});
	await log.seal(runId);
	await fs.appendFile(checkpointsFile(home), '{"treeSize":1,"rootHash":"ab');
	t.is((await log.read(runId)).checkpoints.length, 1);
	await log.record(runId, 'run.exited', {});
	await log.seal(runId);
	const {entries, checkpoints} = await log.read(runId);
	t.deepEqual(checkpoints.map((checkpoint: Checkpoint) => checkpoint.treeSize), [1, 2]);
	t.true(verifyLog(entries, checkpoints, await log.publicKeyPem(), {runId, sealed: true}).ok);
});

test('an entry recorded with a Date in its data still verifies when read back', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'policy.changed', {at: new Date(0)});
	await log.record(runId, 'run.exited', {at: new Date(1)});
	await log.seal(runId);
	const {entries, checkpoints} = await log.read(runId);
	const verification = verifyLog(entries, checkpoints, await log.publicKeyPem(), {runId, sealed: true});
	t.true(verification.ok, JSON.stringify(verification.failure));
});

test('every checkpoint names its run, so a log checked as another run\'s, or copied under another run, fails at its first checkpoint', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {});
	await log.record(runId, 'run.exited', {});
	await log.seal(runId);
	const {entries, checkpoints} = await log.read(runId);
	t.deepEqual(checkpoints.map(checkpoint => checkpoint.runId), [runId]);

	const otherRunId = 'run_ffffffffffff';
	const asOther = verifyLog(entries, checkpoints, await log.publicKeyPem(), {runId: otherRunId, sealed: true});
	t.false(asOther.ok);
	t.deepEqual(asOther.failure, {what: 'checkpoint 0 (size 2)', reason: `it is for run ${runId}, not ${otherRunId}`});

	await fs.cp(path.join(home, 'runs', runId), path.join(home, 'runs', otherRunId), {recursive: true});
	const copied = await log.read(otherRunId);
	t.deepEqual(copied.entries, entries);
	const transplanted = verifyLog(copied.entries, copied.checkpoints, await log.publicKeyPem(), {runId: otherRunId, sealed: true});
	t.deepEqual(transplanted.failure, {what: 'checkpoint 0 (size 2)', reason: `it is for run ${runId}, not ${otherRunId}`});
});

test('entries recorded after the last checkpoint verify as unsigned while the run is live, and fail at the first of them once it has ended', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	for (let index = 0; index < 3; index++) {
		await log.record(runId, 'run.started', {index});
	}

	await log.seal(runId);
	await log.record(runId, 'terminal.attached', {});
	await log.record(runId, 'terminal.detached', {});
	const {entries, checkpoints} = await log.read(runId);
	const publicKey = await log.publicKeyPem();

	const live = verifyLog(entries, checkpoints, publicKey, {runId, sealed: false});
	t.true(live.ok, JSON.stringify(live.failure));
	t.is(live.unsigned, 2);

	const ended = verifyLog(entries, checkpoints, publicKey, {runId, sealed: true});
	t.false(ended.ok);
	t.deepEqual(ended.failure, {what: 'entry 3', reason: 'the run has ended, yet no signed checkpoint covers it (it was added afterwards)'});

	// Signed to the end, yet not sealed: the log does not end with run.exited.
	await log.seal(runId);
	const signed = await log.read(runId);
	const after = verifyLog(signed.entries, signed.checkpoints, publicKey, {runId, sealed: true});
	t.is(after.state, 'short');
	t.is(after.unsigned, 0);
	t.deepEqual(after.failure?.what, 'the end of the log');

	await log.record(runId, 'run.exited', {});
	await log.seal(runId);
	const sealed = await log.read(runId);
	const final = verifyLog(sealed.entries, sealed.checkpoints, publicKey, {runId, sealed: true});
	t.true(final.ok, JSON.stringify(final.failure));
	t.is(final.state, 'sealed');
});

/** A sealed log of five entries, its lines, and its public key. */
async function sealedLogOfFive(t: ExecutionContext) {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	for (let index = 0; index < 5; index++) {
		await log.record(runId, 'run.started', {index});
	}

	await log.seal(runId);
	const lines = (await fs.readFile(entriesFile(home), 'utf8')).split('\n');
	return {home, log, lines, publicKey: await log.publicKeyPem()};
}

const notAnEntry = 'it is not an audit entry (a field is missing or of the wrong type)';

for (const [name, line] of [['"null"', 'null'], ['garbage', 'garbage'], ['half a line', '{"seq":2,"ts":"2025']] as const) {
	test(`a line in the middle of entries.jsonl that reads as ${name} is kept as null, not skipped, and verification names that entry`, async t => {
		const {log, home, lines, publicKey} = await sealedLogOfFive(t);
		lines[2] = line;
		await fs.writeFile(entriesFile(home), lines.join('\n'));
		const {entries, checkpoints} = await log.read(runId);
		t.is(entries.length, 5);
		t.is(entries[2] as unknown, null);
		t.is(entries[3]!.seq, 3);
		const verification = verifyLog(entries, checkpoints, publicKey, {runId, sealed: true});
		t.false(verification.ok);
		t.deepEqual(verification.failure, {what: 'entry 2', reason: notAnEntry});
	});
}

test('an unreadable last line of entries.jsonl that ends in a newline is not a torn write: it is kept as null and named', async t => {
	const {log, home, publicKey} = await sealedLogOfFive(t);
	await fs.appendFile(entriesFile(home), 'garbage\n');
	const {entries, checkpoints} = await log.read(runId);
	t.is(entries.length, 6);
	t.is(entries[5] as unknown, null);
	const verification = verifyLog(entries, checkpoints, publicKey, {runId, sealed: false});
	t.deepEqual(verification.failure, {what: 'entry 5', reason: notAnEntry});
});

test('an unreadable line in the middle of checkpoints.jsonl is kept as null and verification names that checkpoint', async t => {
	const {log, home, publicKey} = await sealedLogOfFive(t);
	await log.record(runId, 'run.exited', {});
	await log.seal(runId);
	const lines = (await fs.readFile(checkpointsFile(home), 'utf8')).split('\n');
	t.is(lines.length, 3, 'two checkpoints and the final newline');
	lines[0] = 'garbage';
	await fs.writeFile(checkpointsFile(home), lines.join('\n'));
	const {entries, checkpoints} = await log.read(runId);
	t.is(checkpoints.length, 2);
	t.is(checkpoints[0] as unknown, null);
	const verification = verifyLog(entries, checkpoints, publicKey, {runId, sealed: true});
	t.false(verification.ok);
	t.deepEqual(verification.failure, {what: 'checkpoint 0', reason: 'it is not a checkpoint (a field is missing or of the wrong type)'});
});

test('sealing again with nothing new adds no checkpoint, so a log ending on a checkpoint boundary still verifies', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-audit-boundary-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const log = createAuditLog(home);
	for (let index = 0; index < checkpointEvery; index++) {
		await log.record('run_0000000000aa', index === checkpointEvery - 1 ? 'run.exited' : 'run.started', {index});
	}

	await log.seal('run_0000000000aa');
	await log.seal('run_0000000000aa');
	const {entries, checkpoints} = await log.read('run_0000000000aa');
	t.is(checkpoints.length, 1);
	t.true(verifyLog(entries, checkpoints, await log.publicKeyPem(), {runId: 'run_0000000000aa', sealed: true}).ok);
});

test('sealing a log that ends with run.exited appends its final checkpoint to the witness, once, in a private file outside the run\'s folder', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {});
	await log.record(runId, 'run.started', {});
	// A checkpoint of a live run is not final: the witness holds nothing yet.
	await log.seal(runId);
	t.deepEqual(await log.readWitness(), []);

	await log.record(runId, 'run.exited', {state: 'stopped'});
	await log.seal(runId);
	await log.seal(runId);
	const {checkpoints} = await log.read(runId);
	const witness = await log.readWitness();
	t.is(witness.length, 1);
	t.deepEqual(witnessedCheckpoint(witness, runId), checkpoints.at(-1));
	t.is(checkpoints.at(-1)!.treeSize, 3);
	t.true(verifyWitness(witness).ok);
	t.is(path.dirname(witnessFile(home)), home);
	t.is((await fs.stat(witnessFile(home))).mode & 0o777, 0o600);
});

test('nothing is appended after run.exited, by record() or by a writer: the run\'s end is its log\'s end', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {});
	await log.record(runId, 'run.exited', {});
	await t.throwsAsync(log.record(runId, 'terminal.detached', {}), {instanceOf: SealedLogError, message: `the run ${runId} has ended and its audit log is sealed with run.exited; terminal.detached is not recorded after it`});

	const otherRunId = 'run_ffffffffffff';
	const writer = await log.openWriter(otherRunId);
	writer.append('run.created', {});
	writer.append('run.exited', {});
	t.throws(() => writer.append('request.blocked', {}), {message: /sealed with run\.exited; request\.blocked is not recorded/});
	await writer.close();
	t.deepEqual((await log.read(runId)).entries.map(entry => entry.type), ['run.created', 'run.exited']);
	// The writer sealed its run on close, and the witness holds it too.
	t.deepEqual((await log.read(otherRunId)).entries.map(entry => entry.type), ['run.created', 'run.exited']);
	t.is(witnessedCheckpoint(await log.readWitness(), otherRunId)?.treeSize, 2);
});

test('a seal cut off between the run\'s checkpoint and the witness (the witness line lost) is finished by the next seal', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {});
	await log.record(runId, 'run.exited', {});
	await log.seal(runId);
	await fs.rm(witnessFile(home));
	await log.seal(runId);
	const {checkpoints} = await log.read(runId);
	t.is(checkpoints.length, 1, 'no second checkpoint of the same size');
	t.deepEqual(witnessedCheckpoint(await log.readWitness(), runId), checkpoints[0]);
});

test('runs sealed at once from several processes leave one unbroken witness chain holding each run once', async t => {
	const home = await temporaryHome(t);
	const runs = Array.from({length: 8}, (_, index) => `run_${String(index).padStart(12, '0')}`);
	const script = `
const [moduleFile, home, runId] = process.argv.slice(1);
const {createAuditLog} = await import(moduleFile);
const log = createAuditLog(home);
await log.record(runId, 'run.created', {});
await log.record(runId, 'run.exited', {});
await log.seal(runId);
`;
	// The key first, so the processes do not all race to create it.
	await createAuditLog(home).publicKeyPem();
	await Promise.all(runs.map(async run => execFileAsync(process.execPath, ['--input-type=module', '-e', script, auditLogModule, home, run], {timeout: 120_000})));
	const witness = await createAuditLog(home).readWitness();
	t.true(verifyWitness(witness).ok, JSON.stringify(verifyWitness(witness).failure));
	t.deepEqual(witness.map(entry => entry.data.runId).sort(), runs);
	t.false((await fs.readdir(home)).some(name => name.includes('.lock')), 'no lock file is left behind');
});
