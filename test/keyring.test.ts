import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {openKeyring} from '../source/credentials/keyring.js';
import {keyBytes} from '../source/credentials/sealed-box.js';
import type {SystemKeychain} from '../source/credentials/system-keychain.js';
import {createEnvironment, environmentVariables, type MoatEnvironment} from '../source/environment.js';
import {exitCodes, MoatError} from '../source/errors.js';

/** A MOAT_HOME that does not exist yet, inside a temp directory removed after the test. */
async function temporaryMoatHome(t: ExecutionContext): Promise<string> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-'));
	t.teardown(async () => fs.rm(root, {recursive: true, force: true}));
	return path.join(root, 'moat-home');
}

function environmentFor(moatHome: string, backend?: string): MoatEnvironment {
	return createEnvironment({[environmentVariables.home]: moatHome, [environmentVariables.keyringBackend]: backend}, path.dirname(moatHome));
}

/** An in-memory keychain that records what was stored where. */
function fakeKeychain(): SystemKeychain & {entries: Map<string, string>} {
	const entries = new Map<string, string>();
	return {
		entries,
		async get(service, account) {
			return entries.get(`${service}/${account}`);
		},
		async set(service, account, secret) {
			entries.set(`${service}/${account}`, secret);
		},
	};
}

const noKeychain = async (): Promise<SystemKeychain | undefined> => undefined;

async function mode(file: string): Promise<number> {
	return (await fs.stat(file)).mode & 0o777;
}

test('the file backend creates a 32-byte key on first use, in a 0600 file in a 0700 directory', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keyring = await openKeyring(environmentFor(moatHome, 'file'), noKeychain);
	t.is(keyring.backend, 'file');
	const key = await keyring.key();
	t.is(key.length, keyBytes);
	t.is(keyBytes, 32);
	const file = path.join(moatHome, 'encryption.key');
	t.is(await mode(file), 0o600);
	t.is(await mode(moatHome), 0o700);
	t.deepEqual(Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'base64'), key);
});

test('the file backend returns the same key on a second call and from a second keyring', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keyring = await openKeyring(environmentFor(moatHome, 'file'), noKeychain);
	const first = await keyring.key();
	t.deepEqual(await keyring.key(), first);
	const again = await openKeyring(environmentFor(moatHome, 'file'), noKeychain);
	t.deepEqual(await again.key(), first);
});

test('two keyrings creating the key at once agree on one key', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keyrings = await Promise.all([1, 2, 3, 4].map(async () => openKeyring(environmentFor(moatHome, 'file'), noKeychain)));
	const keys = await Promise.all(keyrings.map(async keyring => keyring.key()));
	for (const key of keys) {
		t.deepEqual(key, keys[0]);
	}
});

const wrongLengths = [
	['16 bytes', Buffer.alloc(16, 1).toString('base64')],
	['31 bytes', Buffer.alloc(31, 1).toString('base64')],
	['33 bytes', Buffer.alloc(33, 1).toString('base64')],
	['64 bytes', Buffer.alloc(64, 1).toString('base64')],
	['an empty file', ''],
] as const;

for (const [label, content] of wrongLengths) {
	test(`a key file holding ${label} is a MoatError naming the file`, async t => {
		const moatHome = await temporaryMoatHome(t);
		await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
		const file = path.join(moatHome, 'encryption.key');
		await fs.writeFile(file, content + '\n', {mode: 0o600});
		const keyring = await openKeyring(environmentFor(moatHome, 'file'), noKeychain);
		const error = await t.throwsAsync(keyring.key(), {instanceOf: MoatError});
		t.true(error.message.includes(file));
		t.is(error.exitCode, exitCodes.failure);
		// The bad file is left for the user to move away, not overwritten.
		t.is(await fs.readFile(file, 'utf8'), content + '\n');
	});
}

test('MOAT_KEYRING_BACKEND=file ignores a working keychain', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keychain = fakeKeychain();
	let loads = 0;
	const keyring = await openKeyring(environmentFor(moatHome, 'file'), async () => {
		loads++;
		return keychain;
	});
	t.is(keyring.backend, 'file');
	await keyring.key();
	t.is(keychain.entries.size, 0);
	t.is(loads, 0);
	await t.notThrowsAsync(fs.access(path.join(moatHome, 'encryption.key')));
});

test('MOAT_KEYRING_BACKEND=system without a keychain is a MoatError and writes no key file', async t => {
	const moatHome = await temporaryMoatHome(t);
	const error = await t.throwsAsync(openKeyring(environmentFor(moatHome, 'system'), noKeychain), {instanceOf: MoatError});
	t.is(error.exitCode, exitCodes.failure);
	t.true(error.hint.includes(environmentVariables.keyringBackend));
	await t.throwsAsync(fs.access(path.join(moatHome, 'encryption.key')));
});

test('MOAT_KEYRING_BACKEND=system with a working keychain uses it', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keyring = await openKeyring(environmentFor(moatHome, 'system'), async () => fakeKeychain());
	t.is(keyring.backend, 'system');
});

for (const backend of ['bogus', 'FILE', 'System', 'keychain']) {
	test(`MOAT_KEYRING_BACKEND=${JSON.stringify(backend)} is a usage error with exit code 2`, async t => {
		const moatHome = await temporaryMoatHome(t);
		const error = await t.throwsAsync(openKeyring(environmentFor(moatHome, backend), async () => fakeKeychain()), {instanceOf: MoatError});
		t.is(error.exitCode, exitCodes.usage);
		t.is(error.exitCode, 2);
		t.true(error.message.includes(`${environmentVariables.keyringBackend}=${backend}`));
	});
}

