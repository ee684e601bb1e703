import {createHash, generateKeyPairSync, sign, type KeyObject} from 'node:crypto';
import test from 'ava';
import {makeBundle, verifyBundle} from '../source/audit/audit-bundle.js';
import {
	auditEventTypes,
	checkpointMessage,
	entryHash,
	entryLeaves,
	genesisHash,
	keyFingerprint,
	makeEntry,
	verifyLog,
	type AuditEntry,
	type Checkpoint,
} from '../source/audit/audit-chain.js';
import {canonicalJson} from '../source/audit/canonical-json.js';
import {treeRoot} from '../source/audit/merkle.js';
import {seededRandom} from './helpers/seeded-random.js';

type Signer = {privateKey: KeyObject; publicKey: KeyObject; publicKeyPem: string; fingerprint: string};

function newSigner(): Signer {
	const {privateKey, publicKey} = generateKeyPairSync('ed25519');
	return {privateKey, publicKey, publicKeyPem: publicKey.export({type: 'spki', format: 'pem'}).toString(), fingerprint: keyFingerprint(publicKey)};
}

const signer = newSigner();
const stranger = newSigner();
const runId = 'run_0123456789ab';
const otherRunId = 'run_ffffffffffff';
/** How an ended run's log is checked. */
const sealed = {runId, sealed: true};
/** How a live run's log is checked: its newest entries may not be signed yet. */
const live = {runId, sealed: false};

/** A checkpoint of `run` over the first `treeSize` entries, signed as audit-log.ts signs one. */
function checkpoint(entries: readonly AuditEntry[], treeSize: number, by: Signer = signer, run = runId): Checkpoint {
	const unsigned = {runId: run, treeSize, rootHash: treeRoot(entryLeaves(entries.slice(0, treeSize))).toString('hex'), ts: `2025-01-01T00:00:${String(treeSize % 60).padStart(2, '0')}.000Z`};
	return {...unsigned, keyFingerprint: by.fingerprint, signature: sign(null, checkpointMessage(unsigned), by.privateKey).toString('base64')};
}

/** Re-signs an edited checkpoint with `by`, as only the key holder could. */
function resign(edited: Omit<Checkpoint, 'signature' | 'keyFingerprint'>, by: Signer = signer): Checkpoint {
	return {...edited, keyFingerprint: by.fingerprint, signature: sign(null, checkpointMessage(edited), by.privateKey).toString('base64')};
}

function buildLog(events: ReadonlyArray<[type: string, data: Record<string, unknown>]>): AuditEntry[] {
	const entries: AuditEntry[] = [];
	for (const [index, [type, data]] of events.entries()) {
		entries.push(makeEntry(entries.at(-1), new Date(Date.UTC(2025, 0, 1, 0, 0, index)).toISOString(), type, data));
	}

	return entries;
}

/** A deep copy, as the log reads it back from disk. */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const runEvents: Array<[string, Record<string, unknown>]> = [
	['run.created', {workspace: '/w', image: 'moat/base', command: ['echo', 'hi']}],
	['run.started', {containerId: 'c0ffee'}],
	['terminal.attached', {interactive: true}],
	['credential.injected', {grant: 'github', host: 'api.github.com'}],
	['request.blocked', {host: 'evil.example', reason: 'not allowed'}],
	['credential.injected', {grant: 'github', host: 'github.com'}],
	['terminal.detached', {how: 'escape'}],
	['run.stopped', {requestedBy: 'user'}],
	['run.exited', {state: 'stopped', exitCode: 0, error: null}],
];

const goodEntries = buildLog(runEvents);
const goodCheckpoints = [checkpoint(goodEntries, 4), checkpoint(goodEntries, goodEntries.length)];

