import {createPublicKey, verify, type KeyObject} from 'node:crypto';

/**
 * The SSH agent protocol (draft-miller-ssh-agent) as far as moat's
 * filtering agent speaks it, and the SSH wire formats it has to read: pure
 * functions from bytes to values and back, and the checks on a signature.
 */

export const messageTypes = {
	failure: 5,
	success: 6,
	requestIdentities: 11,
	identitiesAnswer: 12,
	signRequest: 13,
	signResponse: 14,
	extension: 27,
} as const;

/** Reads SSH wire values (RFC 4251 §5) from a buffer, front to back; a short buffer throws. */
export class WireReader {
	private offset = 0;

	constructor(private readonly buffer: Buffer) {}

	get done(): boolean {
		return this.offset >= this.buffer.length;
	}

	byte(): number {
		this.need(1);
		return this.buffer[this.offset++]!;
	}

	uint32(): number {
		this.need(4);
		const value = this.buffer.readUInt32BE(this.offset);
		this.offset += 4;
		return value;
	}

	bool(): boolean {
		return this.byte() !== 0;
	}

	string(): Buffer {
		const length = this.uint32();
		this.need(length);
		const value = this.buffer.subarray(this.offset, this.offset + length);
		this.offset += length;
		return value;
	}

	text(): string {
		return this.string().toString('utf8');
	}

	private need(bytes: number) {
		if (this.offset + bytes > this.buffer.length) {
			throw new Error('truncated SSH message');
		}
	}
}

export function wireString(value: Buffer | string): Buffer {
	const bytes = typeof value === 'string' ? Buffer.from(value) : value;
	const length = Buffer.alloc(4);
	length.writeUInt32BE(bytes.length);
	return Buffer.concat([length, bytes]);
}

function uint32(value: number): Buffer {
	const bytes = Buffer.alloc(4);
	bytes.writeUInt32BE(value);
	return bytes;
}

/** One agent message with its length prefix. */
export function frame(type: number, body: Buffer = Buffer.alloc(0)): Buffer {
	return Buffer.concat([uint32(body.length + 1), Buffer.from([type]), body]);
}

export const failureMessage = (): Buffer => frame(messageTypes.failure);
export const successMessage = (): Buffer => frame(messageTypes.success);

export function identitiesAnswer(keys: ReadonlyArray<{blob: Buffer; comment: string}>): Buffer {
	return frame(messageTypes.identitiesAnswer, Buffer.concat([uint32(keys.length), ...keys.flatMap(key => [wireString(key.blob), wireString(key.comment)])]));
}

/**
 * Splits a stream of agent messages into whole ones (without the length
 * prefix); the rest waits for more bytes. An absurd length ends the
 * connection: no agent message is near 256 KiB.
 */
export function splitMessages(pending: Buffer, maximum = 256 * 1024): {messages: Buffer[]; rest: Buffer} {
	const messages: Buffer[] = [];
	let offset = 0;
	while (pending.length - offset >= 4) {
		const length = pending.readUInt32BE(offset);
		if (length === 0 || length > maximum) {
			throw new Error(`an agent message of ${length} bytes`);
		}

		if (pending.length - offset - 4 < length) {
			break;
		}

		messages.push(pending.subarray(offset + 4, offset + 4 + length));
		offset += 4 + length;
	}

	return {messages, rest: pending.subarray(offset)};
}

export type AgentRequest =
	| {kind: 'identities'}
	| {kind: 'sign'; keyBlob: Buffer; data: Buffer; flags: number}
	| {kind: 'session-bind'; hostKey: Buffer; sessionId: Buffer; signature: Buffer; forwarding: boolean}
	| {kind: 'other'; type: number; extension?: string};

/** What a client asks of the agent (a message without its length prefix). */
export function parseRequest(message: Buffer): AgentRequest {
	const reader = new WireReader(message);
	const type = reader.byte();
	if (type === messageTypes.requestIdentities) {
		return {kind: 'identities'};
	}

	if (type === messageTypes.signRequest) {
		return {kind: 'sign', keyBlob: reader.string(), data: reader.string(), flags: reader.done ? 0 : reader.uint32()};
	}

	if (type === messageTypes.extension) {
		const extension = reader.text();
		if (extension === 'session-bind@openssh.com') {
			return {kind: 'session-bind', hostKey: reader.string(), sessionId: reader.string(), signature: reader.string(), forwarding: reader.bool()};
		}

		return {kind: 'other', type, extension};
	}

	return {kind: 'other', type};
}

/** The keys in an identities answer from the real agent. */
export function parseIdentitiesAnswer(message: Buffer): Array<{blob: Buffer; comment: string}> {
	const reader = new WireReader(message);
	if (reader.byte() !== messageTypes.identitiesAnswer) {
		throw new Error('the SSH agent did not list its keys');
	}

	const count = reader.uint32();
	return Array.from({length: count}, () => ({blob: Buffer.from(reader.string()), comment: reader.text()}));
}

