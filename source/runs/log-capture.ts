import stripAnsi from 'strip-ansi';
import type {Engine} from '../engine/engine.js';
import {createLineSplitter} from '../engine/log-frames.js';
import {tryFileLock} from '../files/file-lock.js';
import {createPositionFilter, positionAfter, replaySlackSeconds} from './log-position.js';
import type {LogRecord, RunStore} from './run-store.js';

export type CaptureOptions = {
	/** Keep copying until the container ends. */
	follow: boolean;
	/** Sees each new line as it is written. */
	onRecord?: (record: LogRecord) => void;
	/** Stops following; what was read so far is kept. */
	signal?: AbortSignal;
	/** The container has a TTY: its log is terminal output, cleaned into plain lines. */
	tty?: boolean;
};

/**
 * A terminal line as a person would read it: no escape sequences, and where
 * a carriage return redrew the line, only what was drawn last.
 */
export function plainTerminalLine(line: string): string {
	// strip-ansi also removes OSC sequences (window titles) that shells send.
	const segments = stripAnsi(line).replace(/\r+$/, '').split('\r');
	// Remaining control characters (BEL, backspace) are not text.
	return (segments.findLast(segment => segment !== '') ?? '').replaceAll(/[\u0000-\u0008\u000B-\u001F\u007F]/g, '');
}

/**
 * Copies a container's output from the engine's log into `logs.jsonl`,
 * starting where the file ends. Docker keeps a bounded log of every
 * container, so output produced while no moat process was watching is
 * caught up the next time one looks. Returns false when another process is
 * already capturing (its lines reach the file without us).
 */
/** Records are written in batches: one write per batch, not per line. */
const batchRecords = 4096;
/** How long a partial batch waits while following a quiet run. */
const batchMilliseconds = 25;

export async function captureLogs(engine: Engine, store: RunStore, runId: string, containerId: string, options: CaptureOptions): Promise<boolean> {
	const lock = await tryFileLock(store.captureLockFile(runId));
	if (!lock) {
		return false;
	}

	const appender = await store.openLogAppender(runId);
	// A batch that could not be written (a full disk) ends the copy: reading on would only pile up lines.
	const failed = new AbortController();
	const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
	let pending: LogRecord[] = [];
	let timer: NodeJS.Timeout | undefined;
	let writing: Promise<void> = Promise.resolve();
	const flush = async () => {
		clearTimeout(timer);
		timer = undefined;
		const batch = pending;
		pending = [];
		// Writes stay in order: each waits for the one before.
		writing = writing.then(async () => appender.append(batch));
		await writing.catch((error: unknown) => {
			failed.abort(error);
			throw error;
		});
		for (const record of batch) {
			options.onRecord?.(record);
		}
	};

	try {
		const position = positionAfter(await store.readRecentLogs(runId, replaySlackSeconds));
		const isNew = createPositionFilter(position);
		const splitter = createLineSplitter();
		const take = async (lines: LogRecord[]) => {
			for (const line of lines) {
				if (isNew(line)) {
					pending.push(options.tty ? {...line, line: plainTerminalLine(line.line)} : line);
				}
			}

			if (pending.length >= batchRecords) {
				await flush();
			} else if (pending.length > 0 && !timer) {
				timer = setTimeout(() => {
					flush().catch(() => undefined);
				}, batchMilliseconds);
			}
		};

		for await (const chunk of engine.logs(containerId, {follow: options.follow, since: position?.since, signal, tty: options.tty})) {
			await take(splitter.push(chunk));
		}

		if (failed.signal.aborted) {
			throw failed.signal.reason as Error;
		}

		if (!options.signal?.aborted) {
			await take(splitter.flush());
		}

		await flush();
		return true;
	} finally {
		clearTimeout(timer);
		await writing.catch(() => undefined);
		await appender.close();
		await lock.release();
	}
}