test('makeEntry numbers from 0, chains each entry to the one before and hashes the canonical JSON of the rest', t => {
	t.is(goodEntries[0]!.seq, 0);
	t.is(goodEntries[0]!.prev, genesisHash);
	for (const [index, entry] of goodEntries.entries()) {
		t.is(entry.seq, index);
		if (index > 0) {
			t.is(entry.prev, goodEntries[index - 1]!.hash);
		}

		const {hash, ...rest} = entry;
		t.is(hash, entryHash(rest));
		t.regex(hash, /^[\da-f]{64}$/);
	}

	const {seq, ts, type, data, prev} = goodEntries[1]!;
	t.is(goodEntries[1]!.hash, createHash('sha256').update(canonicalJson({seq, ts, type, data, prev})).digest('hex'));
});

test('a good log verifies, with its entries counted by type and the signing key named', t => {
	const verification = verifyLog(goodEntries, goodCheckpoints, signer.publicKeyPem, sealed);
	t.is(verification.failure, undefined);
	t.true(verification.ok);
	t.is(verification.entries, 9);
	t.is(verification.checkpoints, 2);
	t.is(verification.unsigned, 0);
	t.is(verification.keyFingerprint, signer.fingerprint);
	t.regex(verification.keyFingerprint, /^SHA256:[\w+/]{43}$/);
	t.deepEqual(verification.countsByType, {
		'run.created': 1,
		'run.started': 1,
		'terminal.attached': 1,
		'credential.injected': 2,
		'request.blocked': 1,
		'terminal.detached': 1,
		'run.stopped': 1,
		'run.exited': 1,
	});
});

test('a log read back through JSON (as from entries.jsonl) still verifies', t => {
	t.true(verifyLog(copy(goodEntries), copy(goodCheckpoints), signer.publicKeyPem, sealed).ok);
});

test('an empty log with no checkpoints verifies as open while its run is live, and as not sealed once it has ended', t => {
	const open = verifyLog([], [], signer.publicKeyPem, live);
	t.true(open.ok);
	t.is(open.state, 'open');
	t.is(open.entries, 0);
	t.is(open.unsigned, 0);
	t.deepEqual(open.countsByType, {});
	const ended = verifyLog([], [], signer.publicKeyPem, sealed);
	t.false(ended.ok);
	t.is(ended.state, 'short');
	t.deepEqual(ended.failure, {what: 'the end of the log', reason: 'it is empty: run.exited and the signed checkpoint over it are missing (the log was cut back, or read before the run sealed it)'});
});

type Tamper = {
	name: string;
	tamper(entries: AuditEntry[], checkpoints: Checkpoint[]): void;
	what: string;
	reason: RegExp;
};

