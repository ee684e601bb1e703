import {generateKeyPairSync, sign} from 'node:crypto';
import test from 'ava';
import {checkpointMessage, entryLeaves, keyFingerprint, makeEntry, type AuditEntry, type Checkpoint, type Verification} from '../source/audit/audit-chain.js';
import {compareWithWitness, makeWitnessEntry, mustBeSealed, verifyWitness, witnessedCheckpoint, witnesses, withWitness} from '../source/audit/audit-witness.js';
import {treeRoot} from '../source/audit/merkle.js';

const {privateKey, publicKey} = generateKeyPairSync('ed25519');
const runId = 'run_0123456789ab';
const otherRunId = 'run_ffffffffffff';

function runLog(count: number): AuditEntry[] {
	const entries: AuditEntry[] = [];
	for (let index = 0; index < count; index++) {
		entries.push(makeEntry(entries.at(-1), `2025-01-01T00:00:0${index}.000Z`, index === count - 1 ? 'run.exited' : 'request.blocked', {index}));
	}

	return entries;
}

function checkpoint(entries: readonly AuditEntry[], treeSize: number, run = runId): Checkpoint {
	const unsigned = {runId: run, treeSize, rootHash: treeRoot(entryLeaves(entries.slice(0, treeSize))).toString('hex'), ts: '2025-01-01T00:01:00.000Z'};
	return {...unsigned, keyFingerprint: keyFingerprint(publicKey), signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64')};
}

const log = runLog(6);
const early = checkpoint(log, 2);
const final = checkpoint(log, 6);
const otherFinal = checkpoint(runLog(3), 3, otherRunId);

function witnessOf(checkpoints: readonly Checkpoint[]): AuditEntry[] {
	const entries: AuditEntry[] = [];
	for (const held of checkpoints) {
		entries.push(makeWitnessEntry(entries.at(-1), '2025-01-01T00:02:00.000Z', held));
	}

	return entries;
}

const witness = witnessOf([otherFinal, final]);
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

test('verifyWitness: an intact witness verifies and names its head, the last entry\'s seq and hash', t => {
	t.deepEqual(verifyWitness(copy(witness)), {ok: true, entries: 2, pinned: false, head: {seq: 1, hash: witness[1]!.hash}});
});

test('verifyWitness: an empty witness verifies, with no head', t => {
	t.deepEqual(verifyWitness([]), {ok: true, entries: 0, pinned: false});
});

const witnessFailures: Array<{name: string; entries: () => AuditEntry[]; pinned?: string; what: string; reason: RegExp}> = [
	{name: 'an entry removed from the middle', entries: () => copy(witnessOf([otherFinal, early, final])).filter((_, index) => index !== 1), what: 'witness entry 1', reason: /sequence number is 2/},
	{name: 'a held checkpoint changed', entries: () => {
		const entries = copy(witness);
		entries[0]!.data.treeSize = 2;
		return entries;
	}, what: 'witness entry 0', reason: /do not match its hash/},
	{name: 'an entry of another kind', entries: () => [makeEntry(undefined, '2025-01-01T00:00:00.000Z', 'run.exited', {})], what: 'witness entry 0', reason: /not a run\.sealed entry/},
	{name: 'a pinned head no longer in it (cut back past the pin)', entries: () => copy(witness).slice(0, 1), pinned: witness[1]!.hash, what: 'the pinned head', reason: /cut back or rewritten since it was pinned/},
	{name: 'a pinned head of a witness rebuilt from scratch with the final checkpoint left out', entries: () => witnessOf([otherFinal]), pinned: witness[1]!.hash, what: 'the pinned head', reason: /no witness entry has the hash/},
];

for (const {name, entries, pinned, what, reason} of witnessFailures) {
	test(`verifyWitness fails naming ${what}: ${name}`, t => {
		const verification = verifyWitness(entries(), pinned);
		t.false(verification.ok);
		t.is(verification.failure?.what, what);
		t.regex(verification.failure?.reason ?? '', reason);
	});
}

test('verifyWitness: a pinned head still in a grown witness verifies, and says it was pinned', t => {
	const grown = witnessOf([otherFinal, final, checkpoint(runLog(4), 4, 'run_aaaaaaaaaaaa')]);
	const verification = verifyWitness(grown, witness[1]!.hash);
	t.true(verification.ok);
	t.true(verification.pinned);
	t.is(verification.head?.seq, 2);
});

test('witnessedCheckpoint gives a run\'s last witnessed checkpoint, and nothing for a run it does not hold', t => {
	t.deepEqual(witnessedCheckpoint(witness, runId), final);
	t.deepEqual(witnessedCheckpoint(witness, otherRunId), otherFinal);
	t.is(witnessedCheckpoint(witness, 'run_000000000000'), undefined);
	t.true(witnesses(witness[1]!, final));
	t.false(witnesses(witness[1]!, early));
});

const sealedCases: Array<[runActive: boolean, witnessed: Checkpoint | undefined, expected: boolean]> = [
	[true, undefined, false],
	[false, undefined, true],
	// The record says running, yet the run was sealed: it must be checked as sealed.
	[true, final, true],
	[false, final, true],
];

for (const [runActive, witnessed, expected] of sealedCases) {
	test(`mustBeSealed: a run ${runActive ? 'active' : 'ended'} by its record, ${witnessed ? 'witnessed' : 'not witnessed'}, ${expected ? 'must' : 'need not'} be sealed`, t => {
		t.is(mustBeSealed(runActive, witnessed), expected);
	});
}

const comparisons: Array<{name: string; checkpoints: Checkpoint[]; entries: number; witnessed: Checkpoint | undefined; sealed: boolean; expected: undefined | {state: string; reason: RegExp}}> = [
	{name: 'the log holds the witnessed final checkpoint: they agree', checkpoints: [early, final], entries: 6, witnessed: final, sealed: true, expected: undefined},
	{name: 'a live run the witness does not hold yet: nothing to say', checkpoints: [early], entries: 3, witnessed: undefined, sealed: false, expected: undefined},
	{name: 'cut back to the early checkpoint\'s prefix: cut back', checkpoints: [early], entries: 2, witnessed: final, sealed: false, expected: {state: 'short', reason: /final checkpoint of 6 entries \(root [\da-f]{16}…\), but the log has 2: it was cut back/}},
	{name: 'rewritten and re-signed at the same size: rewritten', checkpoints: [early, {...final, rootHash: 'ab'.repeat(32), signature: 'c2lnbmVk'}], entries: 6, witnessed: final, sealed: true, expected: {state: 'broken', reason: /which the log does not: it was rewritten/}},
	{name: 'a sealed log the witness does not hold: the witness was cut back', checkpoints: [early, final], entries: 6, witnessed: undefined, sealed: true, expected: {state: 'broken', reason: /holds no final checkpoint of this run, though the log is sealed/}},
];

for (const {name, checkpoints, entries, witnessed, sealed, expected} of comparisons) {
	test(`compareWithWitness: ${name}`, t => {
		const comparison = compareWithWitness(checkpoints, entries, witnessed, sealed);
		t.is(comparison?.state as string | undefined, expected?.state);
		if (expected) {
			t.regex(comparison!.reason, expected.reason);
		}
	});
}

const verified: Verification = {ok: true, state: 'sealed', entries: 6, checkpoints: 2, unsigned: 0, countsByType: {}, keyFingerprint: 'SHA256:x'};

test('withWitness turns a log that verifies alone into a failure when the witness disagrees', t => {
	const comparison = {what: 'the log', reason: 'it was cut back', state: 'short' as const};
	t.deepEqual(withWitness(verified, comparison), {...verified, ok: false, state: 'short', failure: {what: 'the log', reason: 'it was cut back'}});
	t.is(withWitness(verified, undefined), verified);
});

test('withWitness keeps a log\'s own first failure', t => {
	const failed: Verification = {...verified, ok: false, state: 'short', failure: {what: 'the end of the log', reason: 'it stops at entry 1'}};
	t.is(withWitness(failed, {what: 'the log', reason: 'it was cut back', state: 'short'}), failed);
});
