import {createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {StringDecoder} from 'node:string_decoder';
import {createFileOnce} from '../files/create-once.js';
import {tryFileLock, withFileLock} from '../files/file-lock.js';
import {appendWholeLines, openLineAppender, repairTornLine, type LineAppender} from '../files/line-appender.js';
import {checkpointMessage, entryLeaves, finalEntryType, keyFingerprint, makeEntryLine, type AuditEntry, type AuditEventType, type Checkpoint} from './audit-chain.js';
import {makeWitnessEntry, witnesses} from './audit-witness.js';
import {createDigestTreeBuilder, fromDigest, leafDigestOfHex, treeRoot} from './merkle.js';

/** A checkpoint is signed after this many entries, and when a run ends. */
export const checkpointEvery = 256;

/** A run's log held open by its one writer (the daemon, or a benchmark). */
export type AuditWriter = {
	append(type: string, data: Record<string, unknown>): AuditEntry;
	/** Writes what is buffered, signs a checkpoint and releases the log. */
	close(): Promise<void>;
};

/** Where a run's events go: the log itself, or the daemon that writes it. */
export type AuditSink = {
	record(runId: string, type: AuditEventType, data: Record<string, unknown>): Promise<unknown>;
	/** Signs a checkpoint of the log as it stands. */
	seal(runId: string): Promise<void>;
};

export type AuditLog = {
	/** Opens a run's log for many appends: the last entry stays in memory. */
	openWriter(runId: string): Promise<AuditWriter>;
	/** Appends one event to a run's log. */
	record(runId: string, type: string, data: Record<string, unknown>): Promise<AuditEntry>;
	/** Signs a checkpoint of the log as it stands. */
	seal(runId: string): Promise<void>;
	read(runId: string): Promise<{entries: AuditEntry[]; checkpoints: Checkpoint[]}>;
	/** The witness's entries: every run's final checkpoint, hash-chained (see audit-witness.ts). */
	readWitness(): Promise<AuditEntry[]>;
	publicKeyPem(): Promise<string>;
};

/** Where the witness lives: in MOAT_HOME, outside every run's folder. */
export function witnessFile(moatHome: string): string {
	return path.join(moatHome, 'audit-witness.jsonl');
}

/** Thrown for an event that comes after a run's last entry: nothing is appended after it. */
export class SealedLogError extends Error {
	constructor(runId: string, type: string) {
		super(`the run ${runId} has ended and its audit log is sealed with ${finalEntryType}; ${type} is not recorded after it`);
		this.name = 'SealedLogError';
	}
}

/**
 * The lines of a log file. Only a torn *last* line (a crash mid-write) is
 * skipped; anything unreadable before it is kept as null, so verification
 * names it instead of the log silently losing an entry.
 */
function parseLines<T>(text: string): T[] {
	const lines = text.split('\n');
	const torn = text.endsWith('\n') ? -1 : lines.length - 1;
	const values: T[] = [];
	for (const [index, line] of lines.entries()) {
		pushLine(values, line, index === torn);
	}

	return values;
}

function pushLine<T>(values: T[], line: string, torn: boolean): void {
	if (line.trim() === '') {
		return;
	}

	try {
		values.push(JSON.parse(line) as T);
	} catch {
		if (!torn) {
			values.push(null as T);
		}
	}
}

/**
 * The lines of a log file as parseLines gives them, read a few megabytes at
 * a time: a long run's log outgrows the longest string the engine makes (a
 * few hundred megabytes), and is never held whole as text. A missing file
 * has no lines.
 */
export async function readLogLines<T>(file: string, chunkBytes = 4 * 1024 * 1024): Promise<T[]> {
	let handle: fs.FileHandle;
	try {
		handle = await fs.open(file, 'r');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			return [];
		}

		throw error;
	}

	try {
		const values: T[] = [];
		// A character cut between two reads is held back whole, as is a line.
		const decoder = new StringDecoder('utf8');
		const buffer = Buffer.allocUnsafe(chunkBytes);
		let rest = '';
		for (;;) {
			const {bytesRead} = await handle.read(buffer, 0, buffer.length, null);
			if (bytesRead === 0) {
				break;
			}

			const text = rest + decoder.write(buffer.subarray(0, bytesRead));
			const end = text.lastIndexOf('\n');
			if (end === -1) {
				rest = text;
				continue;
			}

			for (const line of text.slice(0, end).split('\n')) {
				pushLine(values, line, false);
			}

			rest = text.slice(end + 1);
		}

		// What follows the last newline is a torn line unless it is whole.
		pushLine(values, rest + decoder.end(), true);
		return values;
	} finally {
		await handle.close();
	}
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

/** The last complete entry of a log, reading only the end of the file. */
async function lastEntry(file: string): Promise<AuditEntry | undefined> {
	let handle: fs.FileHandle;
	try {
		handle = await fs.open(file, 'r');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			return undefined;
		}

		throw error;
	}

	try {
		const {size} = await handle.stat();
		for (let block = 4096; ; block *= 4) {
			const start = Math.max(0, size - block);
			const buffer = Buffer.alloc(size - start);
			await handle.read(buffer, 0, buffer.length, start);
			const lines = buffer.toString('utf8').split('\n').filter(line => line.trim() !== '');
			// The first line of a block that did not start at 0 may be cut.
			const complete = start === 0 ? lines : lines.slice(1);
			const last = parseLines<AuditEntry>(complete.join('\n')).at(-1);
			if (last || start === 0) {
				return last;
			}
		}
	} finally {
		await handle.close();
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
	const witness = witnessFile(moatHome);

	async function privateKeyPem(): Promise<string> {
		const existing = await readText(keyFile);
		if (existing !== '') {
			return existing;
		}

		await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
		const {privateKey} = generateKeyPairSync('ed25519');
		const pem = privateKey.export({type: 'pkcs8', format: 'pem'}).toString();
		return createFileOnce(keyFile, pem);
	}

	// The key parsed once for each text of the key file: a writer signs a
	// checkpoint every few hundred entries.
	let parsedKey: {pem: string; privateKey: KeyObject; fingerprint: string} | undefined;
	async function signingKey(): Promise<{privateKey: KeyObject; fingerprint: string}> {
		const pem = await privateKeyPem();
		if (parsedKey?.pem !== pem) {
			const privateKey = createPrivateKey(pem);
			parsedKey = {pem, privateKey, fingerprint: keyFingerprint(createPublicKey(privateKey))};
		}

		return parsedKey;
	}

	async function withWriterLock<T>(runId: string, action: () => Promise<T>): Promise<T> {
		await fs.mkdir(directory(runId), {recursive: true, mode: 0o700});
		return withFileLock(path.join(directory(runId), 'writer.lock'), action);
	}

	async function read(runId: string) {
		return {
			entries: await readLogLines<AuditEntry>(entriesFile(runId)),
			checkpoints: await readLogLines<Checkpoint>(checkpointsFile(runId)),
		};
	}

	async function sealLocked(runId: string, entries: readonly AuditEntry[]): Promise<void> {
		await signCheckpoint(runId, entries.length, treeRoot(entryLeaves(entries)), entries.at(-1)?.type === finalEntryType);
	}

	/**
	 * Appends a run's final checkpoint to the witness, once: under its own
	 * lock (every moat process of this MOAT_HOME may seal a run), after
	 * cutting a torn last line, as the run's log is appended.
	 */
	async function witnessCheckpoint(checkpoint: Checkpoint): Promise<void> {
		await withFileLock(`${witness}.lock`, async () => {
			await repairTornLine(witness);
			const held = parseLines<AuditEntry | null>(await readText(witness));
			if (held.some(entry => entry && witnesses(entry, checkpoint))) {
				return;
			}

			const entry = makeWitnessEntry(held.at(-1) ?? undefined, now().toISOString(), checkpoint);
			await appendWholeLines(witness, JSON.stringify(entry) + '\n');
		});
	}

	/**
	 * `final`: the checkpoint covers the run's last entry, run.exited, and
	 * goes to the witness too. A writer holding the log passes `held`: the
	 * size it last signed (so the checkpoints need not be read again), where
	 * its checkpoint lines go and its key, read once.
	 */
	async function signCheckpoint(
		runId: string,
		treeSize: number,
		root: Buffer,
		final: boolean,
		held?: {lastSigned: number; appendLine(text: string): Promise<void>; key(): Promise<{privateKey: KeyObject; fingerprint: string}>},
	): Promise<void> {
		const lastSigned = held?.lastSigned;
		// Nothing new since the last checkpoint: another of the same size
		// would only look like a rollback. A writer holding the log knows
		// the size it last signed (`lastSigned`) and need not read them.
		const last = lastSigned !== undefined && lastSigned < treeSize
			? undefined
			: parseLines<Checkpoint | null>(await readText(checkpointsFile(runId))).filter(Boolean).at(-1);
		if (last && last.treeSize >= treeSize) {
			// A seal that stopped between the run's checkpoint and the
			// witness (a crash, a full disk) is finished by the next one.
			if (final && last.treeSize === treeSize) {
				await witnessCheckpoint(last);
			}

			return;
		}

		const {privateKey, fingerprint} = await (held?.key ?? signingKey)();
		const unsigned = {runId, treeSize, rootHash: root.toString('hex'), ts: now().toISOString()};
		const checkpoint: Checkpoint = {
			...unsigned,
			keyFingerprint: fingerprint,
			signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64'),
		};
		const line = JSON.stringify(checkpoint) + '\n';
		await (held ? held.appendLine(line) : appendWholeLines(checkpointsFile(runId), line));
		if (final) {
			await witnessCheckpoint(checkpoint);
		}
	}

	return {
		read,
		async readWitness() {
			return parseLines<AuditEntry>(await readText(witness));
		},
		async openWriter(runId) {
			await fs.mkdir(directory(runId), {recursive: true, mode: 0o700});
			const lockFile = path.join(directory(runId), 'writer.lock');
			const lock = await tryFileLock(lockFile);
			if (!lock) {
				throw new Error(`the audit log of ${runId} already has a writer`);
			}

			await repairTornLine(entriesFile(runId));
			// The tree grows with the log, so a checkpoint never re-reads it.
			const tree = createDigestTreeBuilder();
			const existing = (await read(runId)).entries;
			for (const entry of existing) {
				tree.add(leafDigestOfHex(entry.hash));
			}

			let previous = existing.at(-1);
			// Signed checkpoints go only through this writer while it holds the log.
			let lastSigned = parseLines<Checkpoint | null>(await readText(checkpointsFile(runId))).filter(Boolean).at(-1)?.treeSize ?? 0;
			// Opened at the first checkpoint and kept while the writer holds
			// the log: a long run signs thousands, each an open, a read of
			// the tail and a close otherwise.
			let checkpointAppender: Promise<LineAppender> | undefined;
			const appendCheckpoint = async (text: string) => {
				checkpointAppender ??= openLineAppender(checkpointsFile(runId)).catch((error: unknown) => {
					// Opened again by the next checkpoint (a full disk may have room by then).
					checkpointAppender = undefined;
					throw error;
				});
				await (await checkpointAppender).append(text);
			};

			// The key read once per writer, not once per checkpoint: every
			// checkpoint of a log must be signed by the one key anyway.
			let heldKey: Promise<{privateKey: KeyObject; fingerprint: string}> | undefined;
			const writerKey = async () => {
				heldKey ??= signingKey().catch((error: unknown) => {
					heldKey = undefined;
					throw error;
				});
				return heldKey;
			};

			const signUpTo = async (size: number, root: Buffer, final: boolean) => {
				await signCheckpoint(runId, size, root, final, {lastSigned, appendLine: appendCheckpoint, key: writerKey});
				lastSigned = Math.max(lastSigned, size);
			};

			const appender = await openLineAppender(entriesFile(runId));
			let buffer: string[] = [];
			let sinceCheckpoint = 0;
			let pending: Promise<unknown> = Promise.resolve();
			const flush = () => {
				const text = buffer.join('');
				buffer = [];
				pending = pending.then(async () => appender.append(text));
				return pending;
			};

			return {
				append(type, data) {
					if (previous?.type === finalEntryType) {
						throw new SealedLogError(runId, type);
					}

					const {entry, line} = makeEntryLine(previous, now().toISOString(), type, data);
					previous = entry;
					tree.add(leafDigestOfHex(entry.hash));
					buffer.push(line + '\n');
					if (buffer.length >= 1024) {
						void flush();
					}

					if (++sinceCheckpoint >= checkpointEvery) {
						sinceCheckpoint = 0;
						const size = tree.size;
						const root = fromDigest(tree.root());
						// Signed only once the entries it covers are written.
						const final = type === finalEntryType;
						pending = flush().then(async () => signUpTo(size, root, final));
					}

					return entry;
				},
				async close() {
					await flush();
					await pending;
					await appender.close();
					try {
						await signUpTo(tree.size, fromDigest(tree.root()), previous?.type === finalEntryType);
					} finally {
						await (await checkpointAppender?.catch(() => undefined))?.close();
					}

					await lock.release();
				},
			};
		},
		async record(runId, type, data) {
			return withWriterLock(runId, async () => {
				await repairTornLine(entriesFile(runId));
				// Only the last entry is needed to chain the next one.
				const previous = await lastEntry(entriesFile(runId));
				// The run's end is its log's end: a late event (a detach racing
				// the exit) would leave the log unsealed.
				if (previous?.type === finalEntryType) {
					throw new SealedLogError(runId, type);
				}

				const {entry, line} = makeEntryLine(previous, now().toISOString(), type, data);
				await appendWholeLines(entriesFile(runId), line + '\n');
				if ((entry.seq + 1) % checkpointEvery === 0) {
					await sealLocked(runId, (await read(runId)).entries);
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
