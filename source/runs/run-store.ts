import fs from 'node:fs/promises';
import path from 'node:path';
import {notFoundError} from '../errors.js';
import {writeFileAtomic} from '../files/atomic-write.js';
import {writingTo} from '../files/disk-full.js';
import {openLineAppender, repairTornLine} from '../files/line-appender.js';
import {runIdPattern, type RunMetadata} from './run-metadata.js';
import {printable} from '../text/printable.js';

/** One line of `logs.jsonl`. */
export type LogRecord = {
	ts: string;
	stream: 'stdout' | 'stderr';
	line: string;
	/** Set on moat's own record of output lost between two instants (its line says so to any reader). */
	lost?: {after: string; before: string};
};

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

	async function read(id: string): Promise<RunMetadata> {
		try {
			return JSON.parse(await fs.readFile(metadataFile(id), 'utf8')) as RunMetadata;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
				throw notFoundError(`Run ${printable(id)} does not exist.`, 'See moat list for existing runs.');
			}

			throw error;
		}
	}

	return {
		root,
		directory,
		logFile: (id: string) => path.join(directory(id), 'logs.jsonl'),
		/** One line per request through the proxy (README: The network), written by the daemon. */
		networkFile: (id: string) => path.join(directory(id), 'network.jsonl'),
		captureLockFile: (id: string) => path.join(directory(id), 'capture.lock'),

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

		read,

		/** Reads, applies `change`, writes back; returns the new metadata. */
		async update(id: string, change: Partial<RunMetadata>): Promise<RunMetadata> {
			const next = {...(await read(id)), ...change};
			await writeMetadata(next);
			return next;
		},

		async list(): Promise<RunMetadata[]> {
			let names: string[];
			try {
				names = await fs.readdir(root);
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
					return [];
				}

				throw error;
			}

			const runs = await Promise.all(
				names
					.filter(name => runIdPattern.test(name))
					.map(async name => read(name).catch(() => undefined)),
			);
			return runs.filter((run): run is RunMetadata => run !== undefined);
		},

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
					await appender.append(records.map(record => JSON.stringify(record) + '\n').join(''));
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

		/** All log records, skipping a torn last line. */
		async readLogs(id: string): Promise<LogRecord[]> {
			let text: string;
			try {
				text = await fs.readFile(path.join(directory(id), 'logs.jsonl'), 'utf8');
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
					return [];
				}

				throw error;
			}

			return parseLogRecords(text);
		},
	};
}

export function parseLogRecords(text: string): LogRecord[] {
	const records: LogRecord[] = [];
	for (const line of text.split('\n')) {
		if (line === '') {
			continue;
		}

		try {
			records.push(JSON.parse(line) as LogRecord);
		} catch {
			// A torn line from a crash mid-write; the catch-up writes it again.
		}
	}

	return records;
}