test('by default a working keychain is used: the key is stored base64 in it and read back next time', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keychain = fakeKeychain();
	const keyring = await openKeyring(environmentFor(moatHome), async () => keychain);
	t.is(keyring.backend, 'system');
	const key = await keyring.key();
	t.is(key.length, keyBytes);
	t.is(keychain.entries.size, 1);
	const [stored] = [...keychain.entries.values()];
	t.is(stored, key.toString('base64'));
	t.deepEqual(await keyring.key(), key);
	const again = await openKeyring(environmentFor(moatHome), async () => keychain);
	t.deepEqual(await again.key(), key);
	t.is(keychain.entries.size, 1);
	await t.throwsAsync(fs.access(path.join(moatHome, 'encryption.key')));
});

test('the keychain entry is under service moat', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keychain = fakeKeychain();
	await (await openKeyring(environmentFor(moatHome), async () => keychain)).key();
	t.true([...keychain.entries.keys()].every(entry => entry.startsWith('moat/')));
});

test('by default, without a keychain, the key file is used', async t => {
	const moatHome = await temporaryMoatHome(t);
	const keyring = await openKeyring(environmentFor(moatHome), noKeychain);
	t.is(keyring.backend, 'file');
	const key = await keyring.key();
	t.is(key.length, keyBytes);
	t.deepEqual(Buffer.from((await fs.readFile(path.join(moatHome, 'encryption.key'), 'utf8')).trim(), 'base64'), key);
});

test('separate processes creating the key file at once all get the same complete 32-byte key', async t => {
	const {execFile} = await import('node:child_process');
	const {fileURLToPath} = await import('node:url');
	const keyringModule = fileURLToPath(new URL('../source/credentials/keyring.js', import.meta.url));
	const environmentModule = fileURLToPath(new URL('../source/environment.js', import.meta.url));
	const script = `const {openKeyring} = await import(${JSON.stringify(keyringModule)}); const {createEnvironment} = await import(${JSON.stringify(environmentModule)});
const keyring = await openKeyring(createEnvironment({MOAT_HOME: process.argv[1], MOAT_KEYRING_BACKEND: 'file'}));
process.stdout.write((await keyring.key()).toString('hex'));`;
	for (let round = 0; round < 5; round++) {
		const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-race-'));
		t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
		const keys = await Promise.all(Array.from({length: 6}, async () => new Promise<string>((resolve, reject) => {
			execFile(process.execPath, ['--input-type=module', '-e', script, home], (error, stdout) => {
				if (error) {
					// eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an Error; @types/node builds ExecFileException with Omit<>, which hides that
					reject(error);
				} else {
					resolve(stdout);
				}
			});
		})));
		t.is(new Set(keys).size, 1, 'every process got the same key');
		t.is(Buffer.from(keys[0]!, 'hex').length, keyBytes);
	}
});

test('an empty MOAT_KEYRING_BACKEND counts as unset', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-empty-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const keyring = await openKeyring(createEnvironment({MOAT_HOME: home, [environmentVariables.keyringBackend]: ''}), async () => undefined);
	t.is(keyring.backend, 'file');
});

test('once grants are keyed in the system keychain, a session without one fails clearly instead of starting a key file', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-switch-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const environment = createEnvironment({MOAT_HOME: home});
	const keychain = fakeKeychain();
	const first = await openKeyring(environment, async () => keychain);
	t.is(first.backend, 'system');
	await first.key();
	const error = await t.throwsAsync(openKeyring(environment, async () => undefined), {instanceOf: MoatError});
	t.regex(error!.message, /encrypted with a key in the system keychain/);
	t.regex(error!.hint, /MOAT_KEYRING_BACKEND=file/);
	await t.throwsAsync(fs.access(path.join(home, 'encryption.key')), undefined, 'no key file was started');
});

test('once grants are keyed in the key file, a keychain that appears later does not take over', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-stay-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const environment = createEnvironment({MOAT_HOME: home});
	const fileKey = await (await openKeyring(environment, async () => undefined)).key();
	const later = await openKeyring(environment, async () => fakeKeychain());
	t.is(later.backend, 'file');
	t.deepEqual(await later.key(), fileKey);
});

test('a home that finds a keychain key made by another home still records that its grants use the keychain', async t => {
	const homes = await Promise.all([0, 1].map(async () => fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-shared-'))));
	t.teardown(async () => Promise.all(homes.map(async home => fs.rm(home, {recursive: true, force: true}))));
	const keychain = fakeKeychain();
	await (await openKeyring(createEnvironment({MOAT_HOME: homes[0]}), async () => keychain)).key();
	await (await openKeyring(createEnvironment({MOAT_HOME: homes[1]}), async () => keychain)).key();
	await t.throwsAsync(openKeyring(createEnvironment({MOAT_HOME: homes[1]}), async () => undefined), {instanceOf: MoatError, message: /system keychain/});
});

test('no key file is started beside grants that were saved with another key', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-orphan-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	await fs.mkdir(path.join(home, 'credentials'), {recursive: true});
	await fs.writeFile(path.join(home, 'credentials', 'github.enc'), '{}');
	const keyring = await openKeyring(createEnvironment({MOAT_HOME: home, MOAT_KEYRING_BACKEND: 'file'}), async () => undefined);
	await t.throwsAsync(keyring.key(), {instanceOf: MoatError, message: /saved with a key that is not in/});
	await t.throwsAsync(fs.access(path.join(home, 'encryption.key')));
});

test('forcing the system keychain where the key file holds the key is refused', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-keyring-forced-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	await (await openKeyring(createEnvironment({MOAT_HOME: home}), async () => undefined)).key();
	await t.throwsAsync(openKeyring(createEnvironment({MOAT_HOME: home, MOAT_KEYRING_BACKEND: 'system'}), async () => fakeKeychain()), {instanceOf: MoatError, message: /key file/});
});
