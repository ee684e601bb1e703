import {createPublicKey} from 'node:crypto';
import {entryLeaves, keyFingerprint, verifyLog, type AuditEntry, type Checkpoint, type Verification} from './audit-chain.js';
import {allInclusionProofs, treeRoot, verifyInclusion} from './merkle.js';

export const bundleFormat = 'moat-audit-bundle/1';

/** Everything needed to check a run's log with nothing else at hand. */
export type AuditBundle = {
	format: typeof bundleFormat;
	runId: string;
	publicKey: string;
	entries: AuditEntry[];
	checkpoints: Checkpoint[];
	/** For each entry, its inclusion proof in the tree of the last checkpoint. */
	proofs: Array<{seq: number; treeSize: number; path: string[]}>;
};

export function makeBundle(runId: string, publicKey: string, entries: AuditEntry[], checkpoints: Checkpoint[]): AuditBundle {
	const treeSize = checkpoints.at(-1)?.treeSize ?? 0;
	const leaves = entryLeaves(entries.slice(0, treeSize));
	return {
		format: bundleFormat,
		runId,
		publicKey,
		entries,
		checkpoints,
		proofs: allInclusionProofs(leaves).map((path, index) => ({seq: index, treeSize, path: path.map(hash => hash.toString('hex'))})),
	};
}

export type BundleVerification = Verification & {
	/** Whether the signing key was pinned with --key (without it, origin is not proven). */
	originPinned: boolean;
};

/**
 * Verifies a bundle from its own contents: the chain, the checkpoints and
 * every inclusion proof (recomputed, not trusted), and that the log is
 * sealed — it ends with run.exited under a signed checkpoint — since a
 * bundle cannot tell a log cut back from one that ended there. With `pinnedKey`, the
 * checkpoints must also be signed by that key — otherwise a bundle re-signed
 * with a fresh key would prove only that it is consistent.
 */
export function verifyBundle(bundle: AuditBundle, pinnedKey?: string): BundleVerification {
	// A bundle read from a file may carry any format, whatever its type says.
	if ((bundle.format as string) !== bundleFormat) {
		throw new Error(`its format is ${JSON.stringify(bundle.format ?? null)}, not ${bundleFormat}`);
	}

	const base = verifyLog(bundle.entries, bundle.checkpoints, bundle.publicKey, {runId: bundle.runId, sealed: true});
	const originPinned = pinnedKey !== undefined;
	if (!base.ok) {
		return {...base, originPinned};
	}

	const fingerprint = keyFingerprint(createPublicKey(bundle.publicKey));
	const fail = (what: string, reason: string, state: 'short' | 'broken' = 'broken'): BundleVerification => ({...base, ok: false, state, originPinned, failure: {what, reason}});
	if (pinnedKey !== undefined && pinnedKey !== fingerprint) {
		return fail('the signing key', `it is ${fingerprint}, not the pinned ${pinnedKey}`);
	}

	const last = bundle.checkpoints.at(-1);
	if (!last) {
		return fail('the bundle', 'it has no signed checkpoint', 'short');
	}

	// Entries after the last checkpoint are signed by nothing: a bundle
	// must not vouch for them.
	if (bundle.entries.length > last.treeSize) {
		return fail(`entry ${last.treeSize}`, 'no signed checkpoint covers it');
	}

	const root = Buffer.from(last.rootHash, 'hex');
	const leaves = entryLeaves(bundle.entries);
	if (!treeRoot(leaves.slice(0, last.treeSize)).equals(root)) {
		return fail('the last checkpoint', 'its root does not match the entries');
	}

	for (const proof of bundle.proofs) {
		const leaf = leaves[proof.seq];
		if (!leaf || proof.treeSize !== last.treeSize || !verifyInclusion(proof.seq, proof.treeSize, leaf, proof.path.map(hash => Buffer.from(hash, 'hex')), root)) {
			return fail(`the inclusion proof of entry ${proof.seq}`, 'it does not lead to the signed root');
		}
	}

	if (bundle.proofs.length !== last.treeSize) {
		return fail('the bundle', `it proves ${bundle.proofs.length} of ${last.treeSize} entries`);
	}

	return {...base, originPinned};
}
