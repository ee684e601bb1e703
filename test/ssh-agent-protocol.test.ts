import {createPublicKey, sign} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
	blobFromText, frame, identitiesAnswer, messageTypes, parseIdentitiesAnswer, parseRequest, parseUserauthRequest, publicKeyFromBlob, splitMessages, verifySignature, WireReader, wireString,
} from '../source/sshagent/agent-protocol.js';
import {askAgent} from '../source/sshagent/filtering-agent.js';
import {startSshAgent} from './helpers/ssh-agent.js';
import {sshTest} from './helpers/ssh-test.js';
import {runCommandOrThrow} from './helpers/ssh-tools.js';
import {
	curveSizes, ecdsaKey, ecdsaSignatureBody, ed25519Key, rsaKey, signatureBlob, signSsh, userauthData, type RsaAlgorithm, type TestKey,
} from './helpers/ssh-wire.js';

// The wire formats the filtering agent reads, against blobs written from
// the RFCs (test/helpers/ssh-wire.ts) and against real OpenSSH programs.

const data = Buffer.from('session id 0123456789abcdef');
const otherData = Buffer.from('session id 0123456789abcdeF');

const rsa = rsaKey();
const signers: Array<{title: string; key: TestKey; sameKind: TestKey; algorithm?: RsaAlgorithm; wrongAlgorithms: string[]}> = [
	{title: 'ed25519', key: ed25519Key(), sameKind: ed25519Key(), wrongAlgorithms: ['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519-cert-v01@openssh.com']},
	{title: 'ecdsa P-256', key: ecdsaKey('nistp256'), sameKind: ecdsaKey('nistp256'), wrongAlgorithms: ['ecdsa-sha2-nistp384', 'ssh-ed25519', 'rsa-sha2-256']},
	{title: 'ecdsa P-384', key: ecdsaKey('nistp384'), sameKind: ecdsaKey('nistp384'), wrongAlgorithms: ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp521']},
	{title: 'ecdsa P-521', key: ecdsaKey('nistp521'), sameKind: ecdsaKey('nistp521'), wrongAlgorithms: ['ecdsa-sha2-nistp384', 'ssh-ed25519']},
	// The RSA signature says which hash it used; naming the other one must not verify.
	{title: 'rsa with rsa-sha2-256', key: rsa, sameKind: rsaKey(), algorithm: 'rsa-sha2-256', wrongAlgorithms: ['rsa-sha2-512', 'ssh-rsa', 'ssh-ed25519']},
	{title: 'rsa with rsa-sha2-512', key: rsa, sameKind: rsaKey(), algorithm: 'rsa-sha2-512', wrongAlgorithms: ['rsa-sha2-256', 'ssh-rsa', 'ecdsa-sha2-nistp256']},
];

function withAlgorithm(blob: Buffer, algorithm: string): Buffer {
	const reader = new WireReader(blob);
	reader.text();
	return signatureBlob(algorithm, reader.string());
}

for (const signer of signers) {
	test(`verifySignature: an ${signer.title} signature verifies over its data and not over other data`, t => {
		const signature = signSsh(signer.key, data, signer.algorithm);
		t.true(verifySignature(signer.key.blob, signature, data));
		t.false(verifySignature(signer.key.blob, signature, otherData));
		t.false(verifySignature(signer.key.blob, signature, Buffer.alloc(0)));
	});

	test(`verifySignature: an ${signer.title} signature does not verify with another key of the same kind`, t => {
		t.false(verifySignature(signer.sameKind.blob, signSsh(signer.key, data, signer.algorithm), data));
		t.true(verifySignature(signer.sameKind.blob, signSsh(signer.sameKind, data, signer.algorithm), data), 'that key\'s own signature does');
	});

	test(`verifySignature: an ${signer.title} signature under another algorithm name does not verify`, t => {
		const signature = signSsh(signer.key, data, signer.algorithm);
		for (const algorithm of signer.wrongAlgorithms) {
			t.false(verifySignature(signer.key.blob, withAlgorithm(signature, algorithm), data), algorithm);
		}
	});

	test(`verifySignature: a truncated ${signer.title} signature or key blob does not verify (and does not throw)`, t => {
		const signature = signSsh(signer.key, data, signer.algorithm);
		for (const cut of [1, 4, signature.length - 4, signature.length - 1]) {
			t.false(verifySignature(signer.key.blob, signature.subarray(0, cut), data), `signature cut to ${cut} bytes`);
		}

		for (const cut of [0, 3, signer.key.blob.length - 1]) {
			t.false(verifySignature(signer.key.blob.subarray(0, cut), signature, data), `key cut to ${cut} bytes`);
		}

		t.false(verifySignature(signer.key.blob, Buffer.alloc(0), data));
	});
}

test('verifySignature: an RSA signature under the legacy ssh-rsa name (SHA-1) verifies only under that name', t => {
	const signature = signSsh(rsa, data, 'ssh-rsa');
	t.true(verifySignature(rsa.blob, signature, data));
	t.false(verifySignature(rsa.blob, withAlgorithm(signature, 'rsa-sha2-256'), data));
});

test('verifySignature: ECDSA r and s shorter than the curve (mpints drop leading zeros) are padded back, and a flipped bit fails', t => {
	// About one signature in 128 has an r or s with a zero top byte; find one.
	const key = ecdsaKey('nistp256');
	const {bytes, hash} = curveSizes.nistp256;
	let raw: Buffer | undefined;
	for (let attempt = 0; attempt < 5000 && !raw; attempt++) {
		const candidate = sign(hash, data, {key: key.privateKey, dsaEncoding: 'ieee-p1363'});
		if (candidate[0] === 0 || candidate[bytes] === 0) {
			raw = candidate;
		}
	}

	t.truthy(raw, 'a short r or s turned up');
	const body = ecdsaSignatureBody(raw!, bytes);
	t.true(body.length < 4 + bytes + 4 + bytes + 2, 'the mpints are shorter than the fixed-size values');
	t.true(verifySignature(key.blob, signatureBlob('ecdsa-sha2-nistp256', body), data));
	const flipped = Buffer.from(body);
	flipped[flipped.length - 1]! ^= 1;
	t.false(verifySignature(key.blob, signatureBlob('ecdsa-sha2-nistp256', flipped), data));
});

test('verifySignature: an ed25519 signature blob with trailing junk inside the signature string does not verify', t => {
	const key = ed25519Key();
	const raw = sign(null, data, key.privateKey);
	t.false(verifySignature(key.blob, signatureBlob('ssh-ed25519', Buffer.concat([raw, Buffer.from([0])])), data));
	t.false(verifySignature(key.blob, signatureBlob('ssh-ed25519', raw.subarray(0, 63)), data));
});

test('verifySignature and publicKeyFromBlob: unsupported key types are refused', t => {
	const dss = Buffer.concat([wireString('ssh-dss'), wireString(Buffer.alloc(128, 1)), wireString(Buffer.alloc(20, 1)), wireString(Buffer.alloc(128, 1)), wireString(Buffer.alloc(128, 1))]);
	t.throws(() => publicKeyFromBlob(dss), {message: /unsupported key type ssh-dss/});
	t.false(verifySignature(dss, signatureBlob('ssh-dss', Buffer.alloc(40)), data));
	const compressedPoint = Buffer.concat([wireString('ecdsa-sha2-nistp256'), wireString('nistp256'), wireString(Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 1)]))]);
	t.throws(() => publicKeyFromBlob(compressedPoint), {message: /unsupported ECDSA key/});
	const unknownCurve = Buffer.concat([wireString('ecdsa-sha2-nistp192'), wireString('nistp192'), wireString(Buffer.concat([Buffer.from([4]), Buffer.alloc(48, 1)]))]);
	t.throws(() => publicKeyFromBlob(unknownCurve), {message: /unsupported ECDSA key/});
});

