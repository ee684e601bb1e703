import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {createCredentialStore, type CredentialStore} from '../source/credentials/credential-store.js';
import type {Grant, ProviderName} from '../source/credentials/grant.js';
import {openKeyring} from '../source/credentials/keyring.js';
import {keyBytes, type SealedBox} from '../source/credentials/sealed-box.js';
import {createEnvironment, environmentVariables} from '../source/environment.js';
import {MoatError} from '../source/errors.js';

type Fixture = {moatHome: string; store: CredentialStore};

/** A store over a real file keyring in a temp MOAT_HOME that does not exist yet. */
async function createFixture(t: ExecutionContext): Promise<Fixture> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-credentials-'));
	t.teardown(async () => fs.rm(root, {recursive: true, force: true}));
	const moatHome = path.join(root, 'moat-home');
	const environment = createEnvironment({[environmentVariables.home]: moatHome, [environmentVariables.keyringBackend]: 'file'}, root);
	const keyring = await openKeyring(environment, async () => undefined);
	return {moatHome, store: createCredentialStore(moatHome, keyring)};
}

function grant(provider: ProviderName, name: string = provider, secret = `secret-for-${name}-0123456789abcdef`): Grant {
	return {
		provider,
		name,
		source: 'test',
		login: provider === 'github' ? 'octocat' : null,
		scopes: provider === 'github' ? ['repo', 'read:org'] : [],
		expiresAt: null,
		createdAt: '2025-01-02T03:04:05.000Z',
		details: {kind: 'test'},
		secret: {token: secret},
	};
}

async function mode(file: string): Promise<number> {
	return (await fs.stat(file)).mode & 0o777;
}

async function exists(file: string): Promise<boolean> {
	return fs.access(file).then(() => true, () => false);
}

const tokenProviders = ['github', 'anthropic', 'claude', 'openai', 'aws'] as const;

for (const provider of tokenProviders) {
	test(`a saved ${provider} grant comes back from get() and list() unchanged`, async t => {
		const {store} = await createFixture(t);
		const saved = grant(provider);
		await store.save(saved);
		t.deepEqual(await store.get(provider), saved);
		t.deepEqual(await store.list(), [saved]);
		t.is(store.fileFor(provider), store.fileFor(provider));
		t.true(store.fileFor(provider).endsWith(path.join('credentials', `${provider}.enc`)));
	});
}

test('get() of a grant never saved is undefined and list() of an empty store is empty', async t => {
	const {store} = await createFixture(t);
	t.is(await store.get('github'), undefined);
	t.is(await store.get('ssh:github.com'), undefined);
	t.deepEqual(await store.list(), []);
});

test('list() returns every provider\'s grants', async t => {
	const {store} = await createFixture(t);
	const grants = [grant('github'), grant('openai'), grant('ssh', 'ssh:a'), grant('ssh', 'ssh:b')];
	for (const each of grants) {
		await store.save(each);
	}

	const listed = await store.list();
	t.deepEqual(listed.map(each => each.name).sort(), ['github', 'openai', 'ssh:a', 'ssh:b']);
});

test('saving a grant again replaces the old one', async t => {
	const {store} = await createFixture(t);
	await store.save(grant('github', 'github', 'ghp_old_old_old_old_old_old_old_old'));
	const replacement = grant('github', 'github', 'ghp_new_new_new_new_new_new_new_new');
	await store.save(replacement);
	t.deepEqual(await store.list(), [replacement]);
});

test('the file on disk holds neither the secret nor its base64', async t => {
	const {store} = await createFixture(t);
	const secret = 'ghp_ThisMustNeverBeOnDiskInTheClear0123';
	await store.save(grant('github', 'github', secret));
	const text = await fs.readFile(store.fileFor('github'), 'utf8');
	t.false(text.includes(secret));
	t.false(text.includes(Buffer.from(secret).toString('base64')));
	t.false(text.includes('octocat'));
	const box = JSON.parse(text) as SealedBox;
	t.is(box.algorithm, 'aes-256-gcm');
});

test('credential files are 0600 in a 0700 directory, and no temporary file is left', async t => {
	const {moatHome, store} = await createFixture(t);
	await store.save(grant('github'));
	await store.save(grant('ssh', 'ssh:a'));
	const directory = path.join(moatHome, 'credentials');
	t.is(await mode(directory), 0o700);
	t.is(await mode(moatHome), 0o700);
	t.is(await mode(store.fileFor('github')), 0o600);
	t.is(await mode(store.fileFor('ssh')), 0o600);
	t.deepEqual((await fs.readdir(directory)).sort(), ['github.enc', 'ssh.enc']);
});

/** Changes one byte of the stored ciphertext, keeping the JSON valid. */
async function tamper(file: string): Promise<void> {
	const box = JSON.parse(await fs.readFile(file, 'utf8')) as SealedBox;
	const ciphertext = Buffer.from(box.ciphertext, 'base64');
	ciphertext[0] = ciphertext[0]! ^ 0x01;
	await fs.writeFile(file, JSON.stringify({...box, ciphertext: ciphertext.toString('base64')}) + '\n');
}

/** The file with its authentication tag cut to its first `length` bytes. */
async function cutTag(file: string, length: number): Promise<void> {
	const box = JSON.parse(await fs.readFile(file, 'utf8')) as SealedBox;
	await fs.writeFile(file, JSON.stringify({...box, tag: Buffer.from(box.tag, 'base64').subarray(0, length).toString('base64')}) + '\n');
}

async function replaceKey(moatHome: string): Promise<void> {
	await fs.writeFile(path.join(moatHome, 'encryption.key'), randomBytes(keyBytes).toString('base64') + '\n');
}

