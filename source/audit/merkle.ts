import {hash} from 'node:crypto';

/**
 * A Merkle tree over the audit entries, hashed as RFC 6962 (Certificate
 * Transparency) does it: leaves are SHA-256(0x00 ‖ data), inner nodes
 * SHA-256(0x01 ‖ left ‖ right), so a leaf can never pass for a node. The
 * proofs are computed from the leaves, and verified from nothing but the
 * proof, the leaf and the root.
 */

/**
 * A SHA-256 digest held as a 32-character binary (latin1) string. Node hashes
 * into a string several times faster than into a new Buffer (a Buffer is an
 * allocation the GC must track; a short string is not), and verifying a log
 * is millions of hashes, so the tree is built on these and turned into
 * Buffers only at the edges.
 */
export type Digest = string;

// Each hash is one call over a scratch buffer that holds the prefix and the
// parts (hashing is synchronous, so one buffer serves all).
let scratch = Buffer.alloc(65);
const nodeInput = scratch.subarray(0, 65);
const hexLeafInput = scratch.subarray(0, 33);

function prefixed(prefix: number, data: Buffer): Digest {
	const length = 1 + data.length;
	if (scratch.length < length) {
		scratch = Buffer.alloc(length);
	}

	scratch[0] = prefix;
	data.copy(scratch, 1);
	return hash('sha256', scratch.subarray(0, length), 'binary');
}

export const toDigest = (hash: Buffer): Digest => hash.toString('binary');
export const fromDigest = (digest: Digest): Buffer => Buffer.from(digest, 'binary');

/** The leaf of a 32-byte hash spelled in hex (an entry's `hash`), without a Buffer in between. */
export function leafDigestOfHex(hex: string): Digest {
	hexLeafInput[0] = 0;
	// Anything but 64 hex digits decodes short, as Buffer.from would decode it.
	if (hex.length !== 64 || hexLeafInput.write(hex, 1, 32, 'hex') !== 32) {
		return prefixed(0, Buffer.from(hex, 'hex'));
	}

	return hash('sha256', hexLeafInput, 'binary');
}

export function nodeDigest(left: Digest, right: Digest): Digest {
	if (left.length !== 32 || right.length !== 32) {
		return prefixed(1, Buffer.concat([fromDigest(left), fromDigest(right)]));
	}

	nodeInput[0] = 1;
	nodeInput.write(left, 1, 32, 'latin1');
	nodeInput.write(right, 33, 32, 'latin1');
	return hash('sha256', nodeInput, 'binary');
}

/** The root of the empty tree: SHA-256 of nothing. */
const emptyRoot = (): Digest => hash('sha256', Buffer.alloc(0), 'binary');

export function leafHash(data: Buffer): Buffer {
	return fromDigest(prefixed(0, data));
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
	return fromDigest(prefixed(1, Buffer.concat([left, right])));
}

/** The largest power of two smaller than n (n > 1). */
function split(n: number): number {
	let k = 1;
	while (k * 2 < n) {
		k *= 2;
	}

	return k;
}

/**
 * The tree's right edge as complete subtrees of decreasing power-of-two
 * sizes (a binary counter of leaves): adding a leaf merges equal neighbours,
 * and folding the edge from the right gives MTH. This computes roots in one
 * pass, in constant memory per power of two, however many leaves there are.
 */
export type DigestTreeBuilder = {add(leaf: Digest): void; root(): Digest; readonly size: number};

export function createDigestTreeBuilder(): DigestTreeBuilder {
	// The edge's subtrees, largest first: their sizes are the set bits of `size`.
	const edge: Digest[] = [];
	let size = 0;
	return {
		add(leaf) {
			let node = leaf;
			// Each trailing set bit of the old size is a subtree of the new leaf's size to merge with.
			for (let bits = size; bits % 2 === 1; bits = (bits - 1) / 2) {
				node = nodeDigest(edge.pop()!, node);
			}

			edge.push(node);
			size++;
		},
		root() {
			if (edge.length === 0) {
				return emptyRoot();
			}

			let root = edge.at(-1)!;
			for (let index = edge.length - 2; index >= 0; index--) {
				root = nodeDigest(edge[index]!, root);
			}

			return root;
		},
		get size() {
			return size;
		},
	};
}

export function createTreeBuilder(): {add(leaf: Buffer): void; root(): Buffer; readonly size: number} {
	const builder = createDigestTreeBuilder();
	return {
		add(leaf) {
			builder.add(toDigest(leaf));
		},
		root() {
			return fromDigest(builder.root());
		},
		get size() {
			return builder.size;
		},
	};
}

/** MTH(D[n]) over leaf hashes. The empty tree hashes to SHA-256 of nothing. */
export function treeRoot(leaves: readonly Buffer[]): Buffer {
	const builder = createDigestTreeBuilder();
	for (const leaf of leaves) {
		builder.add(toDigest(leaf));
	}

	return fromDigest(builder.root());
}

/** The roots of the trees of the first `size` leaves, for each size asked, in one pass. */
export function digestRootsAtSizes(leaves: readonly Digest[], sizes: readonly number[]): Map<number, Digest> {
	const wanted = new Set(sizes);
	const roots = new Map<number, Digest>();
	const builder = createDigestTreeBuilder();
	if (wanted.has(0)) {
		roots.set(0, builder.root());
	}

	for (const leaf of leaves) {
		builder.add(leaf);
		if (wanted.has(builder.size)) {
			roots.set(builder.size, builder.root());
		}
	}

	return roots;
}

