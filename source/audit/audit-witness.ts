import {makeEntry, verifyChain, verifyLog, type AuditEntry, type Checkpoint, type Verification} from './audit-chain.js';

/**
 * The witness: one hash-chained log per MOAT_HOME, outside every run's
 * folder, holding each run's final checkpoint. A run's own folder can be cut
 * back to an earlier, validly signed prefix (its checkpoints with it); the
 * witness still holds the checkpoint the run was sealed with. Its head (the
 * hash of its last entry) can be pinned elsewhere, so the witness itself
 * cannot be cut back or rewritten up to that point unnoticed either.
 */

/** The one kind of entry the witness holds: a run's final checkpoint. */
export const witnessEntryType = 'run.sealed';

export function makeWitnessEntry(previous: AuditEntry | undefined, ts: string, checkpoint: Checkpoint): AuditEntry {
	return makeEntry(previous, ts, witnessEntryType, {...checkpoint});
}

/** Whether a witness entry holds this checkpoint (the same run, size and root). */
export function witnesses(entry: AuditEntry, checkpoint: Pick<Checkpoint, 'runId' | 'treeSize' | 'rootHash'>): boolean {
	const held = entry.data as Partial<Checkpoint>;
	return entry.type === witnessEntryType && held.runId === checkpoint.runId && held.treeSize === checkpoint.treeSize && held.rootHash === checkpoint.rootHash;
}

export type WitnessVerification = {
	ok: boolean;
	entries: number;
	/** The hash of the last entry, to pin elsewhere; undefined while the witness is empty. */
	head?: {seq: number; hash: string};
	/** Whether a head pinned earlier was checked (and found). */
	pinned: boolean;
	failure?: {what: string; reason: string};
};

/**
 * Checks the witness's own chain and, with `pinnedHead`, that the entry a
 * head pinned earlier is still in it: a chain from genesis to that hash
 * means nothing up to it was removed, changed or reordered.
 */
export function verifyWitness(entries: readonly AuditEntry[], pinnedHead?: string): WitnessVerification {
	const last = entries.at(-1);
	const base = {entries: entries.length, pinned: pinnedHead !== undefined, ...(last?.hash ? {head: {seq: last.seq, hash: last.hash}} : {})};
	const chain = verifyChain(entries);
	if (chain.failure) {
		return {...base, ok: false, failure: {what: `witness ${chain.failure.what}`, reason: chain.failure.reason}};
	}

	const stranger = entries.find(entry => entry.type !== witnessEntryType || !isCheckpointData(entry.data));
	if (stranger) {
		return {...base, ok: false, failure: {what: `witness entry ${stranger.seq}`, reason: `it is not a ${witnessEntryType} entry holding a checkpoint`}};
	}

	if (pinnedHead !== undefined && !entries.some(entry => entry.hash === pinnedHead)) {
		return {
			...base,
			ok: false,
			failure: {what: 'the pinned head', reason: `no witness entry has the hash ${pinnedHead}: the witness was cut back or rewritten since it was pinned`},
		};
	}

	return {...base, ok: true};
}

/** The last final checkpoint the witness holds for a run, if any. */
export function witnessedCheckpoint(entries: readonly AuditEntry[], runId: string): Checkpoint | undefined {
	return entries.findLast(entry => entry.type === witnessEntryType && (entry.data as Partial<Checkpoint>).runId === runId)?.data as Checkpoint | undefined;
}

/**
 * Whether a run's log must be sealed: it has ended by its record, or the
 * witness says it was sealed (a record set back to `running` does not make
 * a cut-back log look like a live one).
 */
export function mustBeSealed(runActive: boolean, witnessed: Checkpoint | undefined): boolean {
	return !runActive || witnessed !== undefined;
}

/**
 * What the witness says about a run's log, given the checkpoints the log
 * holds: undefined when they agree. `sealed` is whether the log itself
 * verified as sealed (then the witness must hold its final checkpoint).
 */
export function compareWithWitness(
	checkpoints: readonly Checkpoint[],
	entries: number,
	witnessed: Checkpoint | undefined,
	sealed: boolean,
): {what: string; reason: string; state: 'short' | 'broken'} | undefined {
	if (witnessed) {
		const held = checkpoints.some(checkpoint => checkpoint.treeSize === witnessed.treeSize && checkpoint.rootHash === witnessed.rootHash && checkpoint.signature === witnessed.signature);
		if (held) {
			return undefined;
		}

		const root = `${witnessed.rootHash.slice(0, 16)}…`;
		return entries < witnessed.treeSize
			? {what: 'the log', reason: `the witness holds its final checkpoint of ${witnessed.treeSize} entries (root ${root}), but the log has ${entries}: it was cut back`, state: 'short'}
			: {what: 'the log', reason: `the witness holds its final checkpoint of ${witnessed.treeSize} entries (root ${root}), which the log does not: it was rewritten`, state: 'broken'};
	}

	if (sealed) {
		return {
			what: 'the witness',
			reason: 'it holds no final checkpoint of this run, though the log is sealed: the witness was cut back or replaced, or the run was sealed by a moat that kept none',
			state: 'broken',
		};
	}

	return undefined;
}

function isCheckpointData(data: Record<string, unknown>): boolean {
	return typeof data.runId === 'string' && Number.isSafeInteger(data.treeSize) && typeof data.rootHash === 'string'
		&& typeof data.ts === 'string' && typeof data.keyFingerprint === 'string' && typeof data.signature === 'string';
}

/** A log's verification with what the witness says folded in: the first failure stands. */
export function withWitness<T extends {ok: boolean; state: string; failure?: {what: string; reason: string}}>(
	verification: T,
	comparison: ReturnType<typeof compareWithWitness>,
): T {
	if (!comparison || !verification.ok) {
		return verification;
	}

	return {...verification, ok: false, state: comparison.state, failure: {what: comparison.what, reason: comparison.reason}};
}

/** A run's log checked as `moat audit` and the dashboard show it: by itself, then against the witness. */
export type RunAuditCheck = {
	verification: Verification;
	witness: WitnessVerification;
	/** The final checkpoint the witness holds for the run, if any. */
	witnessed: Checkpoint | undefined;
	/** Whether the log was required to be sealed. */
	mustEnd: boolean;
};

/**
 * Checks a run's log (entries and checkpoints as read) against its key and
 * the witness log. `ended` is whether the run is known to have ended; a run
 * the witness holds a final checkpoint for has ended whatever else says so.
 * A damaged witness vouches for nothing: the check fails closed.
 */
export function checkRunAudit(
	log: {entries: readonly AuditEntry[]; checkpoints: readonly Checkpoint[]; publicKey: string; witness: readonly AuditEntry[]},
	runId: string,
	ended: boolean,
): RunAuditCheck {
	const witness = verifyWitness(log.witness);
	const witnessed = witness.ok ? witnessedCheckpoint(log.witness, runId) : undefined;
	const mustEnd = mustBeSealed(!ended, witnessed);
	const own = verifyLog(log.entries, log.checkpoints, log.publicKey, {runId, sealed: mustEnd});
	const comparison = witness.ok
		? compareWithWitness(log.checkpoints, log.entries.length, witnessed, own.state === 'sealed')
		: {what: 'the witness log', reason: `${witness.failure!.what}: ${witness.failure!.reason}`, state: 'broken' as const};
	return {verification: withWitness(own, comparison), witness, witnessed, mustEnd};
}
