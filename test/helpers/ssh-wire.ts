import {generateKeyPairSync, sign, type KeyObject} from 'node:crypto';
import {wireString} from '../../source/sshagent/agent-protocol.js';

/**
 * SSH public key and signature blobs built from node:crypto keys, written
 * here from the RFCs (4253 §6.6, 5656 §3.1, 8709 §4, 8332 §3) rather than
 * with the code under test, so the tests check moat's reading of them
 * against an independent writer.
 */

/** An SSH mpint (RFC 4251 §5): big-endian, no leading zeros, a zero byte first when the top bit is set. */
export function mpint(value: Buffer): Buffer {
	let start = 0;
	while (start < value.length && value[start] === 0) {
		start++;
	}

	const trimmed = value.subarray(start);
	return wireString(trimmed.length > 0 && trimmed[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

export const curveSizes = {
	nistp256: {crv: 'P-256', node: 'prime256v1', bytes: 32, hash: 'sha256'},
	nistp384: {crv: 'P-384', node: 'secp384r1', bytes: 48, hash: 'sha384'},
	nistp521: {crv: 'P-521', node: 'secp521r1', bytes: 66, hash: 'sha512'},
} as const;

export type CurveName = keyof typeof curveSizes;

export type TestKey =
	| {kind: 'ed25519'; privateKey: KeyObject; publicKey: KeyObject; blob: Buffer}
	| {kind: 'ecdsa'; curve: CurveName; privateKey: KeyObject; publicKey: KeyObject; blob: Buffer}
	| {kind: 'rsa'; privateKey: KeyObject; publicKey: KeyObject; blob: Buffer};

function jwkPart(key: KeyObject, part: 'x' | 'y' | 'e' | 'n'): Buffer {
	return Buffer.from(key.export({format: 'jwk'})[part]!, 'base64url');
}

/** An Ed25519 key and its blob: `string "ssh-ed25519", string key` (RFC 8709 §4). */
export function ed25519Key(): TestKey {
	const {privateKey, publicKey} = generateKeyPairSync('ed25519');
	return {kind: 'ed25519', privateKey, publicKey, blob: Buffer.concat([wireString('ssh-ed25519'), wireString(jwkPart(publicKey, 'x'))])};
}

/** An ECDSA key and its blob: `string "ecdsa-sha2-CURVE", string CURVE, string Q` with Q uncompressed (RFC 5656 §3.1). */
export function ecdsaKey(curve: CurveName = 'nistp256'): TestKey {
	const {privateKey, publicKey} = generateKeyPairSync('ec', {namedCurve: curveSizes[curve].node});
	const point = Buffer.concat([Buffer.from([4]), jwkPart(publicKey, 'x'), jwkPart(publicKey, 'y')]);
	return {kind: 'ecdsa', curve, privateKey, publicKey, blob: Buffer.concat([wireString(`ecdsa-sha2-${curve}`), wireString(curve), wireString(point)])};
}

/** An RSA key and its blob: `string "ssh-rsa", mpint e, mpint n` (RFC 4253 §6.6). */
export function rsaKey(bits = 2048): TestKey {
	const {privateKey, publicKey} = generateKeyPairSync('rsa', {modulusLength: bits});
	return {kind: 'rsa', privateKey, publicKey, blob: Buffer.concat([wireString('ssh-rsa'), mpint(jwkPart(publicKey, 'e')), mpint(jwkPart(publicKey, 'n'))])};
}

/** A signature blob `string algorithm, string signature`. */
export function signatureBlob(algorithm: string, signature: Buffer): Buffer {
	return Buffer.concat([wireString(algorithm), wireString(signature)]);
}

export type RsaAlgorithm = 'rsa-sha2-256' | 'rsa-sha2-512' | 'ssh-rsa';

const rsaHashes: Record<RsaAlgorithm, string> = {'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1'};

/** The raw ECDSA signature (r ‖ s, each `bytes` long) as SSH carries it: `mpint r, mpint s` (RFC 5656 §3.1.2). */
export function ecdsaSignatureBody(rawSignature: Buffer, bytes: number): Buffer {
	return Buffer.concat([mpint(rawSignature.subarray(0, bytes)), mpint(rawSignature.subarray(bytes))]);
}

/** The SSH signature blob of `key` over `data` (RSA: `algorithm`, by default rsa-sha2-256). */
export function signSsh(key: TestKey, data: Buffer, algorithm: RsaAlgorithm = 'rsa-sha2-256'): Buffer {
	if (key.kind === 'ed25519') {
		return signatureBlob('ssh-ed25519', sign(null, data, key.privateKey));
	}

	if (key.kind === 'ecdsa') {
		const {hash, bytes} = curveSizes[key.curve];
		const raw = sign(hash, data, {key: key.privateKey, dsaEncoding: 'ieee-p1363'});
		return signatureBlob(`ecdsa-sha2-${key.curve}`, ecdsaSignatureBody(raw, bytes));
	}

	return signatureBlob(algorithm, sign(rsaHashes[algorithm], data, key.privateKey));
}

/** What ssh signs for a publickey login (RFC 4252 §7), or a host-bound one (OpenSSH PROTOCOL §2.5) when `hostKey` is given. */
export function userauthData(options: {sessionId: Buffer; keyBlob: Buffer; user?: string; algorithm?: string; hostKey?: Buffer; method?: string; hasSignature?: boolean; messageType?: number}): Buffer {
	const method = options.method ?? (options.hostKey ? 'publickey-hostbound-v00@openssh.com' : 'publickey');
	return Buffer.concat([
		wireString(options.sessionId),
		Buffer.from([options.messageType ?? 50]),
		wireString(options.user ?? 'git'),
		wireString('ssh-connection'),
		wireString(method),
		Buffer.from([options.hasSignature === false ? 0 : 1]),
		wireString(options.algorithm ?? 'ssh-ed25519'),
		wireString(options.keyBlob),
		...options.hostKey ? [wireString(options.hostKey)] : [],
	]);
}
