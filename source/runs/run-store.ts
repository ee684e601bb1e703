import fs from 'node:fs/promises';
import path from 'node:path';
import {MoatError, notFoundError} from '../errors.js';
import {writeFileAtomic} from '../files/atomic-write.js';
import {fileReads} from '../files/file-reads.js';
import {writingTo} from '../files/disk-full.js';
import {parseJsonLines, type JsonLines} from '../files/json-lines.js';
import {openLineAppender, repairTornLine} from '../files/line-appender.js';
import {runIdPattern, type DamagedRun, type RunMetadata, type StoredRun} from './run-metadata.js';
import {acceptLogRecord, wholeRunRecord} from './run-record-check.js';
import type {RunRecordReading} from './run-record-schemas.js';
import {printable} from '../text/printable.js';

/** One line of `logs.jsonl`. */
export type LogRecord = {
	ts: string;
	stream: 'stdout' | 'stderr';
	line: string;
	/** Set on moat's own record of output lost between two instants (its line says so to any reader). */
	lost?: {after: string; before: string};
};

/**
 * Serialises records as JSON.stringify would, one line each. A fast
 * writer's lines share a stamp and differ only in their text, so the
 * common shape is put together from pieces (half the cost of stringify at
 * a million lines a second); any other shape is stringified.
 */
export function logRecordLines(records: readonly LogRecord[]): string {
	let text = '';
	let stamp = '';
	let stampJson = '';
	for (const record of records) {
		if (record.lost === undefined && (record.stream === 'stdout' || record.stream === 'stderr')) {
			if (record.ts !== stamp) {
				stamp = record.ts;
				stampJson = JSON.stringify(stamp);
			}

			text += `{"ts":${stampJson},"stream":"${record.stream}","line":${JSON.stringify(record.line)}}\n`;
		} else {
			text += JSON.stringify(record) + '\n';
		}
	}

	return text;
}

/**
 * What `moat attach`, `stop` and the rest say about a damaged run: they
 * cannot act on a record they cannot trust, but destroy can remove it.
 */
export function damagedRunError(run: Pick<DamagedRun, 'id' | 'damage'>): MoatError {
	return new MoatError(
		`Run ${printable(run.id)} is damaged: ${printable(run.damage)}.`,
		`Remove it with moat destroy ${printable(run.id)} (moat logs ${printable(run.id)} still shows what it printed).`,
	);
}

/** Private directories and files: run data can hold a user's output. */
const directoryMode = 0o700;
const fileMode = 0o600;

/**
 * The run directory tree under MOAT_HOME: `runs/<id>/metadata.json` and
 * `runs/<id>/logs.jsonl`. Metadata is replaced atomically and log lines are
 * appended whole, so neither a crash nor a full disk leaves half a record.
 */
export type RunStore = ReturnType<typeof createRunStore>;

