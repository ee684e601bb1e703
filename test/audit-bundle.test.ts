import {generateKeyPairSync, sign, type KeyObject} from 'node:crypto';
import test from 'ava';
import {bundleFormat, makeBundle, verifyBundle, type AuditBundle} from '../source/audit/audit-bundle.js';
import {checkpointMessage, entryLeaves, keyFingerprint, makeEntry, type AuditEntry, type Checkpoint} from '../source/audit/audit-chain.js';
import {treeRoot} from '../source/audit/merkle.js';

type Signer = {privateKey: KeyObject; publicKeyPem: string; fingerprint: string};

function newSigner(): Signer {
	const {privateKey, publicKey} = generateKeyPairSync('ed25519');
	return {privateKey, publicKeyPem: publicKey.export({type: 'spki', format: 'pem'}).toString(), fingerprint: keyFingerprint(publicKey)};
}

const original = newSigner();
const runId = 'run_0123456789ab';
const otherRunId = 'run_ffffffffffff';

function checkpoint(entries: readonly AuditEntry[], treeSize: number, by: Signer, run = runId): Checkpoint {
	const unsigned = {runId: run, treeSize, rootHash: treeRoot(entryLeaves(entries.slice(0, treeSize))).toString('hex'), ts: '2025-01-01T00:01:00.000Z'};
	return {...unsigned, keyFingerprint: by.fingerprint, signature: sign(null, checkpointMessage(unsigned), by.privateKey).toString('base64')};
}

const entries: AuditEntry[] = [];
for (const [type, data] of [
	['run.created', {workspace: '/w'}],
	['run.started', {containerId: 'c0ffee'}],
	['credential.injected', {grant: 'github', host: 'api.github.com'}],
	['ssh.signed', {host: 'github.com', key: 'SHA256:abc'}],
	['secret.resolved', {name: 'TOKEN', backend: 'op'}],
	['run.exited', {state: 'stopped', exitCode: 0, error: null}],
] as const) {
	entries.push(makeEntry(entries.at(-1), `2025-01-01T00:00:0${entries.length}.000Z`, type, data));
}

/** A fresh bundle of the run, as `moat audit --export` writes and a reader parses it. */
function bundle(by: Signer = original): AuditBundle {
	const made = makeBundle(runId, by.publicKeyPem, entries, [checkpoint(entries, 3, by), checkpoint(entries, entries.length, by)]);
	return JSON.parse(JSON.stringify(made)) as AuditBundle;
}

test('makeBundle carries the format, run, key, entries, checkpoints and one inclusion proof per entry in the last checkpoint\'s tree', t => {
	const made = bundle();
	t.is(made.format, bundleFormat);
	t.is(made.runId, runId);
	t.is(made.publicKey, original.publicKeyPem);
	t.is(made.entries.length, 6);
	t.is(made.checkpoints.length, 2);
	t.deepEqual(made.proofs.map(proof => [proof.seq, proof.treeSize]), [[0, 6], [1, 6], [2, 6], [3, 6], [4, 6], [5, 6]]);
	t.true(made.proofs.every(proof => proof.path.every(hash => /^[\da-f]{64}$/.test(hash))));
});

test('a bundle verifies from its own contents, with origin reported as not pinned', t => {
	const verification = verifyBundle(bundle());
	t.is(verification.failure, undefined);
	t.true(verification.ok);
	t.false(verification.originPinned);
	t.is(verification.entries, 6);
	t.is(verification.checkpoints, 2);
	t.is(verification.keyFingerprint, original.fingerprint);
	t.is(verification.countsByType['ssh.signed'], 1);
});

test('a bundle verifies with its signing key\'s fingerprint pinned, with origin reported as pinned', t => {
	const verification = verifyBundle(bundle(), original.fingerprint);
	t.true(verification.ok);
	t.true(verification.originPinned);
});

