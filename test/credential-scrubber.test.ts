import {Readable} from 'node:stream';
import test from 'ava';
import {credentialForms, decodersFor, heldBackLength, scrubbingStream, scrubText} from '../source/proxy/credential-scrubber.js';
import {injectionRules, type ProviderRule} from '../source/proxy/injection-rules.js';

const token = 'ghp_0123456789abcdefghijABCDEFGHIJ';
const github = {name: 'github', provider: 'github', kind: 'oauth', token};

test('the forms come from the injection rules: the token, each header value a rule makes, and each without its scheme', t => {
	const values = credentialForms([github]).map(form => form.value);
	const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
	for (const expected of [token, `Bearer ${token}`, `Basic ${basic}`, basic, encodeURIComponent(`Bearer ${token}`), encodeURIComponent(basic)]) {
		t.true(values.includes(expected), expected);
	}

	// Every header value of every rule of the provider, without a hand-kept list.
	for (const rule of injectionRules.filter(candidate => candidate.provider === 'github')) {
		for (const value of Object.values(rule.headers(token))) {
			t.true(values.includes(value));
		}
	}

	t.deepEqual(values, [...values].sort((a, b) => b.length - a.length), 'longest first');
});

test('a provider\'s new header shape is covered without listing it', t => {
	const table: ProviderRule[] = [{provider: 'example', hosts: ['api.example.com'], headers: secret => ({'x-signed': `Sig v1=${Buffer.from(secret).toString('hex')}`})}];
	const values = credentialForms([{name: 'example', provider: 'example', kind: 'api-key', token: 'example-secret-value'}], table).map(form => form.value);
	t.true(values.includes(`Sig v1=${Buffer.from('example-secret-value').toString('hex')}`));
	t.true(values.includes(`v1=${Buffer.from('example-secret-value').toString('hex')}`), 'the value without its scheme');
});

test('text is scrubbed to asterisks of the same length, the whole header value before the token in it', t => {
	const forms = credentialForms([github]);
	t.deepEqual(scrubText(`error="Bearer ${token}" token=${token}`, forms), {output: `error="${'*'.repeat(7 + token.length)}" token=${'*'.repeat(token.length)}`, grants: ['github']});
	t.deepEqual(scrubText('nothing here', forms), {output: 'nothing here', grants: []});
});

test('only a tail that could start a form is held back: a stream that cannot end inside a credential is not delayed', t => {
	const forms = credentialForms([github]);
	t.is(heldBackLength(Buffer.from('data: {"done":true}\n\n'), forms), 0);
	t.is(heldBackLength(Buffer.from('data: ghp_01'), forms), 'ghp_01'.length);
	t.is(heldBackLength(Buffer.from('x Bear'), forms), 'Bear'.length);
});

async function throughScrubber(chunks: readonly Buffer[]): Promise<{output: string; found: string[]}> {
	const found: string[] = [];
	const stream = Readable.from(chunks).pipe(scrubbingStream(credentialForms([github]), grants => found.push(...grants)));
	const parts: Buffer[] = [];
	for await (const part of stream) {
		parts.push(part as Buffer);
	}

	return {output: Buffer.concat(parts).toString(), found};
}

test('a token split across chunks at every offset, and in pieces of every size, is caught; the length is kept', async t => {
	const body = Buffer.from(`{"a":"Bearer ${token}","b":"${token}"}`);
	const expected = `{"a":"${'*'.repeat(7 + token.length)}","b":"${'*'.repeat(token.length)}"}`;
	for (let offset = 1; offset < body.length; offset++) {
		const {output, found} = await throughScrubber([body.subarray(0, offset), body.subarray(offset)]);
		t.is(output, expected, `split at ${offset}`);
		t.true(found.includes('github'));
	}

	for (let size = 1; size <= 9; size++) {
		const chunks = [];
		for (let offset = 0; offset < body.length; offset += size) {
			chunks.push(body.subarray(offset, offset + size));
		}

		t.is((await throughScrubber(chunks)).output, expected, `pieces of ${size}`);
	}
});

test('a body that only starts like a token is delivered whole', async t => {
	t.deepEqual(await throughScrubber([Buffer.from('ends with ghp_01')]), {output: 'ends with ghp_01', found: []});
});

test('each content coding moat can read gets a decoder, right to left; one it cannot means the body is not delivered', t => {
	t.is(decodersFor(undefined)?.length, 0);
	t.is(decodersFor('identity')?.length, 0);
	t.is(decodersFor('gzip')?.length, 1);
	t.is(decodersFor('gzip, br')?.length, 2);
	t.is(decodersFor('zstd')?.length, 1);
	t.is(decodersFor('deflate')?.length, 1);
	t.is(decodersFor('compress'), undefined);
	t.is(decodersFor('gzip, exotic'), undefined);
});