test('publicKeyFromBlob reads each kind of blob back to the same public key', t => {
	for (const key of [ed25519Key(), ecdsaKey('nistp256'), ecdsaKey('nistp384'), ecdsaKey('nistp521'), rsa]) {
		const read = publicKeyFromBlob(key.blob);
		t.is(read.type, new WireReader(key.blob).text());
		t.deepEqual(read.key.export({type: 'spki', format: 'der'}), key.publicKey.export({type: 'spki', format: 'der'}), read.type);
	}
});

test('blobFromText reads authorized_keys text and refuses text whose blob names another type', t => {
	const key = ed25519Key();
	const base64 = key.blob.toString('base64');
	t.deepEqual(blobFromText(`ssh-ed25519 ${base64} someone@laptop`), key.blob);
	t.deepEqual(blobFromText(`  ssh-ed25519\t${base64}\n`), key.blob);
	t.is(blobFromText(`ssh-rsa ${base64}`), undefined);
	t.is(blobFromText('ssh-ed25519'), undefined);
	t.is(blobFromText(''), undefined);
	t.is(blobFromText('ssh-ed25519 AAAA'), undefined);
	t.is(blobFromText('ssh-ed25519 not-base64-at-all!'), undefined);
});

// Message framing and requests.

test('identitiesAnswer, split from a stream, parses back to the same keys and comments', t => {
	const keys = [{blob: ed25519Key().blob, comment: 'granted-key'}, {blob: rsa.blob, comment: ''}, {blob: ecdsaKey().blob, comment: 'ünïcode comment'}];
	for (const list of [keys, []]) {
		const {messages, rest} = splitMessages(identitiesAnswer(list));
		t.is(messages.length, 1);
		t.is(rest.length, 0);
		t.deepEqual(parseIdentitiesAnswer(messages[0]!), list);
	}
});