export function rootsAtSizes(leaves: readonly Buffer[], sizes: readonly number[]): Map<number, Buffer> {
	const roots = digestRootsAtSizes(leaves.map(leaf => toDigest(leaf)), sizes);
	return new Map([...roots].map(([size, root]) => [size, fromDigest(root)]));
}

/** PATH(m, D[n]): the audit path proving leaf m is in the tree of these leaves. */
export function inclusionProof(index: number, leaves: readonly Buffer[]): Buffer[] {
	if (leaves.length <= 1) {
		return [];
	}

	const k = split(leaves.length);
	return index < k
		? [...inclusionProof(index, leaves.slice(0, k)), treeRoot(leaves.slice(k))]
		: [...inclusionProof(index - k, leaves.slice(k)), treeRoot(leaves.slice(0, k))];
}

/** RFC 9162 §2.1.3.2: recomputes the root from a leaf and its path. */
export function verifyInclusion(index: number, treeSize: number, leaf: Buffer, proof: readonly Buffer[], root: Buffer): boolean {
	if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) {
		return false;
	}

	let fn = index;
	let sn = treeSize - 1;
	let hash = leaf;
	for (const sibling of proof) {
		if (sn === 0) {
			return false;
		}

		if (fn % 2 === 1 || fn === sn) {
			hash = nodeHash(sibling, hash);
			if (fn % 2 === 0) {
				while (fn % 2 === 0 && fn !== 0) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else {
			hash = nodeHash(hash, sibling);
		}

		fn >>= 1;
		sn >>= 1;
	}

	return sn === 0 && hash.equals(root);
}

/** SUBPROOF(m, D[n], b) from RFC 6962 §2.1.2. */
function subproof(m: number, leaves: readonly Buffer[], complete: boolean): Buffer[] {
	const n = leaves.length;
	if (m === n) {
		return complete ? [] : [treeRoot(leaves)];
	}

	const k = split(n);
	return m <= k
		? [...subproof(m, leaves.slice(0, k), complete), treeRoot(leaves.slice(k))]
		: [...subproof(m - k, leaves.slice(k), false), treeRoot(leaves.slice(0, k))];
}

/** PROOF(m, D[n]): that the first m leaves' tree is a prefix of this one. */
export function consistencyProof(m: number, leaves: readonly Buffer[]): Buffer[] {
	return m === 0 || m > leaves.length ? [] : subproof(m, leaves, true);
}

/** RFC 9162 §2.1.4.2: checks that `oldRoot` (size m) is a prefix of `newRoot` (size n). */
export function verifyConsistency(m: number, n: number, proof: readonly Buffer[], oldRoot: Buffer, newRoot: Buffer): boolean {
	if (m === n) {
		return proof.length === 0 && oldRoot.equals(newRoot);
	}

	if (m === 0 || m > n || proof.length === 0) {
		return false;
	}

	const path = [...proof];
	// When m is a power of two the old root is itself the first node.
	if ((m & (m - 1)) === 0) {
		path.unshift(oldRoot);
	}

	let fn = m - 1;
	let sn = n - 1;
	while (fn % 2 === 1) {
		fn >>= 1;
		sn >>= 1;
	}

	let fr = path[0]!;
	let sr = path[0]!;
	for (const c of path.slice(1)) {
		if (sn === 0) {
			return false;
		}

		if (fn % 2 === 1 || fn === sn) {
			fr = nodeHash(c, fr);
			sr = nodeHash(c, sr);
			if (fn % 2 === 0) {
				while (fn % 2 === 0 && fn !== 0) {
					fn >>= 1;
					sn >>= 1;
				}
			}
		} else {
			sr = nodeHash(sr, c);
		}

		fn >>= 1;
		sn >>= 1;
	}

	return sn === 0 && fr.equals(oldRoot) && sr.equals(newRoot);
}

/**
 * Every leaf's audit path at once. The tree is built level by level, an
 * unpaired last node moving up unchanged — the same tree MTH describes —
 * so each path is read off in O(log n) instead of recomputing subtrees.
 * Each node becomes a Buffer once, shared by every path that holds it.
 */
export function allInclusionProofs(leaves: readonly Buffer[]): Buffer[][] {
	const levels: Buffer[][] = [[...leaves]];
	let below = leaves.map(leaf => toDigest(leaf));
	while (below.length > 1) {
		const above: Digest[] = [];
		for (let index = 0; index < below.length; index += 2) {
			above.push(index + 1 < below.length ? nodeDigest(below[index]!, below[index + 1]!) : below[index]!);
		}

		levels.push(above.map(node => fromDigest(node)));
		below = above;
	}

	return leaves.map((_, leafIndex) => {
		const path: Buffer[] = [];
		let index = leafIndex;
		for (let level = 0; level < levels.length - 1; level++) {
			const nodes = levels[level]!;
			const sibling = index ^ 1;
			if (sibling < nodes.length) {
				path.push(nodes[sibling]!);
			}

			index >>= 1;
		}

		return path;
	});
}