export function createRunStore(moatHome: string) {
	const root = path.join(moatHome, 'runs');
	const directory = (id: string) => path.join(root, id);
	const metadataFile = (id: string) => path.join(directory(id), 'metadata.json');

	async function writeMetadata(run: RunMetadata): Promise<void> {
		await writeFileAtomic(metadataFile(run.id), JSON.stringify(run, undefined, 2) + '\n', fileMode);
	}

	/**
	 * What run folder `id` holds, checked at the one boundary
	 * (run-record-schemas.ts); undefined when there is no such folder, or
	 * one still being made.
	 */
	async function readStored(id: string, {atOnce = false}: {atOnce?: boolean} = {}): Promise<StoredRun | undefined> {
		let contents: string | undefined;
		try {
			contents = await fileReads({atOnce}).readFile(metadataFile(id));
		} catch (error) {
			const {code} = error as NodeJS.ErrnoException;
			if (code !== 'ENOENT') {
				return damaged(id, {kind: 'damaged', damage: `metadata.json cannot be read (${code ?? (error as Error).message})`, name: null, createdAt: null});
			}

			if (!(await holdsData(directory(id)))) {
				return undefined;
			}
		}

		// A whole record (nearly all of them) is taken without zod; zod is loaded to say what is wrong with one that is not.
		const whole = contents === undefined ? undefined : wholeRunRecord(id, contents);
		if (whole) {
			return whole;
		}

		const reading = (await import('./run-record-schemas.js')).readRunRecord(id, contents);
		return reading.kind === 'run' ? reading.run : damaged(id, reading);
	}

	async function damaged(id: string, reading: Extract<RunRecordReading, {kind: 'damaged'}>): Promise<DamagedRun> {
		// Without a readable creation time, the file's (or the folder's) last change places it in the list.
		const changed = await fs.stat(metadataFile(id)).catch(async () => fs.stat(directory(id))).catch(() => undefined);
		return {
			id,
			name: reading.name,
			createdAt: reading.createdAt ?? (changed ?? {mtime: new Date(0)}).mtime.toISOString(),
			state: 'damaged',
			damage: reading.damage,
		};
	}

	async function read(id: string): Promise<RunMetadata> {
		const stored = await readStored(id);
		if (!stored) {
			throw notFoundError(`Run ${printable(id)} does not exist.`, 'See moat list for existing runs.');
		}

		if (stored.state === 'damaged') {
			throw damagedRunError(stored);
		}

		return stored;
	}

	async function readLogFile(id: string): Promise<JsonLines<LogRecord>> {
		let text: string;
		try {
			text = await fs.readFile(path.join(directory(id), 'logs.jsonl'), 'utf8');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
				return {entries: [], skipped: 0};
			}

			throw error;
		}

		return parseJsonLines(text, acceptLogRecord);
	}

	/** Every run folder: the runs, and the damaged records beside them. */
	async function scan(): Promise<{runs: RunMetadata[]; damaged: DamagedRun[]}> {
		let names: string[];
		try {
			names = await fs.readdir(root);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
				return {runs: [], damaged: []};
			}

			throw error;
		}

		const stored = await Promise.all(names.filter(name => runIdPattern.test(name)).map(async name => readStored(name)));
		const runs: RunMetadata[] = [];
		const damagedRuns: DamagedRun[] = [];
		for (const run of stored) {
			if (run?.state === 'damaged') {
				damagedRuns.push(run);
			} else if (run) {
				runs.push(run);
			}
		}

		return {runs, damaged: damagedRuns};
	}

	return {
		root,
		directory,
		logFile: (id: string) => path.join(directory(id), 'logs.jsonl'),
		/** One line per request through the proxy (README: The network), written by the daemon. */
		networkFile: (id: string) => path.join(directory(id), 'network.jsonl'),
		captureLockFile: (id: string) => path.join(directory(id), 'capture.lock'),
		/** Held by whoever moves the run's state: one process records each change, once. */
		stateLockFile: (id: string) => path.join(directory(id), 'state.lock'),
		/** Present once logs.jsonl holds the container's whole output (a live copy saw it end). */
		captureDoneFile: (id: string) => path.join(directory(id), 'capture.done'),

		async create(run: RunMetadata): Promise<void> {
			await writingTo(root, async () => {
				await fs.mkdir(moatHome, {recursive: true, mode: directoryMode});
				await fs.mkdir(root, {recursive: true, mode: directoryMode});
				await fs.mkdir(directory(run.id), {mode: directoryMode});
			});
			try {
				await writingTo(directory(run.id), async () => fs.writeFile(path.join(directory(run.id), 'logs.jsonl'), '', {mode: fileMode}));
				await writeMetadata(run);
			} catch (error) {
				// A run the disk had no room for leaves no folder without a record behind.
				await fs.rm(directory(run.id), {recursive: true, force: true});
				throw error;
			}
		},

		/** A run's metadata; a damaged record is an error saying so (damagedRunError). */
		read,

		/** Reads, applies `change`, writes back; returns the new metadata. */
		async update(id: string, change: Partial<RunMetadata>): Promise<RunMetadata> {
			const next = {...(await read(id)), ...change};
			await writeMetadata(next);
			return next;
		},

		/** The runs whose records are whole; damaged ones are left out (see scan). */
		async list(): Promise<RunMetadata[]> {
			return (await scan()).runs;
		},

		scan,
		readStored,

		async remove(id: string): Promise<void> {
			await fs.rm(directory(id), {recursive: true, force: true});
		},

		/**
		 * Cuts a torn last line (a crash mid-write) so the next append starts
		 * on a fresh line instead of gluing onto the fragment.
		 */
		async repairLogTail(id: string): Promise<void> {
			await repairTornLine(path.join(directory(id), 'logs.jsonl'));
		},

		/**
		 * Opens logs.jsonl for appending whole records: a torn last line (a
		 * crash mid-write) is cut first, and a batch the disk has no room
		 * for is cut back, so it can be written again whole once there is.
		 */
		async openLogAppender(id: string): Promise<{append(records: readonly LogRecord[]): Promise<void>; close(): Promise<void>}> {
			const appender = await openLineAppender(path.join(directory(id), 'logs.jsonl'), fileMode);
			return {
				async append(records) {
					await appender.append(logRecordLines(records));
				},
				close: async () => appender.close(),
			};
		},

		/**
		 * The last records of the log: at least every record within
		 * `seconds` of the last one, read backwards so a long log is not
		 * read whole.
		 */
		async readRecentLogs(id: string, seconds: number): Promise<LogRecord[]> {
			let handle: fs.FileHandle;
			try {
				handle = await fs.open(path.join(directory(id), 'logs.jsonl'), 'r');
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
					return [];
				}

				throw error;
			}

			try {
				const {size} = await handle.stat();
				let start = size;
				let blockSize = 64 * 1024;
				for (;;) {
					start = Math.max(0, start - blockSize);
					blockSize *= 2;
					const buffer = Buffer.alloc(size - start);
					await handle.read(buffer, 0, buffer.length, start);
					const text = buffer.toString('utf8');
					// Drop the first, probably partial, line unless the read began at the start.
					const records = parseLogRecords(start === 0 ? text : text.slice(text.indexOf('\n') + 1));
					const [first] = records;
					const last = records.at(-1);
					if (start === 0 || (first && last && Date.parse(first.ts) < Date.parse(last.ts) - (seconds + 1) * 1000)) {
						return records;
					}
				}
			} finally {
				await handle.close();
			}
		},

		/** All log records; lines that are not records are skipped. */
		async readLogs(id: string): Promise<LogRecord[]> {
			return (await readLogFile(id)).entries;
		},

		/** All log records, and how many lines were skipped as unreadable (see parseJsonLines). */
		readLogFile,
	};
}

/**
 * Whether a run folder without metadata.json holds anything: a run being
 * made has only empty files for a moment (see create), a run whose record
 * was lost still has its output.
 */
async function holdsData(folder: string): Promise<boolean> {
	const entries = await fs.readdir(folder, {withFileTypes: true}).catch(() => undefined);
	if (!entries) {
		return false;
	}

	// A metadata.json being written first (metadata.json.<pid>.tmp) is not yet the run's record.
	const sizes = await Promise.all(entries.filter(entry => !entry.name.startsWith('metadata.json')).map(async entry => (entry.isFile() ? (await fs.stat(path.join(folder, entry.name)).catch(() => ({size: 0}))).size : 1)));
	return sizes.some(size => size > 0);
}

/** The log records in logs.jsonl text; lines that are not records (and a torn last line) are skipped. */
export function parseLogRecords(text: string): LogRecord[] {
	return parseJsonLines(text, acceptLogRecord).entries;
}
