import {createHash, createPublicKey, verify as verifySignature, type KeyObject} from 'node:crypto';
import {canonicalJson} from './canonical-json.js';
import {leafHash, rootsAtSizes} from './merkle.js';

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
] as const;
export type AuditEventType = (typeof auditEventTypes)[number];

/** One line of the log. `hash` covers everything else, `prev` chains it to the line before. */
export type AuditEntry = {seq: number; ts: string; type: string; data: Record<string, unknown>; prev: string; hash: string};

/** A signed statement of one run's tree size and root at a moment. */
export type Checkpoint = {runId: string; treeSize: number; rootHash: string; ts: string; keyFingerprint: string; signature: string};

export const genesisHash = '0'.repeat(64);

export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
	const {seq, ts, type, data, prev} = entry;
	// canonicalJson({seq, ts, type, data, prev}) spelled out with its keys in
	// canonical order (data, prev, seq, ts, type): verification runs this for
	// every entry, and the outer object's sort is pure overhead.
	const body = `{"data":${canonicalJson(data)},"prev":${canonicalJson(prev)},"seq":${canonicalJson(seq)},"ts":${canonicalJson(ts)},"type":${canonicalJson(type)}}`;
	return createHash('sha256').update(body).digest('hex');
}

export function makeEntry(previous: AuditEntry | undefined, ts: string, type: string, data: Record<string, unknown>): AuditEntry {
	// The data as it will be stored and read back (a Date becomes its string),
	// so the hash covers exactly what the file holds.
	const stored = JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
	const unsigned = {seq: previous ? previous.seq + 1 : 0, ts, type, data: stored, prev: previous?.hash ?? genesisHash};
	return {...unsigned, hash: entryHash(unsigned)};
}

/** A Merkle leaf per entry: the entry's hash. */
export function entryLeaves(entries: readonly AuditEntry[]): Buffer[] {
	return entries.map(entry => leafHash(Buffer.from(entry.hash, 'hex')));
}

/** What a checkpoint signs: the run too, so a sealed log cannot pass for another run's. */
export function checkpointMessage(checkpoint: Pick<Checkpoint, 'runId' | 'treeSize' | 'rootHash' | 'ts'>): Buffer {
	return Buffer.from(canonicalJson({runId: checkpoint.runId, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, ts: checkpoint.ts}));
}

/** `SHA256:…` of the public key's DER form, as people compare it. */
export function keyFingerprint(publicKey: KeyObject): string {
	return `SHA256:${createHash('sha256').update(publicKey.export({type: 'spki', format: 'der'})).digest('base64').replace(/=+$/, '')}`;
}

export type Verification = {
	ok: boolean;
	entries: number;
	checkpoints: number;
	/** Entries after the last checkpoint: chained, but not yet signed. */
	unsigned: number;
	countsByType: Record<string, number>;
	keyFingerprint: string;
	/** The first thing that does not hold: which entry or checkpoint, and why. */
	failure?: {what: string; reason: string};
};

/**
 * Checks a log completely: every entry's hash, the chain of `prev` links and
 * sequence numbers, and every checkpoint's signature and root against the
 * tree of the entries it covers.
 */
export type VerifyOptions = {
	/** The run the log belongs to: every checkpoint must name it. */
	runId: string;
	/** The run has ended: every entry must be covered by a checkpoint. */
	sealed: boolean;
};

export function verifyLog(entries: readonly AuditEntry[], checkpoints: readonly Checkpoint[], publicKeyPem: string, options: VerifyOptions): Verification {
	const publicKey = createPublicKey(publicKeyPem);
	const fingerprint = keyFingerprint(publicKey);
	const countsByType: Record<string, number> = {};
	const signedSize = checkpoints.at(-1)?.treeSize ?? 0;
	const result = (failure?: Verification['failure']): Verification => ({
		ok: failure === undefined,
		entries: entries.length,
		checkpoints: checkpoints.length,
		unsigned: Math.max(0, entries.length - signedSize),
		countsByType,
		keyFingerprint: fingerprint,
		...(failure ? {failure} : {}),
	});

	let previous: AuditEntry | undefined;
	const leaves: Buffer[] = [];
	for (const [index, entry] of entries.entries()) {
		if (!isEntry(entry)) {
			return result({what: `entry ${index}`, reason: 'it is not an audit entry (a field is missing or of the wrong type)'});
		}

		if (entry.seq !== index) {
			return result({what: `entry ${index}`, reason: `its sequence number is ${entry.seq}, expected ${index} (an entry was removed, added or moved)`});
		}

		if (entry.prev !== (previous?.hash ?? genesisHash)) {
			return result({what: `entry ${entry.seq}`, reason: 'it does not chain to the entry before it'});
		}

		if (entryHash(entry) !== entry.hash) {
			return result({what: `entry ${entry.seq}`, reason: 'its contents do not match its hash (it was changed)'});
		}

		countsByType[entry.type] = (countsByType[entry.type] ?? 0) + 1;
		leaves.push(leafHash(Buffer.from(entry.hash, 'hex')));
		previous = entry;
	}

	// A live run may not have signed anything yet; an ended one must have.
	if (options.sealed && entries.length > 0 && checkpoints.length === 0) {
		return result({what: 'the log', reason: 'nothing in it is signed (there is no checkpoint)'});
	}

	const roots = rootsAtSizes(leaves, checkpoints.map(checkpoint => (isCheckpoint(checkpoint) ? checkpoint.treeSize : 0)));
	let previousSize = 0;
	for (const [index, checkpoint] of checkpoints.entries()) {
		if (!isCheckpoint(checkpoint)) {
			return result({what: `checkpoint ${index}`, reason: 'it is not a checkpoint (a field is missing or of the wrong type)'});
		}

		const what = `checkpoint ${index} (size ${checkpoint.treeSize})`;
		if (checkpoint.runId !== options.runId) {
			return result({what, reason: `it is for run ${checkpoint.runId}, not ${options.runId}`});
		}

		// Checkpoints only ever grow the tree: a smaller or equal size after a
		// larger one means checkpoints were reordered, repeated or rolled back.
		if (index > 0 && checkpoint.treeSize <= previousSize) {
			return result({what, reason: `its size does not grow past the checkpoint before it (${previousSize})`});
		}

		previousSize = checkpoint.treeSize;
		if (checkpoint.keyFingerprint !== fingerprint) {
			return result({what, reason: `it was signed by ${checkpoint.keyFingerprint}, not by this log's key ${fingerprint}`});
		}

		if (!verifySignature(null, checkpointMessage(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64'))) {
			return result({what, reason: 'its signature does not verify (it was changed)'});
		}

		if (checkpoint.treeSize > entries.length) {
			return result({what, reason: `it covers ${checkpoint.treeSize} entries but the log has ${entries.length} (entries were removed from the end)`});
		}

		if (roots.get(checkpoint.treeSize)?.toString('hex') !== checkpoint.rootHash) {
			return result({what, reason: 'its root does not match the entries it covers'});
		}
	}

	if (options.sealed && signedSize < entries.length) {
		return result({what: `entry ${signedSize}`, reason: 'the run has ended, yet no signed checkpoint covers it (it was added afterwards)'});
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
