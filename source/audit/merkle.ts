import {hash} from 'node:crypto';

/**
 * A Merkle tree over the audit entries, hashed as RFC 6962 (Certificate
 * Transparency) does it: leaves are SHA-256(0x00 ‖ data), inner nodes
 * SHA-256(0x01 ‖ left ‖ right), so a leaf can never pass for a node. The
 * proofs are computed from the leaves, and verified from nothing but the
 * proof, the leaf and the root.
 */

// Millions of hashes: each is one call over a scratch buffer that holds the
// prefix and the parts (hashing is synchronous, so one buffer serves all),
// a third cheaper than a hash object fed part by part.
let scratch = Buffer.alloc(65);

function prefixed(prefix: number, parts: readonly Buffer[]): Buffer {
	const length = 1 + parts.reduce((sum, part) => sum + part.length, 0);
	if (scratch.length < length) {
		scratch = Buffer.alloc(length);
	}

	scratch[0] = prefix;
	let offset = 1;
	for (const part of parts) {
		offset += part.copy(scratch, offset);
	}

	return hash('sha256', scratch.subarray(0, length), 'buffer');
}

/** The root of the empty tree: SHA-256 of nothing. */
const emptyRoot = () => hash('sha256', Buffer.alloc(0), 'buffer');

export function leafHash(data: Buffer): Buffer {
	return prefixed(0, [data]);
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
	return prefixed(1, [left, right]);
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
export function createTreeBuilder(): {add(leaf: Buffer): void; root(): Buffer; readonly size: number} {
	const edge: Array<{size: number; hash: Buffer}> = [];
	let size = 0;
	return {
		add(leaf) {
			let node = {size: 1, hash: leaf};
			while (edge.length > 0 && edge.at(-1)!.size === node.size) {
				const left = edge.pop()!;
				node = {size: left.size * 2, hash: nodeHash(left.hash, node.hash)};
			}

			edge.push(node);
			size++;
		},
		root() {
			if (edge.length === 0) {
				return emptyRoot();
			}

			let root = edge.at(-1)!.hash;
			for (let index = edge.length - 2; index >= 0; index--) {
				root = nodeHash(edge[index]!.hash, root);
			}

			return root;
		},
		get size() {
			return size;
		},
	};
}

/** MTH(D[n]) over leaf hashes. The empty tree hashes to SHA-256 of nothing. */
export function treeRoot(leaves: readonly Buffer[]): Buffer {
	const builder = createTreeBuilder();
	for (const leaf of leaves) {
		builder.add(leaf);
	}

	return builder.root();
}

/** The roots of the trees of the first `size` leaves, for each size asked, in one pass. */
export function rootsAtSizes(leaves: readonly Buffer[], sizes: readonly number[]): Map<number, Buffer> {
	const wanted = new Set(sizes);
	const roots = new Map<number, Buffer>();
	const builder = createTreeBuilder();
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
 */
export function allInclusionProofs(leaves: readonly Buffer[]): Buffer[][] {
	const levels: Buffer[][] = [[...leaves]];
	while (levels.at(-1)!.length > 1) {
		const below = levels.at(-1)!;
		const above: Buffer[] = [];
		for (let index = 0; index < below.length; index += 2) {
			above.push(index + 1 < below.length ? nodeHash(below[index]!, below[index + 1]!) : below[index]!);
		}

		levels.push(above);
	}

	return leaves.map((_, leafIndex) => {
		const path: Buffer[] = [];
		let index = leafIndex;
		for (const level of levels.slice(0, -1)) {
			const sibling = index ^ 1;
			if (sibling < level.length) {
				path.push(level[sibling]!);
			}

			index >>= 1;
		}

		return path;
	});
}