test('a bundle re-signed with a fresh key verifies without a pinned key but fails with the original fingerprint pinned', t => {
	const forger = newSigner();
	const forged = bundle();
	forged.checkpoints = forged.checkpoints.map(({treeSize}) => checkpoint(entries, treeSize, forger));
	forged.publicKey = forger.publicKeyPem;

	const unpinned = verifyBundle(forged);
	t.true(unpinned.ok, 'consistency alone cannot prove who signed it');
	t.false(unpinned.originPinned);
	t.is(unpinned.keyFingerprint, forger.fingerprint);

	const pinned = verifyBundle(forged, original.fingerprint);
	t.false(pinned.ok);
	t.true(pinned.originPinned);
	t.is(pinned.failure?.what, 'the signing key');
	t.is(pinned.failure?.reason, `it is ${forger.fingerprint}, not the pinned ${original.fingerprint}`);
});

test('a bundle whose checkpoints were re-signed but whose public key was left alone fails on the first checkpoint', t => {
	const forger = newSigner();
	const forged = bundle();
	forged.checkpoints = forged.checkpoints.map(({treeSize}) => checkpoint(entries, treeSize, forger));
	const verification = verifyBundle(forged);
	t.false(verification.ok);
	t.is(verification.failure?.what, 'checkpoint 0 (size 3)');
	t.regex(verification.failure?.reason ?? '', /signed by SHA256:\S+, not by this log's key/);
});

test('pinning an unrelated fingerprint fails naming the signing key', t => {
	const verification = verifyBundle(bundle(), 'SHA256:other');
	t.false(verification.ok);
	t.is(verification.failure?.what, 'the signing key');
});

const proofTampers: Array<{name: string; tamper(bundle: AuditBundle): void; what: string; reason: RegExp}> = [
	{
		name: 'one hash of an inclusion proof altered',
		tamper(made) {
			const path = made.proofs[2]!.path;
			path[0] = path[0]!.replace(/^./, character => (character === '0' ? '1' : '0'));
		},
		what: 'the inclusion proof of entry 2',
		reason: /does not lead to the signed root/,
	},
	{
		name: 'an inclusion proof truncated',
		tamper(made) {
			made.proofs[4]!.path.pop();
		},
		what: 'the inclusion proof of entry 4',
		reason: /does not lead to the signed root/,
	},
	{
		name: 'an inclusion proof extended',
		tamper(made) {
			made.proofs[1]!.path.push(made.checkpoints.at(-1)!.rootHash);
		},
		what: 'the inclusion proof of entry 1',
		reason: /does not lead to the signed root/,
	},
	{
		name: 'an inclusion proof moved to another entry',
		tamper(made) {
			made.proofs[3]!.path = made.proofs[5]!.path;
		},
		what: 'the inclusion proof of entry 3',
		reason: /does not lead to the signed root/,
	},
	{
		name: 'an inclusion proof for another tree size',
		tamper(made) {
			made.proofs[0]!.treeSize = 3;
		},
		what: 'the inclusion proof of entry 0',
		reason: /does not lead to the signed root/,
	},
	{
		name: 'an inclusion proof for an entry that is not there',
		tamper(made) {
			made.proofs[5]!.seq = 6;
		},
		what: 'the inclusion proof of entry 6',
		reason: /does not lead to the signed root/,
	},
	{
		name: 'an inclusion proof removed',
		tamper(made) {
			made.proofs.splice(2, 1);
		},
		what: 'the bundle',
		reason: /proves 5 of 6 entries/,
	},
	{
		name: 'all checkpoints removed',
		tamper(made) {
			made.checkpoints = [];
		},
		what: 'the log',
		reason: /^nothing in it is signed \(there is no checkpoint\)$/,
	},
	{
		name: 'the last checkpoint removed (the entries after the first are signed by nothing)',
		tamper(made) {
			made.checkpoints.pop();
		},
		what: 'entry 3',
		reason: /^the run has ended, yet no signed checkpoint covers it \(it was added afterwards\)$/,
	},
	{
		name: 'the bundle moved to another run (its runId changed)',
		tamper(made) {
			made.runId = otherRunId;
		},
		what: 'checkpoint 0 (size 3)',
		reason: new RegExp(`^it is for run ${runId}, not ${otherRunId}$`),
	},
	{
		name: 'the checkpoints swapped',
		tamper(made) {
			made.checkpoints.reverse();
		},
		what: 'checkpoint 1 (size 3)',
		reason: /^its size does not grow past the checkpoint before it \(6\)$/,
	},
	{
		name: 'an entry replaced by null',
		tamper(made) {
			(made.entries as unknown[])[2] = null;
		},
		what: 'entry 2',
		reason: /^it is not an audit entry \(a field is missing or of the wrong type\)$/,
	},
	{
		name: 'a checkpoint replaced by null',
		tamper(made) {
			(made.checkpoints as unknown[])[0] = null;
		},
		what: 'checkpoint 0',
		reason: /^it is not a checkpoint \(a field is missing or of the wrong type\)$/,
	},
	{
		name: 'an entry\'s data changed',
		tamper(made) {
			made.entries[2]!.data.host = 'api.github.co';
		},
		what: 'entry 2',
		reason: /do not match its hash/,
	},
];

for (const {name, tamper, what, reason} of proofTampers) {
	test(`verifyBundle fails naming ${what} when ${name}`, t => {
		const made = bundle();
		tamper(made);
		const verification = verifyBundle(made, original.fingerprint);
		t.false(verification.ok);
		t.is(verification.failure?.what, what);
		t.regex(verification.failure?.reason ?? '', reason);
	});
}

test('verifyBundle throws for a file of another format', t => {
	const made = {...bundle(), format: 'moat-audit-bundle/2'} as unknown as AuditBundle;
	t.throws(() => verifyBundle(made), {message: 'its format is "moat-audit-bundle/2", not moat-audit-bundle/1'});
	t.throws(() => verifyBundle({} as AuditBundle), {message: 'its format is null, not moat-audit-bundle/1'});
});

test('a bundle moved to another run, its checkpoints re-signed for that run by a forger, verifies unpinned but fails with the original key pinned', t => {
	const forger = newSigner();
	const moved = bundle();
	moved.runId = otherRunId;
	moved.checkpoints = moved.checkpoints.map(({treeSize}) => checkpoint(entries, treeSize, forger, otherRunId));
	moved.publicKey = forger.publicKeyPem;
	t.true(verifyBundle(moved).ok, 'consistency alone cannot prove which run it came from');
	const pinned = verifyBundle(moved, original.fingerprint);
	t.false(pinned.ok);
	t.deepEqual(pinned.failure, {what: 'the signing key', reason: `it is ${forger.fingerprint}, not the pinned ${original.fingerprint}`});
});

test('a bundle with entries beyond its last checkpoint fails at the first of them, since a bundle is of an ended run', t => {
	const extra = makeEntry(entries.at(-1), '2025-01-01T00:02:00.000Z', 'run.exited', {state: 'stopped', forged: true});
	const made = makeBundle(runId, original.publicKeyPem, [...entries, extra], [checkpoint(entries, 3, original), checkpoint(entries, entries.length, original)]);
	const verification = verifyBundle(JSON.parse(JSON.stringify(made)) as AuditBundle, original.fingerprint);
	t.false(verification.ok);
	t.deepEqual(verification.failure, {what: 'entry 6', reason: 'the run has ended, yet no signed checkpoint covers it (it was added afterwards)'});
	t.is(verification.unsigned, 1);
});

test('a bundle of an empty log, with no checkpoint, fails as not sealed', t => {
	const verification = verifyBundle(JSON.parse(JSON.stringify(makeBundle(runId, original.publicKeyPem, [], []))) as AuditBundle);
	t.false(verification.ok);
	t.is(verification.state, 'short');
	t.regex(verification.failure!.reason, /^it is empty: run\.exited and the signed checkpoint over it are missing/);
});
