import {createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {tryCaptureLock, waitForCaptureLock} from '../runs/capture-lock.js';
import {checkpointMessage, entryLeaves, keyFingerprint, makeEntry, type AuditEntry, type Checkpoint} from './audit-chain.js';
import {treeRoot} from './merkle.js';

/** A checkpoint is signed after this many entries, and when a run ends. */
const checkpointEvery = 16;

export type AuditLog = {
	/** Appends one event to a run's log. */
	record(runId: string, type: string, data: Record<string, unknown>): Promise<AuditEntry>;
	/** Signs a checkpoint of the log as it stands. */
	seal(runId: string): Promise<void>;
	read(runId: string): Promise<{entries: AuditEntry[]; checkpoints: Checkpoint[]}>;
	publicKeyPem(): Promise<string>;
};

function parseLines<T>(text: string): T[] {
	const values: T[] = [];
	for (const line of text.split('\n')) {
		if (line.trim() === '') {
			continue;
		}

		try {
			values.push(JSON.parse(line) as T);
		} catch {
			// A torn last line from a crash mid-write: the log up to it still verifies.
		}
	}

	return values;
}

async function readText(file: string): Promise<string> {
	try {
		return await fs.readFile(file, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			return '';
		}

		throw error;
	}
}

/** Cuts a torn last line so the next append starts on a line of its own. */
async function repairTail(file: string): Promise<void> {
	const text = await readText(file);
	if (text !== '' && !text.endsWith('\n')) {
		await fs.truncate(file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
	}
}

/**
 * Each run's audit log under `runs/<id>/audit/`: `entries.jsonl` (the hash
 * chain) and `checkpoints.jsonl` (signed tree heads). One writer at a time
 * per run, by lock; the Ed25519 signing key lives in MOAT_HOME, 0600.
 */
export function createAuditLog(moatHome: string, now: () => Date = () => new Date()): AuditLog {
	const keyFile = path.join(moatHome, 'audit-signing-key.pem');
	const directory = (runId: string) => path.join(moatHome, 'runs', runId, 'audit');
	const entriesFile = (runId: string) => path.join(directory(runId), 'entries.jsonl');
	const checkpointsFile = (runId: string) => path.join(directory(runId), 'checkpoints.jsonl');

	async function privateKeyPem(): Promise<string> {
		const existing = await readText(keyFile);
		if (existing !== '') {
			return existing;
		}

		await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
		const {privateKey} = generateKeyPairSync('ed25519');
		const pem = privateKey.export({type: 'pkcs8', format: 'pem'}).toString();
		// Written whole, then linked into place: a concurrent creator either
		// wins or reads the winner's complete key.
		const temporary = `${keyFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
		await fs.writeFile(temporary, pem, {mode: 0o600});
		try {
			await fs.link(temporary, keyFile);
			return pem;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}

			return readText(keyFile);
		} finally {
			await fs.rm(temporary, {force: true});
		}
	}

	async function withWriterLock<T>(runId: string, action: () => Promise<T>): Promise<T> {
		await fs.mkdir(directory(runId), {recursive: true, mode: 0o700});
		const lockFile = path.join(directory(runId), 'writer.lock');
		for (;;) {
			// eslint-disable-next-line no-await-in-loop
			const lock = await tryCaptureLock(lockFile);
			if (lock) {
				try {
					return await action();
				} finally {
					await lock.release();
				}
			}

			// eslint-disable-next-line no-await-in-loop
			await waitForCaptureLock(lockFile, 5000);
		}
	}

	async function read(runId: string) {
		return {
			entries: parseLines<AuditEntry>(await readText(entriesFile(runId))),
			checkpoints: parseLines<Checkpoint>(await readText(checkpointsFile(runId))),
		};
	}

	async function sealLocked(runId: string, entries: readonly AuditEntry[]): Promise<void> {
		const privateKey = createPrivateKey(await privateKeyPem());
		const unsigned = {treeSize: entries.length, rootHash: treeRoot(entryLeaves(entries)).toString('hex'), ts: now().toISOString()};
		const checkpoint: Checkpoint = {
			...unsigned,
			keyFingerprint: keyFingerprint(createPublicKey(privateKey)),
			signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64'),
		};
		await repairTail(checkpointsFile(runId));
		await fs.appendFile(checkpointsFile(runId), JSON.stringify(checkpoint) + '\n', {mode: 0o600});
	}

	return {
		read,
		async record(runId, type, data) {
			return withWriterLock(runId, async () => {
				await repairTail(entriesFile(runId));
				const {entries} = await read(runId);
				const entry = makeEntry(entries.at(-1), now().toISOString(), type, data);
				await fs.appendFile(entriesFile(runId), JSON.stringify(entry) + '\n', {mode: 0o600});
				if ((entry.seq + 1) % checkpointEvery === 0) {
					await sealLocked(runId, [...entries, entry]);
				}

				return entry;
			});
		},
		async seal(runId) {
			await withWriterLock(runId, async () => {
				const {entries} = await read(runId);
				await sealLocked(runId, entries);
			});
		},
		async publicKeyPem() {
			return createPublicKey(await privateKeyPem()).export({type: 'spki', format: 'pem'}).toString();
		},
	};
}
