import {createHash, createPublicKey, hash, verify as verifySignature, type KeyObject} from 'node:crypto';
import {canonicalJson, canonicalJsonOf, plainJsonCopy} from './canonical-json.js';
import {createDigestTreeBuilder, fromDigest, leafDigestOfHex, type Digest} from './merkle.js';

/** The kinds of events the log records (README: The audit log). */
export const auditEventTypes = [
	'run.created',
	'run.started',
	'run.stopped',
	'run.exited',
	'terminal.attached',
	'terminal.detached',
	'credential.injected',
	'credential.scrubbed',
	'request.blocked',
	'secret.resolved',
	'ssh.signed',
	'policy.changed',
	'grant.changed',
	'host.reached',
	'output.lost',
	'audit.lost',
] as const;
export type AuditEventType = (typeof auditEventTypes)[number];

/** One line of the log. `hash` covers everything else, `prev` chains it to the line before. */
export type AuditEntry = {seq: number; ts: string; type: string; data: Record<string, unknown>; prev: string; hash: string};

/** A signed statement of one run's tree size and root at a moment. */
export type Checkpoint = {runId: string; treeSize: number; rootHash: string; ts: string; keyFingerprint: string; signature: string};

export const genesisHash = '0'.repeat(64);

export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
	return hashBody(entry, canonicalJson(entry.data));
}

/** `dataJson` is the canonical JSON of `entry.data`. */
function hashBody(entry: Omit<AuditEntry, 'hash'>, dataJson: string): string {
	const {seq, ts, type, prev} = entry;
	// canonicalJson({seq, ts, type, data, prev}) spelled out with its keys in
	// canonical order (data, prev, seq, ts, type): verification runs this for
	// every entry, and the outer object's sort is pure overhead.
	const body = `{"data":${dataJson},"prev":${canonicalJson(prev)},"seq":${canonicalJson(seq)},"ts":${canonicalJson(ts)},"type":${canonicalJson(type)}}`;
	return hash('sha256', body, 'hex');
}

export function makeEntry(previous: AuditEntry | undefined, ts: string, type: string, data: Record<string, unknown>): AuditEntry {
	return makeEntryLine(previous, ts, type, data).entry;
}

/**
 * A new entry and its line in the log, `JSON.stringify(entry)`, written
 * without serializing the data a second time: a writer appends thousands of
 * these a second.
 */
export function makeEntryLine(previous: AuditEntry | undefined, ts: string, type: string, data: Record<string, unknown>): {entry: AuditEntry; line: string} {
	// The data as it will be stored and read back (a Date becomes its string),
	// so the hash covers exactly what the file holds.
	const stored = plainJsonCopy(data) ?? JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
	const storedJson = JSON.stringify(stored);
	const unsigned = {seq: previous ? previous.seq + 1 : 0, ts, type, data: stored, prev: previous?.hash ?? genesisHash};
	const entry = {...unsigned, hash: hashBody(unsigned, canonicalJsonOf(stored, storedJson))};
	// Key for key what JSON.stringify(entry) writes.
	const line = `{"seq":${JSON.stringify(entry.seq)},"ts":${JSON.stringify(ts)},"type":${JSON.stringify(type)},"data":${storedJson},"prev":${JSON.stringify(entry.prev)},"hash":"${entry.hash}"}`;
	return {entry, line};
}

/** A Merkle leaf per entry: the entry's hash. */
export function entryLeaves(entries: readonly AuditEntry[]): Buffer[] {
	return entries.map(entry => fromDigest(leafDigestOfHex(entry.hash)));
}

/** What a checkpoint signs: the run too, so a sealed log cannot pass for another run's. */
export function checkpointMessage(checkpoint: Pick<Checkpoint, 'runId' | 'treeSize' | 'rootHash' | 'ts'>): Buffer {
	return Buffer.from(canonicalJson({runId: checkpoint.runId, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, ts: checkpoint.ts}));
}

/** `SHA256:…` of the public key's DER form, as people compare it. */
export function keyFingerprint(publicKey: KeyObject): string {
	return `SHA256:${createHash('sha256').update(publicKey.export({type: 'spki', format: 'der'})).digest('base64').replace(/=+$/, '')}`;
}