const tampers: Tamper[] = [
	{
		name: 'one character of an entry\'s data changed',
		tamper(entries) {
			entries[3]!.data.host = 'api.github.con';
		},
		what: 'entry 3',
		reason: /contents do not match its hash \(it was changed\)/,
	},
	{
		name: 'a field added to an entry\'s data',
		tamper(entries) {
			entries[5]!.data.extra = true;
		},
		what: 'entry 5',
		reason: /contents do not match its hash/,
	},
	{
		name: 'an entry\'s timestamp changed',
		tamper(entries) {
			entries[2]!.ts = '2025-01-01T00:00:02.001Z';
		},
		what: 'entry 2',
		reason: /contents do not match its hash/,
	},
	{
		name: 'an entry\'s type changed',
		tamper(entries) {
			entries[4]!.type = 'credential.injected';
		},
		what: 'entry 4',
		reason: /contents do not match its hash/,
	},
	{
		name: 'an entry\'s data changed and its hash recomputed (the next entry no longer chains)',
		tamper(entries) {
			const entry = entries[3]!;
			entry.data.host = 'elsewhere.example';
			entry.hash = entryHash(entry);
		},
		what: 'entry 4',
		reason: /does not chain to the entry before it/,
	},
	{
		name: 'an entry in the middle deleted',
		tamper(entries) {
			entries.splice(4, 1);
		},
		what: 'entry 4',
		reason: /sequence number is 5, expected 4 \(an entry was removed, added or moved\)/,
	},
	{
		name: 'two entries swapped',
		tamper(entries) {
			[entries[2], entries[3]] = [entries[3]!, entries[2]!];
		},
		what: 'entry 2',
		reason: /sequence number is 3, expected 2/,
	},
	{
		name: 'the first entry deleted',
		tamper(entries) {
			entries.shift();
		},
		what: 'entry 0',
		reason: /sequence number is 1, expected 0/,
	},
	{
		name: 'an entry deleted and the rest renumbered and rehashed, but the checkpoint not re-signable',
		tamper(entries) {
			entries.splice(4, 1);
			for (let index = 4; index < entries.length; index++) {
				const {type, ts, data} = entries[index]!;
				entries[index] = makeEntry(entries[index - 1], ts, type, data);
			}
		},
		what: 'checkpoint 1 (size 9)',
		reason: /covers 9 entries but the log has 8/,
	},
	{
		name: 'the tail cut off below the last checkpoint',
		tamper(entries) {
			entries.splice(-2);
		},
		what: 'checkpoint 1 (size 9)',
		reason: /covers 9 entries but the log has 7 \(entries were removed from the end\)/,
	},
	{
		name: 'a checkpoint\'s rootHash edited',
		tamper(_entries, checkpoints) {
			checkpoints[1]!.rootHash = treeRoot(entryLeaves(goodEntries.slice(0, 8))).toString('hex');
		},
		what: 'checkpoint 1 (size 9)',
		reason: /signature does not verify \(it was changed\)/,
	},
	{
		name: 'a checkpoint\'s treeSize edited',
		tamper(_entries, checkpoints) {
			checkpoints[0]!.treeSize = 3;
		},
		what: 'checkpoint 0 (size 3)',
		reason: /signature does not verify/,
	},
	{
		name: 'a checkpoint\'s timestamp edited',
		tamper(_entries, checkpoints) {
			checkpoints[0]!.ts = '2030-01-01T00:00:00.000Z';
		},
		what: 'checkpoint 0 (size 4)',
		reason: /signature does not verify/,
	},
	{
		name: 'a checkpoint signed by another key, under that key\'s fingerprint',
		tamper(entries, checkpoints) {
			checkpoints[1] = checkpoint(entries, entries.length, stranger);
		},
		what: 'checkpoint 1 (size 9)',
		reason: new RegExp(`signed by ${escapeRegExp(stranger.fingerprint)}, not by this log's key ${escapeRegExp(signer.fingerprint)}`),
	},
	{
		name: 'a checkpoint signed by another key, claiming this log\'s fingerprint',
		tamper(entries, checkpoints) {
			checkpoints[1] = {...checkpoint(entries, entries.length, stranger), keyFingerprint: signer.fingerprint};
		},
		what: 'checkpoint 1 (size 9)',
		reason: /signature does not verify/,
	},
	{
		name: 'a correctly signed checkpoint whose root is not the tree of the entries it covers',
		tamper(_entries, checkpoints) {
			const {treeSize, ts} = checkpoints[0]!;
			checkpoints[0] = resign({runId, treeSize, ts, rootHash: treeRoot(entryLeaves(goodEntries.slice(0, 5))).toString('hex')});
		},
		what: 'checkpoint 0 (size 4)',
		reason: /root does not match the entries it covers/,
	},
	{
		name: 'an entry changed and rehashed with the whole chain after it rebuilt (only the signed root catches it)',
		tamper(entries) {
			const {ts, type} = entries[1]!;
			entries[1] = makeEntry(entries[0], ts, type, {containerId: 'd00dad'});
			for (let index = 2; index < entries.length; index++) {
				const {type, ts, data} = entries[index]!;
				entries[index] = makeEntry(entries[index - 1], ts, type, data);
			}
		},
		what: 'checkpoint 0 (size 4)',
		reason: /root does not match the entries it covers/,
	},
];

function escapeRegExp(text: string): string {
	return text.replaceAll(/[.*+?^${}()|[\]\\/]/g, String.raw`\$&`);
}