test('parseIdentitiesAnswer refuses a failure answer and a truncated list', t => {
	t.throws(() => parseIdentitiesAnswer(Buffer.from([messageTypes.failure])), {message: /did not list its keys/});
	const answer = identitiesAnswer([{blob: ed25519Key().blob, comment: 'key'}]).subarray(4);
	t.throws(() => parseIdentitiesAnswer(answer.subarray(0, answer.length - 2)), {message: /truncated/});
});

test('parseRequest reads identities, sign (with and without flags), session-bind and other requests', t => {
	const key = ed25519Key();
	const split = (bytes: Buffer) => {
		const {messages, rest} = splitMessages(bytes);
		t.is(rest.length, 0);
		t.is(messages.length, 1);
		return parseRequest(messages[0]!);
	};

	t.deepEqual(split(frame(messageTypes.requestIdentities)), {kind: 'identities'});
	t.deepEqual(split(frame(messageTypes.signRequest, Buffer.concat([wireString(key.blob), wireString(data), Buffer.from([0, 0, 0, 4])]))), {kind: 'sign', keyBlob: key.blob, data, flags: 4});
	t.deepEqual(split(frame(messageTypes.signRequest, Buffer.concat([wireString(key.blob), wireString(data)]))), {kind: 'sign', keyBlob: key.blob, data, flags: 0});
	const hostKey = ed25519Key();
	const sessionId = Buffer.alloc(32, 7);
	const signature = signSsh(hostKey, sessionId);
	for (const forwarding of [false, true]) {
		t.deepEqual(
			split(frame(messageTypes.extension, Buffer.concat([wireString('session-bind@openssh.com'), wireString(hostKey.blob), wireString(sessionId), wireString(signature), Buffer.from([forwarding ? 1 : 0])]))),
			{kind: 'session-bind', hostKey: hostKey.blob, sessionId, signature, forwarding},
		);
	}

	t.deepEqual(split(frame(messageTypes.extension, wireString('query'))), {kind: 'other', type: messageTypes.extension, extension: 'query'});
	// SSH2_AGENTC_ADD_IDENTITY, REMOVE_ALL_IDENTITIES, LOCK.
	for (const type of [17, 19, 22]) {
		t.deepEqual(split(frame(type, Buffer.alloc(8))), {kind: 'other', type});
	}
});

test('parseRequest throws on a truncated sign request or session-bind rather than reading past it', t => {
	const key = ed25519Key();
	t.throws(() => parseRequest(Buffer.concat([Buffer.from([messageTypes.signRequest]), wireString(key.blob)])), {message: /truncated/});
	t.throws(() => parseRequest(Buffer.concat([Buffer.from([messageTypes.signRequest]), wireString(key.blob).subarray(0, 10)])), {message: /truncated/});
	t.throws(() => parseRequest(Buffer.concat([Buffer.from([messageTypes.extension]), wireString('session-bind@openssh.com'), wireString(key.blob), wireString(data)])), {message: /truncated/});
	t.throws(() => parseRequest(Buffer.alloc(0)), {message: /truncated/});
});

