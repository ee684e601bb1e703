import {createHash, createPublicKey, verify as verifySignature, type KeyObject} from 'node:crypto';
import {canonicalJson} from './canonical-json.js';
import {leafHash, rootsAtSizes} from './merkle.js';

/** The kinds of events the log records (SPEC §9). */
export const auditEventTypes = [
	'run.created',
	'run.started',
	'run.stopped',
	'run.exited',
	'terminal.attached',
	'terminal.detached',
	'credential.injected',
	'request.blocked',
	'secret.resolved',
	'ssh.signed',
	'policy.changed',
	'grant.changed',
] as const;
export type AuditEventType = (typeof auditEventTypes)[number];

/** One line of the log. `hash` covers everything else, `prev` chains it to the line before. */
export type AuditEntry = {seq: number; ts: string; type: string; data: Record<string, unknown>; prev: string; hash: string};

/** A signed statement of the tree's size and root at a moment. */
export type Checkpoint = {treeSize: number; rootHash: string; ts: string; keyFingerprint: string; signature: string};

export const genesisHash = '0'.repeat(64);

export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
	const {seq, ts, type, data, prev} = entry;
	return createHash('sha256').update(canonicalJson({seq, ts, type, data, prev})).digest('hex');
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

export function checkpointMessage(checkpoint: Pick<Checkpoint, 'treeSize' | 'rootHash' | 'ts'>): Buffer {
	return Buffer.from(canonicalJson({treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash, ts: checkpoint.ts}));
}

/** `SHA256:…` of the public key's DER form, as people compare it. */
export function keyFingerprint(publicKey: KeyObject): string {
	return `SHA256:${createHash('sha256').update(publicKey.export({type: 'spki', format: 'der'})).digest('base64').replace(/=+$/, '')}`;
}

export type Verification = {
	ok: boolean;
	entries: number;
	checkpoints: number;
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
export function verifyLog(entries: readonly AuditEntry[], checkpoints: readonly Checkpoint[], publicKeyPem: string): Verification {
	const publicKey = createPublicKey(publicKeyPem);
	const fingerprint = keyFingerprint(publicKey);
	const countsByType: Record<string, number> = {};
	const result = (failure?: Verification['failure']): Verification => ({
		ok: failure === undefined,
		entries: entries.length,
		checkpoints: checkpoints.length,
		countsByType,
		keyFingerprint: fingerprint,
		...(failure ? {failure} : {}),
	});

	let previous: AuditEntry | undefined;
	const leaves: Buffer[] = [];
	for (const [index, entry] of entries.entries()) {
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

	const roots = rootsAtSizes(leaves, checkpoints.map(checkpoint => checkpoint.treeSize));
	for (const [index, checkpoint] of checkpoints.entries()) {
		const what = `checkpoint ${index} (size ${checkpoint.treeSize})`;
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

	return result();
}