/** Whether a log is whole, in a word: what `moat audit` and `moat verify-bundle` lead with. */
export const sealStates = ['sealed', 'open', 'short', 'broken'] as const;
/**
 * - sealed: the run has ended, its log ends with `run.exited` and a signed
 *   checkpoint covers every entry;
 * - open: the run is still going and the log holds so far (its newest
 *   entries may not be signed yet);
 * - short: what is there holds, but the log stops short of its end (cut
 *   back, or read before the run sealed it);
 * - broken: an entry or checkpoint was changed, added or moved.
 */
export type SealState = (typeof sealStates)[number];

/** The entry a run's log ends with: nothing is appended after it. */
export const finalEntryType = 'run.exited' satisfies AuditEventType;

export type Verification = {
	ok: boolean;
	state: SealState;
	entries: number;
	checkpoints: number;
	/** Entries after the last checkpoint: chained, but not yet signed. */
	unsigned: number;
	countsByType: Record<string, number>;
	keyFingerprint: string;
	/** The first thing that does not hold: which entry or checkpoint, and why. */
	failure?: {what: string; reason: string};
};

export type VerifyOptions = {
	/** The run the log belongs to: every checkpoint must name it. */
	runId: string;
	/**
	 * The run has ended, so its log must be sealed: it ends with
	 * `run.exited` and a signed checkpoint covers every entry.
	 */
	sealed: boolean;
};

type Failure = {what: string; reason: string; state: 'short' | 'broken'};

/**
 * The hash chain alone: each entry well formed, numbered in order, linked to
 * the one before and matching its hash. Shared by run logs and the witness.
 * With `rootSizes`, the Merkle roots of the entries' tree at those sizes
 * too, grown along the chain in the same pass (sizes past the end have none).
 */
export function verifyChain(entries: readonly AuditEntry[], rootSizes: readonly number[] = []): {failure?: Failure; roots: Map<number, Digest>; countsByType: Record<string, number>} {
	const countsByType: Record<string, number> = {};
	const roots = new Map<number, Digest>();
	const wanted = new Set(rootSizes);
	const tree = wanted.size > 0 ? createDigestTreeBuilder() : undefined;
	if (tree && wanted.has(0)) {
		roots.set(0, tree.root());
	}

	let previousHash = genesisHash;
	const failed = (what: string, reason: string) => ({failure: {what, reason, state: 'broken' as const}, roots, countsByType});
	for (let index = 0; index < entries.length; index++) {
		const entry = entries[index];
		if (!isEntry(entry)) {
			return failed(`entry ${index}`, 'it is not an audit entry (a field is missing or of the wrong type)');
		}

		if (entry.seq !== index) {
			return failed(`entry ${index}`, `its sequence number is ${entry.seq}, expected ${index} (an entry was removed, added or moved)`);
		}

		if (entry.prev !== previousHash) {
			return failed(`entry ${entry.seq}`, 'it does not chain to the entry before it');
		}

		if (entryHash(entry) !== entry.hash) {
			return failed(`entry ${entry.seq}`, 'its contents do not match its hash (it was changed)');
		}

		countsByType[entry.type] = (countsByType[entry.type] ?? 0) + 1;
		if (tree) {
			tree.add(leafDigestOfHex(entry.hash));
			if (wanted.has(tree.size)) {
				roots.set(tree.size, tree.root());
			}
		}

		previousHash = entry.hash;
	}

	return {roots, countsByType};
}

/**
 * Checks a log completely: every entry's hash, the chain of `prev` links and
 * sequence numbers, every checkpoint's signature and root against the tree
 * of the entries it covers, and — once the run has ended — that the log is
 * sealed: nothing after `run.exited`, nothing unsigned, nothing missing.
 */