test('splitMessages keeps a partial frame for later, whether cut in the length or in the body', t => {
	const first = frame(messageTypes.requestIdentities);
	const second = frame(messageTypes.signRequest, Buffer.concat([wireString(rsa.blob), wireString(data)]));
	const stream = Buffer.concat([first, second, first]);
	for (let cut = 0; cut <= stream.length; cut++) {
		const head = splitMessages(stream.subarray(0, cut));
		const tail = splitMessages(Buffer.concat([head.rest, stream.subarray(cut)]));
		const all = [...head.messages, ...tail.messages];
		t.is(tail.rest.length, 0, `cut at ${cut}`);
		t.deepEqual(all.map(message => message[0]), [messageTypes.requestIdentities, messageTypes.signRequest, messageTypes.requestIdentities], `cut at ${cut}`);
	}
});

test('splitMessages, fed one byte at a time, yields each message once the last byte arrives', t => {
	const stream = Buffer.concat([frame(messageTypes.requestIdentities), frame(messageTypes.extension, wireString('query'))]);
	let pending: Buffer = Buffer.alloc(0);
	const seen: number[] = [];
	for (let index = 0; index < stream.length; index++) {
		pending = Buffer.concat([pending, stream.subarray(index, index + 1)]);
		const {messages, rest} = splitMessages(pending);
		pending = rest;
		for (const message of messages) {
			seen.push(index);
			t.true(message.length > 0);
		}
	}

	t.deepEqual(seen, [4, stream.length - 1]);
	t.is(pending.length, 0);
});

test('splitMessages refuses an absurd or zero length at once, but waits for a large legal one', t => {
	const length = (value: number) => {
		const bytes = Buffer.alloc(4);
		bytes.writeUInt32BE(value);
		return bytes;
	};

	t.throws(() => splitMessages(length(0xFF_FF_FF_FF)), {message: /agent message of 4294967295 bytes/});
	t.throws(() => splitMessages(length((256 * 1024) + 1)), {message: /agent message/});
	t.throws(() => splitMessages(Buffer.concat([frame(messageTypes.requestIdentities), length(0)])), {message: /agent message of 0 bytes/});
	const waiting = splitMessages(Buffer.concat([length(256 * 1024), Buffer.alloc(100)]));
	t.deepEqual(waiting.messages, []);
	t.is(waiting.rest.length, 104);
	t.deepEqual(splitMessages(Buffer.from([0, 0])), {messages: [], rest: Buffer.from([0, 0])});
});

// What a signature is for.

test('parseUserauthRequest reads a publickey login', t => {
	const key = ed25519Key();
	const sessionId = Buffer.alloc(32, 3);
	t.deepEqual(parseUserauthRequest(userauthData({sessionId, keyBlob: key.blob, user: 'git'})), {sessionId, user: 'git', keyBlob: key.blob});
});

test('parseUserauthRequest reads a publickey-hostbound-v00@openssh.com login with the server\'s host key', t => {
	const key = ecdsaKey();
	const hostKey = ed25519Key();
	const sessionId = Buffer.alloc(48, 9);
	t.deepEqual(
		parseUserauthRequest(userauthData({sessionId, keyBlob: key.blob, user: 'root', algorithm: 'ecdsa-sha2-nistp256', hostKey: hostKey.blob})),
		{sessionId, user: 'root', keyBlob: key.blob, hostKey: hostKey.blob},
	);
});

const notLogins: Array<[string, Buffer]> = [
	['empty data', Buffer.alloc(0)],
	['random bytes', Buffer.from('4f9a2c7e1b3d5f608a9c0e2b4d6f8a1c', 'hex')],
	['an sshsig (ssh-keygen -Y sign) preamble', Buffer.concat([Buffer.from('SSHSIG'), wireString('file'), wireString(''), wireString('sha512'), wireString(Buffer.alloc(64))])],
	['another message type than SSH_MSG_USERAUTH_REQUEST', userauthData({sessionId: Buffer.alloc(32), keyBlob: ed25519Key().blob, messageType: 51})],
	['a password login', userauthData({sessionId: Buffer.alloc(32), keyBlob: ed25519Key().blob, method: 'password'})],
	['a hostbased login', userauthData({sessionId: Buffer.alloc(32), keyBlob: ed25519Key().blob, method: 'hostbased'})],
	['a publickey query without a signature', userauthData({sessionId: Buffer.alloc(32), keyBlob: ed25519Key().blob, hasSignature: false})],
	['a login cut before the key', userauthData({sessionId: Buffer.alloc(32), keyBlob: ed25519Key().blob}).subarray(0, 80)],
	['a host-bound login without its host key', userauthData({sessionId: Buffer.alloc(32), keyBlob: ed25519Key().blob, method: 'publickey-hostbound-v00@openssh.com'})],
];
for (const [title, bytes] of notLogins) {
	test(`parseUserauthRequest: ${title} is not a login`, t => {
		t.is(parseUserauthRequest(bytes), undefined);
	});
}