const damages: Array<[string, (fixture: Fixture, provider: ProviderName) => Promise<void>]> = [
	['one byte of its ciphertext changed', async ({store}, provider) => tamper(store.fileFor(provider))],
	['the encryption key replaced', async ({moatHome}) => replaceKey(moatHome)],
	['its authentication tag cut to 4 bytes', async ({store}, provider) => cutTag(store.fileFor(provider), 4)],
	['its authentication tag cut to 15 bytes', async ({store}, provider) => cutTag(store.fileFor(provider), 15)],
	['the file no longer JSON', async ({store}, provider) => fs.writeFile(store.fileFor(provider), '{"version":1,')],
];

for (const [label, damage] of damages) {
	for (const [provider, name] of [['github', 'github'], ['claude', 'claude'], ['ssh', 'ssh:a']] as const) {
		test(`with ${label}, get('${name}') fails naming the ${provider} grant and its file and says to grant again`, async t => {
			const fixture = await createFixture(t);
			const secret = `very-secret-${provider}-0123456789`;
			await fixture.store.save(grant(provider, name, secret));
			await damage(fixture, provider);
			const error = await t.throwsAsync(fixture.store.get(name), {instanceOf: MoatError});
			t.true(error.message.includes(provider));
			t.true(error.message.includes(fixture.store.fileFor(provider)));
			t.is(error.hint, provider === 'ssh' ? `Delete ${fixture.store.fileFor('ssh')}, then run moat grant ssh --host HOST again for each host.` : `Run moat grant ${provider} again.`);
			t.is(error.exitCode, 1);
			t.false(error.message.includes(secret));
			t.false(error.hint.includes(secret));
		});
	}
}

test('list() fails closed when one grant cannot be decrypted', async t => {
	const {store} = await createFixture(t);
	await store.save(grant('github'));
	await store.save(grant('openai'));
	await tamper(store.fileFor('openai'));
	const error = await t.throwsAsync(store.list(), {instanceOf: MoatError});
	t.is(error.hint, 'Run moat grant openai again.');
});

test('saving a grant again over an undecryptable file repairs it', async t => {
	const {store} = await createFixture(t);
	await store.save(grant('github'));
	await tamper(store.fileFor('github'));
	const fresh = grant('github', 'github', 'ghp_fresh_fresh_fresh_fresh_fresh');
	await store.save(fresh);
	t.deepEqual(await store.get('github'), fresh);
});

test('remove() of a grant that was never saved returns false', async t => {
	const {store} = await createFixture(t);
	t.false(await store.remove('github'));
	t.false(await store.remove('ssh:github.com'));
});

test('remove() of a saved grant returns true and deletes its file', async t => {
	const {store} = await createFixture(t);
	await store.save(grant('github'));
	await store.save(grant('openai'));
	t.true(await store.remove('github'));
	t.false(await exists(store.fileFor('github')));
	t.is(await store.get('github'), undefined);
	t.deepEqual((await store.list()).map(each => each.name), ['openai']);
	t.false(await store.remove('github'));
});

for (const [label, damage] of damages) {
	test(`remove() deletes a non-ssh grant with ${label}`, async t => {
		const fixture = await createFixture(t);
		await fixture.store.save(grant('anthropic'));
		await damage(fixture, 'anthropic');
		t.true(await fixture.store.remove('anthropic'));
		t.false(await exists(fixture.store.fileFor('anthropic')));
	});
}

test('remove() refuses to rewrite an ssh file it cannot decrypt, keeping the other hosts\' file', async t => {
	const {store} = await createFixture(t);
	await store.save(grant('ssh', 'ssh:a'));
	await store.save(grant('ssh', 'ssh:b'));
	await tamper(store.fileFor('ssh'));
	const error = await t.throwsAsync(store.remove('ssh:a'), {instanceOf: MoatError});
	t.regex(error.hint, /moat grant ssh --host HOST again/);
	t.true(await exists(store.fileFor('ssh')));
});

test('saving an ssh grant over an ssh file it cannot decrypt refuses instead of dropping the other hosts', async t => {
	const {store} = await createFixture(t);
	await store.save(grant('ssh', 'ssh:a'));
	await store.save(grant('ssh', 'ssh:b'));
	await tamper(store.fileFor('ssh'));
	const before = await fs.readFile(store.fileFor('ssh'), 'utf8');
	await t.throwsAsync(store.save(grant('ssh', 'ssh:c')), {instanceOf: MoatError});
	t.is(await fs.readFile(store.fileFor('ssh'), 'utf8'), before, 'the file is left as it was');
});

test('ssh grants for several hosts share ssh.enc and each comes back', async t => {
	const {moatHome, store} = await createFixture(t);
	const a = grant('ssh', 'ssh:a');
	const b = grant('ssh', 'ssh:b');
	await store.save(b);
	await store.save(a);
	t.deepEqual(await fs.readdir(path.join(moatHome, 'credentials')), ['ssh.enc']);
	t.deepEqual(await store.get('ssh:a'), a);
	t.deepEqual(await store.get('ssh:b'), b);
	t.deepEqual(await store.list(), [a, b]);
});

test('removing one ssh host keeps the other, and removing the last deletes ssh.enc', async t => {
	const {store} = await createFixture(t);
	const a = grant('ssh', 'ssh:a');
	const b = grant('ssh', 'ssh:b');
	await store.save(a);
	await store.save(b);
	t.false(await store.remove('ssh:c'));
	t.true(await store.remove('ssh:a'));
	t.is(await store.get('ssh:a'), undefined);
	t.deepEqual(await store.get('ssh:b'), b);
	t.true(await exists(store.fileFor('ssh')));
	t.true(await store.remove('ssh:b'));
	t.false(await exists(store.fileFor('ssh')));
});
