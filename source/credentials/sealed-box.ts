import {createCipheriv, createDecipheriv, randomBytes} from 'node:crypto';

/**
 * AES-256-GCM with a fresh 96-bit nonce per write, as stored in
 * `credentials/<provider>.enc`. The authentication tag makes any change to
 * the file — or the wrong key — a decryption failure, never garbage.
 */
export type SealedBox = {version: 1; algorithm: 'aes-256-gcm'; nonce: string; tag: string; ciphertext: string};

export const keyBytes = 32;

const nonceBytes = 12;

/**
 * GCM's tag is the whole of its integrity: Node accepts tags as short as 4
 * bytes unless told the length, and a cut tag is one an attacker can forge
 * in far fewer tries. Only the full 16 bytes are ever accepted.
 */
export const tagBytes = 16;

export function seal(key: Buffer, plaintext: string, random: (size: number) => Buffer = randomBytes): SealedBox {
	const nonce = random(nonceBytes);
	const cipher = createCipheriv('aes-256-gcm', key, nonce, {authTagLength: tagBytes});
	const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
	return {
		version: 1,
		algorithm: 'aes-256-gcm',
		nonce: nonce.toString('base64'),
		tag: cipher.getAuthTag().toString('base64'),
		ciphertext: ciphertext.toString('base64'),
	};
}

/** Throws when the box was altered or sealed with another key. */
export function open(key: Buffer, box: SealedBox): string {
	if (box.version !== 1 || box.algorithm !== 'aes-256-gcm') {
		throw new Error(`unsupported credential format ${String(box.version)}/${String(box.algorithm)}`);
	}

	const nonce = Buffer.from(String(box.nonce), 'base64');
	const tag = Buffer.from(String(box.tag), 'base64');
	if (nonce.length !== nonceBytes || tag.length !== tagBytes) {
		throw new Error(`the nonce is ${nonce.length} bytes and the tag ${tag.length} (they must be ${nonceBytes} and ${tagBytes})`);
	}

	const decipher = createDecipheriv('aes-256-gcm', key, nonce, {authTagLength: tagBytes});
	decipher.setAuthTag(tag);
	return Buffer.concat([decipher.update(Buffer.from(box.ciphertext, 'base64')), decipher.final()]).toString('utf8');
}
