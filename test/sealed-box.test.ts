import {randomBytes} from 'node:crypto';
import test from 'ava';
import {keyBytes, open, seal, tagBytes, type SealedBox} from '../source/credentials/sealed-box.js';

const key = randomBytes(keyBytes);

const plaintexts = [
	['an empty string', ''],
	['a GitHub token', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
	['multi-byte text', 'clé 🔑 ключ'],
	['a JSON grant list', JSON.stringify([{name: 'github', secret: {token: 'x'}}])],
	['a long text', 'a'.repeat(100_000)],
] as const;

for (const [label, plaintext] of plaintexts) {
	test(`open() returns what seal() sealed: ${label}`, t => {
		t.is(open(key, seal(key, plaintext)), plaintext);
	});
}

test('seal() writes version 1, aes-256-gcm, a 12-byte nonce and a 16-byte tag', t => {
	const box = seal(key, 'secret');
	t.is(box.version, 1);
	t.is(box.algorithm, 'aes-256-gcm');
	t.is(Buffer.from(box.nonce, 'base64').length, 12);
	t.is(Buffer.from(box.tag, 'base64').length, 16);
});

test('two seals of the same text use different nonces and ciphertexts', t => {
	const first = seal(key, 'the same text');
	const second = seal(key, 'the same text');
	t.not(first.nonce, second.nonce);
	t.not(first.ciphertext, second.ciphertext);
});

test('seal() takes its nonce from the random source it is given', t => {
	const nonce = Buffer.alloc(12, 7);
	const box = seal(key, 'text', size => {
		t.is(size, 12);
		return nonce;
	});
	t.is(box.nonce, nonce.toString('base64'));
	t.is(open(key, box), 'text');
});

test('the sealed box does not contain the plaintext', t => {
	const secret = 'ghp_plaintextthatmustnotleak0123456789';
	const serialized = JSON.stringify(seal(key, secret));
	t.false(serialized.includes(secret));
	t.false(serialized.includes(Buffer.from(secret).toString('base64')));
});

type Part = 'ciphertext' | 'tag' | 'nonce';

/** The box with one byte of one part XORed with 0x01. */
function flipped(box: SealedBox, part: Part, index: number): SealedBox {
	const bytes = Buffer.from(box[part], 'base64');
	bytes[index] = bytes[index]! ^ 0x01;
	return {...box, [part]: bytes.toString('base64')};
}

for (const part of ['ciphertext', 'tag', 'nonce'] as const) {
	test(`flipping any single byte of the ${part} makes open() throw`, t => {
		const box = seal(key, 'a secret worth protecting');
		const length = Buffer.from(box[part], 'base64').length;
		t.true(length > 0);
		for (let index = 0; index < length; index++) {
			t.throws(() => open(key, flipped(box, part, index)), undefined, `byte ${index}`);
		}
	});
}

test('a tag cut to any length from 1 to 15 bytes is refused, naming the tag length, where the full 16-byte tag opens', t => {
	const box = seal(key, 'a secret worth protecting');
	const tag = Buffer.from(box.tag, 'base64');
	t.is(tag.length, tagBytes);
	t.is(open(key, box), 'a secret worth protecting');
	for (let length = 1; length < tagBytes; length++) {
		// Cut from either end: an attacker may keep whichever part they like.
		for (const cut of [tag.subarray(0, length), tag.subarray(tagBytes - length)]) {
			t.throws(() => open(key, {...box, tag: cut.toString('base64')}), {message: new RegExp(`the tag ${length} \\(they must be 12 and 16\\)`)}, `a ${length}-byte tag`);
		}
	}
});

test('an empty tag, a tag longer than 16 bytes and a nonce of the wrong length are refused', t => {
	const box = seal(key, 'a secret');
	const tag = Buffer.from(box.tag, 'base64');
	t.throws(() => open(key, {...box, tag: ''}), {message: /the tag 0 /});
	t.throws(() => open(key, {...box, tag: Buffer.concat([tag, Buffer.alloc(1)]).toString('base64')}), {message: /the tag 17 /});
	t.throws(() => open(key, {...box, nonce: Buffer.alloc(16).toString('base64')}), {message: /the nonce is 16 bytes/});
});

test('open() with another key throws', t => {
	const box = seal(key, 'a secret');
	t.throws(() => open(randomBytes(keyBytes), box));
});

test('open() with the key off by one bit throws', t => {
	const box = seal(key, 'a secret');
	const other = Buffer.from(key);
	other[0] = other[0]! ^ 0x80;
	t.throws(() => open(other, box));
});

const unsupported: Array<[string, Partial<Record<keyof SealedBox, unknown>>]> = [
	['version 2', {version: 2}],
	['version 0', {version: 0}],
	['a missing version', {version: undefined}],
	['version "1" as a string', {version: '1'}],
	['algorithm aes-128-gcm', {algorithm: 'aes-128-gcm'}],
	['algorithm chacha20-poly1305', {algorithm: 'chacha20-poly1305'}],
];

for (const [label, change] of unsupported) {
	test(`open() refuses a box with ${label} as unsupported`, t => {
		const box = {...seal(key, 'a secret'), ...change} as unknown as SealedBox;
		t.throws(() => open(key, box), {message: /unsupported credential format/});
	});
}