/**
 * The parts of an SSH publickey user-authentication request (RFC 4252 §7)
 * that say what a signature would be used for. Anything else (or an
 * unreadable one) is undefined: the agent signs nothing but logins.
 */
export function parseUserauthRequest(data: Buffer): {sessionId: Buffer; user: string; keyBlob: Buffer; hostKey?: Buffer} | undefined {
	try {
		const reader = new WireReader(data);
		const sessionId = reader.string();
		if (reader.byte() !== 50) {
			return undefined;
		}

		const user = reader.text();
		reader.text();
		const method = reader.text();
		if (!['publickey', 'publickey-hostbound-v00@openssh.com'].includes(method) || !reader.bool()) {
			return undefined;
		}

		reader.text();
		const keyBlob = reader.string();
		// OpenSSH 8.9+ signs for a host-bound login: the server's host key is part of what is signed.
		const hostKey = method === 'publickey' ? undefined : reader.string();
		return {sessionId, user, keyBlob, ...hostKey ? {hostKey} : {}};
	} catch {
		return undefined;
	}
}

function mpint(reader: WireReader): Buffer {
	const value = reader.string();
	// Drop the sign byte SSH adds when the top bit is set.
	return value[0] === 0 ? value.subarray(1) : value;
}

const curves: Record<string, {crv: string; bytes: number; hash: string}> = {
	nistp256: {crv: 'P-256', bytes: 32, hash: 'sha256'},
	nistp384: {crv: 'P-384', bytes: 48, hash: 'sha384'},
	nistp521: {crv: 'P-521', bytes: 66, hash: 'sha512'},
};

/** A public key blob (`string type, …`) as a Node key, for Ed25519, ECDSA and RSA. */
export function publicKeyFromBlob(blob: Buffer): {type: string; key: KeyObject} {
	const reader = new WireReader(blob);
	const type = reader.text();
	if (type === 'ssh-ed25519') {
		return {type, key: createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x: reader.string().toString('base64url')}, format: 'jwk'})};
	}

	if (type.startsWith('ecdsa-sha2-')) {
		const curve = curves[reader.text()];
		const point = reader.string();
		if (!curve || point[0] !== 4 || point.length !== 1 + (2 * curve.bytes)) {
			throw new Error(`unsupported ECDSA key ${type}`);
		}

		return {type, key: createPublicKey({key: {kty: 'EC', crv: curve.crv, x: point.subarray(1, 1 + curve.bytes).toString('base64url'), y: point.subarray(1 + curve.bytes).toString('base64url')}, format: 'jwk'})};
	}

	if (type === 'ssh-rsa') {
		const exponent = mpint(reader);
		const modulus = mpint(reader);
		return {type, key: createPublicKey({key: {kty: 'RSA', e: exponent.toString('base64url'), n: modulus.toString('base64url')}, format: 'jwk'})};
	}

	throw new Error(`unsupported key type ${type}`);
}

/**
 * Whether `signatureBlob` (`string algorithm, string signature`) is the
 * key's signature over `data` — how the agent knows a session-bind names a
 * server that really holds that host key.
 */
export function verifySignature(keyBlob: Buffer, signatureBlob: Buffer, data: Buffer): boolean {
	try {
		const {type, key} = publicKeyFromBlob(keyBlob);
		const reader = new WireReader(signatureBlob);
		const algorithm = reader.text();
		const signature = reader.string();
		if (type === 'ssh-ed25519') {
			return algorithm === 'ssh-ed25519' && verify(null, data, key, signature);
		}

		if (type.startsWith('ecdsa-sha2-')) {
			const curve = curves[type.slice('ecdsa-sha2-'.length)];
			if (!curve || algorithm !== type) {
				return false;
			}

			const parts = new WireReader(signature);
			const pad = (value: Buffer) => Buffer.concat([Buffer.alloc(Math.max(0, curve.bytes - value.length)), value]);
			return verify(curve.hash, data, {key, dsaEncoding: 'ieee-p1363'}, Buffer.concat([pad(mpint(parts)), pad(mpint(parts))]));
		}

		const hashes: Record<string, string> = {'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1'};
		return type === 'ssh-rsa' && hashes[algorithm] !== undefined && verify(hashes[algorithm], data, key, signature);
	} catch {
		return false;
	}
}

/** A key blob from its authorized_keys / known_hosts text (`type base64 [comment]`). */
export function blobFromText(text: string): Buffer | undefined {
	const [type, base64] = text.trim().split(/\s+/);
	if (!type || !base64) {
		return undefined;
	}

	const blob = Buffer.from(base64, 'base64');
	try {
		return new WireReader(blob).text() === type ? blob : undefined;
	} catch {
		return undefined;
	}
}