// Against real OpenSSH: keys made by ssh-keygen, signatures made by ssh-agent.

async function keygen(directory: string, name: string, type: string, bits?: number): Promise<{privateKeyFile: string; publicKeyFile: string; blob: Buffer}> {
	const privateKeyFile = path.join(directory, name);
	await runCommandOrThrow('ssh-keygen', ['-q', '-t', type, ...bits ? ['-b', String(bits)] : [], '-N', '', '-C', name, '-f', privateKeyFile]);
	const blob = blobFromText(await fs.readFile(`${privateKeyFile}.pub`, 'utf8'));
	if (!blob) {
		throw new Error(`ssh-keygen wrote no readable public key for ${name}`);
	}

	return {privateKeyFile, publicKeyFile: `${privateKeyFile}.pub`, blob};
}

const openSshKeys = [
	{name: 'ed25519', type: 'ed25519'},
	{name: 'ecdsa-256', type: 'ecdsa', bits: 256},
	{name: 'ecdsa-384', type: 'ecdsa', bits: 384},
	{name: 'ecdsa-521', type: 'ecdsa', bits: 521},
	{name: 'rsa-2048', type: 'rsa', bits: 2048},
] as const;

sshTest('publicKeyFromBlob reads ssh-keygen\'s ECDSA and RSA keys as the same keys ssh-keygen -e -m PKCS8 exports', async t => {
	const agent = await startSshAgent();
	t.teardown(agent.close);
	// OpenSSH 9.2 does not export Ed25519 as PKCS8 ("unsupported key type"); the ssh-agent test below covers it.
	for (const spec of openSshKeys.filter(key => key.type !== 'ed25519')) {
		const key = await keygen(agent.directory, spec.name, spec.type, 'bits' in spec ? spec.bits : undefined);
		const pem = await runCommandOrThrow('ssh-keygen', ['-e', '-m', 'PKCS8', '-f', key.publicKeyFile]);
		const expected = createPublicKey(pem).export({type: 'spki', format: 'der'});
		t.deepEqual(publicKeyFromBlob(key.blob).key.export({type: 'spki', format: 'der'}), expected, spec.name);
	}
});

sshTest('verifySignature accepts signatures the real ssh-agent makes with ssh-keygen\'s keys (every type, RSA with each hash) and only over the signed data', async t => {
	const agent = await startSshAgent();
	t.teardown(agent.close);
	for (const spec of openSshKeys) {
		const key = await keygen(agent.directory, spec.name, spec.type, 'bits' in spec ? spec.bits : undefined);
		await agent.addKey(key.privateKeyFile);
		// SSH_AGENT_RSA_SHA2_256 = 2, SSH_AGENT_RSA_SHA2_512 = 4; other keys take no flags.
		const flagSets = spec.type === 'rsa' ? [[2, 'rsa-sha2-256'], [4, 'rsa-sha2-512']] as const : [[0, new WireReader(key.blob).text()]] as const;
		for (const [flags, algorithm] of flagSets) {
			const flagBytes = Buffer.alloc(4);
			flagBytes.writeUInt32BE(flags);
			const answer = await askAgent(agent.socket, frame(messageTypes.signRequest, Buffer.concat([wireString(key.blob), wireString(data), flagBytes])));
			t.is(answer[0], messageTypes.signResponse, `${spec.name}: the agent signed`);
			const reader = new WireReader(answer);
			reader.byte();
			const signature = reader.string();
			t.is(new WireReader(signature).text(), algorithm, spec.name);
			t.true(verifySignature(key.blob, signature, data), `${spec.name} ${algorithm}`);
			t.false(verifySignature(key.blob, signature, otherData), `${spec.name} ${algorithm} over other data`);
		}
	}
});