for (const {name, tamper, what, reason} of tampers) {
	test(`verifyLog names the first failure: ${name}`, t => {
		const entries = copy(goodEntries);
		const checkpoints = copy(goodCheckpoints);
		tamper(entries, checkpoints);
		const verification = verifyLog(entries, checkpoints, signer.publicKeyPem, sealed);
		t.false(verification.ok);
		t.is(verification.failure?.what, what);
		t.regex(verification.failure?.reason ?? '', reason);
	});
}

test('verifyLog against another public key names the first checkpoint as signed by a different key', t => {
	const verification = verifyLog(goodEntries, goodCheckpoints, stranger.publicKeyPem, sealed);
	t.false(verification.ok);
	t.is(verification.keyFingerprint, stranger.fingerprint);
	t.is(verification.failure?.what, 'checkpoint 0 (size 4)');
	t.regex(verification.failure?.reason ?? '', /not by this log's key/);
});

const unsignedTail = 'the run has ended, yet no signed checkpoint covers it (it was added afterwards)';

test('a live run\'s entries after the last checkpoint verify and are counted as unsigned; the same log of an ended run fails at the first of them', t => {
	// A checkpoint is signed every checkpointEvery entries and when a run
	// ends, so only a run still going may have entries no signature covers.
	const entries = copy(goodEntries).slice(0, 6);
	const checkpoints = [checkpoint(goodEntries, 4)];
	const going = verifyLog(entries, checkpoints, signer.publicKeyPem, live);
	t.is(going.failure, undefined);
	t.true(going.ok);
	t.is(going.entries, 6);
	t.is(going.unsigned, 2);

	const ended = verifyLog(entries, checkpoints, signer.publicKeyPem, sealed);
	t.false(ended.ok);
	t.deepEqual(ended.failure, {what: 'entry 4', reason: unsignedTail});
	t.is(ended.unsigned, 2);
});

test('a log whose last checkpoint covers every entry has no unsigned entries, live or ended', t => {
	t.is(verifyLog(goodEntries, goodCheckpoints, signer.publicKeyPem, live).unsigned, 0);
	t.is(verifyLog(goodEntries, goodCheckpoints, signer.publicKeyPem, sealed).unsigned, 0);
});

/** A forged entry appended after the last checkpoint, with a correct hash and prev. */
function withForgedTail(): AuditEntry[] {
	const entries = copy(goodEntries);
	entries.push(makeEntry(entries.at(-1), '2025-01-01T00:01:00.000Z', 'run.exited', {state: 'stopped', exitCode: 0, error: null, forged: true}));
	return entries;
}

test('a forged entry appended after an ended run\'s last checkpoint fails naming it, though its chain is intact', t => {
	const verification = verifyLog(withForgedTail(), goodCheckpoints, signer.publicKeyPem, sealed);
	t.false(verification.ok);
	t.deepEqual(verification.failure, {what: 'entry 9', reason: unsignedTail});
	t.is(verification.entries, 10);
	t.is(verification.unsigned, 1);
});

test('a forged entry appended after a live run\'s last checkpoint cannot be told from a real one: it passes as one unsigned entry', t => {
	const verification = verifyLog(withForgedTail(), goodCheckpoints, signer.publicKeyPem, live);
	t.true(verification.ok);
	t.is(verification.unsigned, 1);
	t.is(verification.countsByType['run.exited'], 2);
});

test('a forged entry appended and the last checkpoint edited to cover it is caught by the checkpoint\'s signature', t => {
	const entries = withForgedTail();
	const checkpoints = copy(goodCheckpoints);
	checkpoints[1] = {...checkpoints[1]!, treeSize: 10, rootHash: treeRoot(entryLeaves(entries)).toString('hex')};
	const verification = verifyLog(entries, checkpoints, signer.publicKeyPem, sealed);
	t.false(verification.ok);
	t.is(verification.failure?.what, 'checkpoint 1 (size 10)');
	t.regex(verification.failure?.reason ?? '', /signature does not verify/);
});

test('verifyBundle does not vouch for an entry that no signed checkpoint covers', t => {
	const entries = withForgedTail();
	const verification = verifyBundle(makeBundle(runId, signer.publicKeyPem, entries, copy(goodCheckpoints)), signer.fingerprint);
	t.false(verification.ok);
	t.deepEqual(verification.failure, {what: 'entry 9', reason: unsignedTail});
});

test('a non-empty log with no checkpoint fails as unsigned once its run has ended', t => {
	const verification = verifyLog(goodEntries, [], signer.publicKeyPem, sealed);
	t.false(verification.ok);
	t.deepEqual(verification.failure, {what: 'the log', reason: 'nothing in it is signed (there is no checkpoint)'});
	t.is(verification.unsigned, 9);
});

test('a live run\'s log with no checkpoint yet verifies, every entry counted as not yet signed', t => {
	const verification = verifyLog(goodEntries, [], signer.publicKeyPem, live);
	t.true(verification.ok);
	t.is(verification.unsigned, 9);
});

test('checkpointMessage signs the run id with the tree size, root and time, in canonical JSON', t => {
	const message = checkpointMessage({runId, treeSize: 4, rootHash: 'ab', ts: '2025-01-01T00:00:04.000Z'});
	t.is(message.toString(), canonicalJson({runId, treeSize: 4, rootHash: 'ab', ts: '2025-01-01T00:00:04.000Z'}));
	t.notDeepEqual(message, checkpointMessage({runId: otherRunId, treeSize: 4, rootHash: 'ab', ts: '2025-01-01T00:00:04.000Z'}));
});

type ExactFailure = {
	name: string;
	checkpoints(): Checkpoint[];
	failure: {what: string; reason: string};
};

const checkpointFailures: ExactFailure[] = [
	{
		name: 'a checkpoint signed for another run (a log transplanted from that run)',
		checkpoints: () => [checkpoint(goodEntries, 4, signer, otherRunId), checkpoint(goodEntries, 9, signer, otherRunId)],
		failure: {what: 'checkpoint 0 (size 4)', reason: `it is for run ${otherRunId}, not ${runId}`},
	},
	{
		name: 'only the last checkpoint signed for another run',
		checkpoints: () => [checkpoint(goodEntries, 4), checkpoint(goodEntries, 9, signer, otherRunId)],
		failure: {what: 'checkpoint 1 (size 9)', reason: `it is for run ${otherRunId}, not ${runId}`},
	},
	{
		name: 'another run\'s checkpoint with its runId edited to this run (the signature covers the run)',
		checkpoints: () => [checkpoint(goodEntries, 4), {...checkpoint(goodEntries, 9, signer, otherRunId), runId}],
		failure: {what: 'checkpoint 1 (size 9)', reason: 'its signature does not verify (it was changed)'},
	},
	{
		name: 'the checkpoints reordered',
		checkpoints: () => [checkpoint(goodEntries, 9), checkpoint(goodEntries, 4)],
		failure: {what: 'checkpoint 1 (size 4)', reason: 'its size does not grow past the checkpoint before it (9)'},
	},
	{
		name: 'a checkpoint duplicated',
		checkpoints: () => [checkpoint(goodEntries, 4), checkpoint(goodEntries, 4), checkpoint(goodEntries, 9)],
		failure: {what: 'checkpoint 1 (size 4)', reason: 'its size does not grow past the checkpoint before it (4)'},
	},
	{
		name: 'the last checkpoint duplicated',
		checkpoints: () => [checkpoint(goodEntries, 4), checkpoint(goodEntries, 9), checkpoint(goodEntries, 9)],
		failure: {what: 'checkpoint 2 (size 9)', reason: 'its size does not grow past the checkpoint before it (9)'},
	},
	{
		name: 'a validly signed checkpoint rolled back to a smaller size after a larger one',
		checkpoints: () => [checkpoint(goodEntries, 4), checkpoint(goodEntries, 9), checkpoint(goodEntries, 7)],
		failure: {what: 'checkpoint 2 (size 7)', reason: 'its size does not grow past the checkpoint before it (9)'},
	},
	{
		name: 'a null checkpoint (an unreadable line of checkpoints.jsonl)',
		checkpoints: () => [checkpoint(goodEntries, 4), null as unknown as Checkpoint, checkpoint(goodEntries, 9)],
		failure: {what: 'checkpoint 1', reason: 'it is not a checkpoint (a field is missing or of the wrong type)'},
	},
	{
		name: 'a checkpoint without a runId',
		checkpoints() {
			const {runId: _, ...rest} = checkpoint(goodEntries, 4);
			return [rest as Checkpoint, checkpoint(goodEntries, 9)];
		},
		failure: {what: 'checkpoint 0', reason: 'it is not a checkpoint (a field is missing or of the wrong type)'},
	},
	{
		name: 'a checkpoint whose treeSize is a string',
		checkpoints: () => [checkpoint(goodEntries, 4), {...checkpoint(goodEntries, 9), treeSize: '9' as unknown as number}],
		failure: {what: 'checkpoint 1', reason: 'it is not a checkpoint (a field is missing or of the wrong type)'},
	},
	{
		name: 'a checkpoint with a negative treeSize',
		checkpoints: () => [{...checkpoint(goodEntries, 4), treeSize: -1}, checkpoint(goodEntries, 9)],
		failure: {what: 'checkpoint 0', reason: 'it is not a checkpoint (a field is missing or of the wrong type)'},
	},
	{
		name: 'a checkpoint that is a string, not an object',
		checkpoints: () => [checkpoint(goodEntries, 4), 'checkpoint' as unknown as Checkpoint],
		failure: {what: 'checkpoint 1', reason: 'it is not a checkpoint (a field is missing or of the wrong type)'},
	},
];

for (const {name, checkpoints, failure} of checkpointFailures) {
	test(`verifyLog names the checkpoint and why: ${name}`, t => {
		const verification = verifyLog(copy(goodEntries), checkpoints(), signer.publicKeyPem, sealed);
		t.false(verification.ok);
		t.deepEqual(verification.failure, failure);
	});
}

test('checkpoints whose sizes strictly grow, starting from an empty tree, verify', t => {
	const checkpoints = [checkpoint(goodEntries, 0), checkpoint(goodEntries, 1), checkpoint(goodEntries, 9)];
	const verification = verifyLog(goodEntries, checkpoints, signer.publicKeyPem, sealed);
	t.true(verification.ok, JSON.stringify(verification.failure));
});

const notAnEntry = 'it is not an audit entry (a field is missing or of the wrong type)';

const entryFailures: Array<{name: string; replace(entry: AuditEntry): unknown}> = [
	{name: 'null (an unreadable line of entries.jsonl)', replace: () => null},
	{name: 'a number', replace: () => 42},
	{name: 'an empty object', replace: () => ({})},
	{name: 'an entry without its hash', replace: ({hash: _, ...rest}) => rest},
	{name: 'an entry whose seq is a string', replace: entry => ({...entry, seq: String(entry.seq)})},
	{name: 'an entry whose seq is fractional', replace: entry => ({...entry, seq: entry.seq + 0.5})},
	{name: 'an entry whose data is null', replace: entry => ({...entry, data: null})},
	{name: 'an entry whose type is missing', replace: ({type: _, ...rest}) => rest},
	{name: 'an entry whose prev is a number', replace: entry => ({...entry, prev: 0})},
	{name: 'an entry whose ts is a number', replace: entry => ({...entry, ts: 0})},
];

for (const {name, replace} of entryFailures) {
	test(`verifyLog names a malformed entry in the middle of the log as not an audit entry: ${name}`, t => {
		const entries = copy(goodEntries) as unknown[];
		entries[3] = replace(copy(goodEntries[3]!));
		const verification = verifyLog(entries as AuditEntry[], copy(goodCheckpoints), signer.publicKeyPem, sealed);
		t.false(verification.ok);
		t.deepEqual(verification.failure, {what: 'entry 3', reason: notAnEntry});
	});
}

test('a malformed last entry is named too, even when no checkpoint covers it and the run is live', t => {
	const entries = [...copy(goodEntries), null] as unknown as AuditEntry[];
	const verification = verifyLog(entries, copy(goodCheckpoints), signer.publicKeyPem, live);
	t.false(verification.ok);
	t.deepEqual(verification.failure, {what: 'entry 9', reason: notAnEntry});
});

function randomData(random: () => number): Record<string, unknown> {
	const data: Record<string, unknown> = {};
	const keys = ['host', 'grant', 'name', 'é', 'n', 'list', 'nested', '\u{1F600}'];
	const size = 1 + Math.floor(random() * 4);
	for (let index = 0; index < size; index++) {
		const key = keys[Math.floor(random() * keys.length)]!;
		const choice = Math.floor(random() * 5);
		data[key] = choice === 0
			? Math.floor(random() * 1000) - 500
			: choice === 1
				? random() < 0.5
				: choice === 2
					? [random(), 'x', null]
					: choice === 3
						? {inner: random().toString(36), more: {deep: random() < 0.5}}
						: `value-${random().toString(36).slice(2)}`;
	}

	return data;
}

function randomLog(seed: number): {entries: AuditEntry[]; checkpoints: Checkpoint[]} {
	const random = seededRandom(seed);
	const length = 1 + Math.floor(random() * 40);
	// Any events, then run.exited: the log of a run that has ended.
	const types = auditEventTypes.filter(type => type !== 'run.exited');
	const entries = buildLog([
		...Array.from({length: length - 1}, () => [types[Math.floor(random() * types.length)]!, randomData(random)] as [string, Record<string, unknown>]),
		['run.exited', randomData(random)],
	]);
	const sizes = [...new Set([Math.ceil(random() * length), Math.ceil(random() * length), length])].sort((a, b) => a - b);
	return {entries, checkpoints: sizes.map(size => checkpoint(entries, size))};
}

test('random logs (200 seeds) verify, with counts by type that add up to the entries', t => {
	for (let seed = 1; seed <= 200; seed++) {
		const {entries, checkpoints} = randomLog(seed);
		const verification = verifyLog(copy(entries), copy(checkpoints), signer.publicKeyPem, sealed);
		t.true(verification.ok, `seed ${seed}: ${JSON.stringify(verification.failure)}`);
		t.is(Object.values(verification.countsByType).reduce((sum, count) => sum + count, 0), entries.length, `seed ${seed}`);
	}
});

test('in random logs (50 seeds), changing any one entry\'s data fails verification at exactly that entry', t => {
	const wrong: string[] = [];
	for (let seed = 1; seed <= 50; seed++) {
		const {entries, checkpoints} = randomLog(seed);
		for (let index = 0; index < entries.length; index++) {
			const tampered = copy(entries);
			const data = tampered[index]!.data;
			const key = Object.keys(data)[0]!;
			// The smallest change that still parses: one more character, or a number off by one.
			data[key] = typeof data[key] === 'number' ? (data[key] as number) + 1 : `${JSON.stringify(data[key])}!`;
			const verification = verifyLog(tampered, checkpoints, signer.publicKeyPem, sealed);
			if (verification.ok || verification.failure?.what !== `entry ${index}` || !/do not match its hash/.test(verification.failure.reason)) {
				wrong.push(`seed ${seed}, entry ${index}: ${JSON.stringify(verification.failure)}`);
			}
		}
	}

	t.deepEqual(wrong, []);
});

test('entryHash is SHA-256 of the canonical JSON of the entry without its hash, exactly', t => {
	for (const entry of goodEntries) {
		const {hash: _hash, ...body} = entry;
		t.is(entryHash(body), createHash('sha256').update(canonicalJson(body)).digest('hex'));
	}
});

// The seal: a log that stops short is never reported as whole.
const sealCases: Array<{name: string; log: () => {entries: AuditEntry[]; checkpoints: Checkpoint[]}; options: typeof sealed; state: string; failure?: {what: string; reason: RegExp}}> = [
	{name: 'an ended run\'s log ending with run.exited under the last checkpoint is sealed', log: () => ({entries: copy(goodEntries), checkpoints: copy(goodCheckpoints)}), options: sealed, state: 'sealed'},
	{name: 'a live run\'s log that holds so far is open', log: () => ({entries: copy(goodEntries).slice(0, 6), checkpoints: [checkpoint(goodEntries, 4)]}), options: live, state: 'open'},
	{
		name: 'cut back to its first 2 entries with only an early checkpoint over them (the attack of issue 18), it is short, naming where it stops',
		log: () => ({entries: copy(goodEntries).slice(0, 2), checkpoints: [checkpoint(goodEntries, 2)]}),
		options: sealed,
		state: 'short',
		failure: {what: 'the end of the log', reason: /^it stops at entry 1 \(run\.started\): run\.exited and the signed checkpoint over it are missing/},
	},
	{
		name: 'cut back to the first checkpoint\'s prefix (a validly signed log of 4 entries), it is short',
		log: () => ({entries: copy(goodEntries).slice(0, 4), checkpoints: [checkpoint(goodEntries, 4)]}),
		options: sealed,
		state: 'short',
		failure: {what: 'the end of the log', reason: /^it stops at entry 3 \(credential\.injected\)/},
	},
	{
		name: 'cut back past its last checkpoint, it is short, naming the checkpoint that covers more',
		log: () => ({entries: copy(goodEntries).slice(0, 6), checkpoints: copy(goodCheckpoints)}),
		options: sealed,
		state: 'short',
		failure: {what: 'checkpoint 1 (size 9)', reason: /covers 9 entries but the log has 6/},
	},
	{
		name: 'run.exited removed and the rest signed again (by the key holder), it is short',
		log: () => {
			const entries = copy(goodEntries).slice(0, 8);
			return {entries, checkpoints: [checkpoint(entries, 4), checkpoint(entries, 8)]};
		},
		options: sealed,
		state: 'short',
		failure: {what: 'the end of the log', reason: /^it stops at entry 7 \(run\.stopped\)/},
	},
	{
		name: 'an entry signed after run.exited (by the key holder), it is broken: nothing follows run.exited',
		log: () => {
			const entries = copy(goodEntries);
			entries.push(makeEntry(entries.at(-1), '2025-01-01T00:02:00.000Z', 'request.blocked', {host: 'late.example'}));
			return {entries, checkpoints: [...copy(goodCheckpoints), checkpoint(entries, 10)]};
		},
		options: sealed,
		state: 'broken',
		failure: {what: 'entry 9', reason: /comes after run\.exited/},
	},
	{
		name: 'a changed entry of an ended run is broken, not short',
		log: () => {
			const entries = copy(goodEntries);
			entries[2]!.data.interactive = false;
			return {entries, checkpoints: copy(goodCheckpoints)};
		},
		options: sealed,
		state: 'broken',
		failure: {what: 'entry 2', reason: /do not match its hash/},
	},
];

for (const {name, log, options, state, failure} of sealCases) {
	test(`verifyLog seal: ${name}`, t => {
		const {entries, checkpoints} = log();
		const verification = verifyLog(entries, checkpoints, signer.publicKeyPem, options);
		t.is(verification.state as string, state);
		t.is(verification.ok, failure === undefined);
		t.is(verification.failure?.what, failure?.what);
		if (failure) {
			t.regex(verification.failure!.reason, failure.reason);
		}
	});
}

test('a bundle cut back to its first 2 entries, with proofs made again for them, fails as not sealed even with its own key pinned', t => {
	const cut = copy(goodEntries).slice(0, 2);
	const verification = verifyBundle(copy(makeBundle(runId, signer.publicKeyPem, cut, [checkpoint(goodEntries, 2)])), signer.fingerprint);
	t.false(verification.ok);
	t.is(verification.state, 'short');
	t.is(verification.failure?.what, 'the end of the log');
	t.true(verification.originPinned);
});
