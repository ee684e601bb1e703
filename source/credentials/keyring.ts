import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {MoatError, usageError} from '../errors.js';
import {createFileOnce} from '../files/create-once.js';
import {keyBytes} from './sealed-box.js';
import {loadSystemKeychain, type SystemKeychain} from './system-keychain.js';
import {printable} from '../text/printable.js';

/** Where the credential encryption key lives. */
export type KeyringBackend = 'system' | 'file';

export type Keyring = {
	readonly backend: KeyringBackend;
	/** The key, created on first use. */
	key(): Promise<Buffer>;
};

const keychainService = 'moat';
/** Records which backend holds this MOAT_HOME's key. */
const backendMarker = 'keyring-backend';
const keychainAccount = 'credential-encryption-key';

function fileKeyring(moatHome: string): Keyring {
	const file = path.join(moatHome, 'encryption.key');
	return {
		backend: 'file',
		async key() {
			try {
				const text = (await fs.readFile(file, 'utf8')).trim();
				const key = Buffer.from(text, 'base64');
				if (key.length !== keyBytes) {
					throw new MoatError(`${printable(file)} does not hold a ${keyBytes}-byte key.`, `Move it away and run moat grant again for each provider (stored grants cannot be read without it).`);
				}

				return key;
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
					throw error;
				}
			}

			// Grants already stored without a key file were keyed elsewhere
			// (the system keychain): a new key here would orphan them.
			const stored = await fs.readdir(path.join(moatHome, 'credentials')).catch(() => [] as string[]);
			if (stored.some(name => name.endsWith('.enc'))) {
				throw new MoatError(
					`Grants in ${printable(path.join(moatHome, 'credentials'))} were saved with a key that is not in ${printable(file)} (the system keychain?).`,
					`Run moat where that keychain is reachable, or remove the credentials directory and grant again.`,
				);
			}

			await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
			const created = await createFileOnce(file, randomBytes(keyBytes).toString('base64') + '\n');
			return Buffer.from(created.trim(), 'base64');
		},
	};
}

function systemKeyring(keychain: SystemKeychain, moatHome: string): Keyring {
	return {
		backend: 'system',
		async key() {
			// Remember that this home's grants live behind the keychain, so a
			// later session without one fails clearly instead of quietly
			// starting a key file (and losing access to them).
			await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
			await createFileOnce(path.join(moatHome, backendMarker), 'system\n');
			const stored = await keychain.get(keychainService, keychainAccount);
			if (stored) {
				return Buffer.from(stored, 'base64');
			}

			await keychain.set(keychainService, keychainAccount, randomBytes(keyBytes).toString('base64'));
			// Read back: of two first uses at once, the last write is the key.
			return Buffer.from((await keychain.get(keychainService, keychainAccount))!, 'base64');
		},
	};
}

/**
 * The OS keychain (through keytar) when it works, otherwise the key file;
 * MOAT_KEYRING_BACKEND=file|system forces one. Forcing `system` where there
 * is no working keychain is an error rather than a silent fallback.
 */
export async function openKeyring(environment: MoatEnvironment, load: () => Promise<SystemKeychain | undefined> = loadSystemKeychain): Promise<Keyring> {
	// An empty value counts as unset, as it does for MOAT_HOME.
	const forced = environment.variables[environmentVariables.keyringBackend] || undefined;
	if (forced !== undefined && forced !== 'file' && forced !== 'system') {
		throw usageError(`${environmentVariables.keyringBackend}=${printable(forced)} is not a backend.`, `Set it to file or system, or unset it.`);
	}

	if (forced === 'file') {
		return fileKeyring(environment.moatHome);
	}

	// Whichever backend already holds the key wins: switching would make
	// every stored grant undecryptable.
	const keyFileExists = await fs.access(path.join(environment.moatHome, 'encryption.key')).then(() => true, () => false);
	if (keyFileExists && forced === undefined) {
		return fileKeyring(environment.moatHome);
	}

	if (keyFileExists && forced === 'system') {
		throw new MoatError(
			`Your grants are encrypted with the key file ${path.join(environment.moatHome, 'encryption.key')}, not the system keychain.`,
			`Unset ${environmentVariables.keyringBackend}, or remove the key file and the credentials directory and grant again.`,
		);
	}

	const recorded = (await fs.readFile(path.join(environment.moatHome, backendMarker), 'utf8').catch(() => '')).trim();
	const keychain = await load();
	if (keychain) {
		return systemKeyring(keychain, environment.moatHome);
	}

	if (recorded === 'system') {
		throw new MoatError(
			'Your grants are encrypted with a key in the system keychain, and the keychain cannot be reached from here.',
			`Run moat where the keychain is available, or set ${environmentVariables.keyringBackend}=file and grant again.`,
		);
	}

	if (forced === 'system') {
		throw new MoatError(
			'The system keychain is not available (keytar could not be loaded or reached no Secret Service).',
			`Unset ${environmentVariables.keyringBackend} to use the key file, or install keytar's system libraries.`,
		);
	}

	return fileKeyring(environment.moatHome);
}
