import fs from 'node:fs/promises';
import path from 'node:path';
import {writeFileAtomic} from '../files/atomic-write.js';
import {MoatError} from '../errors.js';
import type {Grant, ProviderName} from './grant.js';
import type {Keyring} from './keyring.js';
import {open, seal, type SealedBox} from './sealed-box.js';
import {printable} from '../text/printable.js';

export type CredentialStore = {
	save(grant: Grant): Promise<void>;
	get(name: string): Promise<Grant | undefined>;
	list(): Promise<Grant[]>;
	/** False when there was nothing to remove. */
	remove(name: string): Promise<boolean>;
	fileFor(provider: ProviderName): string;
};

function providerOf(name: string): ProviderName {
	return (name.startsWith('ssh:') ? 'ssh' : name) as ProviderName;
}

/**
 * Grants, one encrypted file per provider (SSH keeps every host's grant in
 * its one file). Files are 0600 in a 0700 directory and written atomically.
 */
export function createCredentialStore(moatHome: string, keyring: Keyring): CredentialStore {
	const directory = path.join(moatHome, 'credentials');
	const fileFor = (provider: ProviderName) => path.join(directory, `${provider}.enc`);

	async function readFile(provider: ProviderName): Promise<Grant[]> {
		const file = fileFor(provider);
		let text: string;
		try {
			text = await fs.readFile(file, 'utf8');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
				return [];
			}

			throw new MoatError(`Cannot read the ${provider} grant at ${printable(file)}: ${printable((error as Error).message)}.`, `Check its permissions, or run moat grant ${provider} again.`, 1, {cause: error});
		}

		try {
			return JSON.parse(open(await keyring.key(), JSON.parse(text) as SealedBox)) as Grant[];
		} catch (error) {
			if (error instanceof MoatError) {
				throw error;
			}

			// Fail closed and say which grant: a changed file and a changed key
			// look the same from here, and both mean granting again.
			throw new MoatError(
				`Cannot decrypt the ${provider} grant (${printable(file)}): the file was changed or the encryption key is not the one it was saved with.`,
				provider === 'ssh' ? `Delete ${printable(file)}, then run moat grant ssh --host HOST again for each host.` : `Run moat grant ${provider} again.`,
				1,
				{cause: error},
			);
		}
	}

	async function writeFile(provider: ProviderName, grants: Grant[]): Promise<void> {
		const file = fileFor(provider);
		if (grants.length === 0) {
			await fs.rm(file, {force: true});
			return;
		}

		await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
		await fs.mkdir(directory, {recursive: true, mode: 0o700});
		const box = seal(await keyring.key(), JSON.stringify(grants));
		await writeFileAtomic(file, JSON.stringify(box) + '\n');
	}

	return {
		fileFor,
		async save(grant) {
			// One grant per file is simply replaced (granting again is the fix for
			// an unreadable one); the SSH file holds other hosts' grants, which an
			// unreadable file must not silently lose.
			const existing = grant.provider === 'ssh' ? await readFile('ssh') : await readFile(grant.provider).catch(() => []);
			const others = existing.filter(stored => stored.name !== grant.name);
			await writeFile(grant.provider, [...others, grant].sort((a, b) => a.name.localeCompare(b.name)));
		},
		async get(name) {
			return (await readFile(providerOf(name))).find(grant => grant.name === name);
		},
		async list() {
			let names: string[];
			try {
				names = await fs.readdir(directory);
			} catch {
				return [];
			}

			const providers = names.filter(name => name.endsWith('.enc')).map(name => name.slice(0, -4) as ProviderName);
			return (await Promise.all(providers.map(async provider => readFile(provider)))).flat();
		},
		async remove(name) {
			const provider = providerOf(name);
			const grants = await readFile(provider).catch((error: unknown) => {
				// A grant that cannot be decrypted can still be revoked.
				if (provider !== 'ssh') {
					return [{name} as Grant];
				}

				throw error;
			});
			const remaining = grants.filter(grant => grant.name !== name);
			if (remaining.length === grants.length) {
				return false;
			}

			await writeFile(provider, remaining);
			return true;
		},
	};
}