export function verifyLog(entries: readonly AuditEntry[], checkpoints: readonly Checkpoint[], publicKeyPem: string, options: VerifyOptions): Verification {
	const publicKey = createPublicKey(publicKeyPem);
	const fingerprint = keyFingerprint(publicKey);
	const signedSize = checkpoints.at(-1)?.treeSize ?? 0;
	const chain = verifyChain(entries, checkpoints.map(checkpoint => (isCheckpoint(checkpoint) ? checkpoint.treeSize : 0)));
	const result = (failure?: Failure): Verification => ({
		ok: failure === undefined,
		state: failure?.state ?? (options.sealed ? 'sealed' : 'open'),
		entries: entries.length,
		checkpoints: checkpoints.length,
		unsigned: Math.max(0, entries.length - signedSize),
		countsByType: chain.countsByType,
		keyFingerprint: fingerprint,
		...(failure ? {failure: {what: failure.what, reason: failure.reason}} : {}),
	});
	const broken = (what: string, reason: string) => result({what, reason, state: 'broken'});
	const short = (what: string, reason: string) => result({what, reason, state: 'short'});

	if (chain.failure) {
		return result(chain.failure);
	}

	// A live run may not have signed anything yet; an ended one must have.
	if (options.sealed && entries.length > 0 && checkpoints.length === 0) {
		return short('the log', 'nothing in it is signed (there is no checkpoint)');
	}

	const {roots} = chain;
	let previousSize = 0;
	for (const [index, checkpoint] of checkpoints.entries()) {
		if (!isCheckpoint(checkpoint)) {
			return broken(`checkpoint ${index}`, 'it is not a checkpoint (a field is missing or of the wrong type)');
		}

		const what = `checkpoint ${index} (size ${checkpoint.treeSize})`;
		if (checkpoint.runId !== options.runId) {
			return broken(what, `it is for run ${checkpoint.runId}, not ${options.runId}`);
		}

		// Checkpoints only ever grow the tree: a smaller or equal size after a
		// larger one means checkpoints were reordered, repeated or rolled back.
		if (index > 0 && checkpoint.treeSize <= previousSize) {
			return broken(what, `its size does not grow past the checkpoint before it (${previousSize})`);
		}

		previousSize = checkpoint.treeSize;
		if (checkpoint.keyFingerprint !== fingerprint) {
			return broken(what, `it was signed by ${checkpoint.keyFingerprint}, not by this log's key ${fingerprint}`);
		}

		if (!verifySignature(null, checkpointMessage(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64'))) {
			return broken(what, 'its signature does not verify (it was changed)');
		}

		if (checkpoint.treeSize > entries.length) {
			return short(what, `it covers ${checkpoint.treeSize} entries but the log has ${entries.length} (entries were removed from the end)`);
		}

		const root = roots.get(checkpoint.treeSize);
		if (root === undefined || Buffer.from(root, 'latin1').toString('hex') !== checkpoint.rootHash) {
			return broken(what, 'its root does not match the entries it covers');
		}
	}

	if (!options.sealed) {
		return result();
	}

	if (signedSize < entries.length) {
		return broken(`entry ${signedSize}`, 'the run has ended, yet no signed checkpoint covers it (it was added afterwards)');
	}

	const ending = entries.findIndex(entry => entry.type === finalEntryType);
	if (ending !== -1 && ending < entries.length - 1) {
		return broken(`entry ${ending + 1}`, `it comes after ${finalEntryType}, which ends a sealed log (it was added afterwards)`);
	}

	const last = entries.at(-1);
	if (last?.type !== finalEntryType) {
		const stops = last ? `it stops at entry ${last.seq} (${last.type})` : 'it is empty';
		return short('the end of the log', `${stops}: ${finalEntryType} and the signed checkpoint over it are missing (the log was cut back, or read before the run sealed it)`);
	}

	return result();
}

function isEntry(value: unknown): value is AuditEntry {
	const entry = value as AuditEntry | null;
	return typeof entry === 'object' && entry !== null && Number.isSafeInteger(entry.seq) && typeof entry.ts === 'string' && typeof entry.type === 'string'
		&& typeof entry.data === 'object' && entry.data !== null && typeof entry.prev === 'string' && typeof entry.hash === 'string';
}

function isCheckpoint(value: unknown): value is Checkpoint {
	const checkpoint = value as Checkpoint | null;
	return typeof checkpoint === 'object' && checkpoint !== null && Number.isSafeInteger(checkpoint.treeSize) && checkpoint.treeSize >= 0
		&& typeof checkpoint.runId === 'string' && typeof checkpoint.rootHash === 'string' && typeof checkpoint.ts === 'string'
		&& typeof checkpoint.keyFingerprint === 'string' && typeof checkpoint.signature === 'string';
}
