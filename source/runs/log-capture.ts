import fs from 'node:fs/promises';
import type {Engine} from '../engine/engine.js';
import {createFrameDecoder, createLineSplitter, type TimestampedLine} from '../engine/log-frames.js';
import {tryFileLock} from '../files/file-lock.js';
import {createReplayAligner, liveOverlap, positionAfter, replaySlackSeconds, type LostOutput} from './log-position.js';
import type {LogRecord, RunStore} from './run-store.js';

export type CaptureOptions = {
	/** Keep copying until the container ends. */
	follow: boolean;
	/** Sees each new line as it is written. */
	onRecord?: (record: LogRecord) => void;
	/** Stops following; what was read so far is kept. */
	signal?: AbortSignal;
	/**
	 * The container has a TTY: its log is terminal output, kept as drawn
	 * (escape sequences and all) and split at line feeds. Readers play it
	 * through a terminal to show it (runs/terminal-log.ts), or clean a line
	 * at a time (terminal/terminal-line.ts).
	 */
	tty?: boolean;
	/** Hears of output the engine's log lost before it could be copied. */
	onLost?: (lost: LostOutput) => void;
	/**
	 * Called once a follow holds the container through its attachment (or
	 * knows it cannot): a container started after this has every byte of
	 * its output copied live, none read back from the engine's log.
	 */
	onAttached?: () => void;
};

/**
 * Copies a container's output into `logs.jsonl`, every line once and in
 * order, at whatever rate the container writes.
 *
 * Docker keeps a bounded, rotating log of every container, so output
 * written while no moat process was copying is caught up from it the next
 * time one looks. But that log cannot carry a fast writer: a reader that
 * falls behind loses what rotated away, and Docker 20.10's follow mode
 * re-reads or skips whole files at each rotation even at the tail. So a
 * follow copies from a live attachment instead: the engine holds a
 * container whose attached reader has not read, which paces the container
 * to the copy. The attachment is opened first and the log read after it,
 * so nothing falls between; the lines both hold are dropped once
 * (liveOverlap). Where the log had already lost lines, a record says
 * so in the file. Returns false when another process is already capturing
 * (its lines reach the file without us).
 */
/** Records are written in batches: one write per batch, not per line. */
const batchRecords = 4096;
/** How long a partial batch waits while following a quiet run. */
const batchMilliseconds = 25;
/**
 * How long the first live lines wait for more before they are compared
 * with the log's last ones: a quiet container may never send as many.
 */
const settleMilliseconds = 200;

/** The record that stands in the log where output was lost. */
export function lostOutputRecord(lost: LostOutput): LogRecord {
	return {
		ts: lost.before,
		stream: 'stderr',
		line: `[moat] output lost between ${lost.after} and ${lost.before}: no moat daemon was copying, and the engine's log of the run had rotated these lines away (how many, the engine does not say)`,
		lost,
	};
}

export async function captureLogs(engine: Engine, store: RunStore, runId: string, containerId: string, options: CaptureOptions): Promise<boolean> {
	const lock = await tryFileLock(store.captureLockFile(runId));
	if (!lock) {
		return false;
	}

	// A live copy saw the container end: the file is whole, and replaying
	// the log now could only compare live lines with logged ones again.
	if (await fs.stat(store.captureDoneFile(runId)).then(() => true, () => false)) {
		await lock.release();
		return true;
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

	/**
	 * Queues records. A full batch is handed to the file while the next is
	 * read, but no further: reading waits for the batch before, which is
	 * what paces a held container to the disk.
	 */
	const take = async (records: readonly LogRecord[]) => {
		for (const record of records) {
			pending.push(record);
		}

		if (pending.length >= batchRecords) {
			const before = writing;
			const written = flush();
			written.catch(() => undefined);
			await before;
		} else if (pending.length > 0 && !timer) {
			timer = setTimeout(() => {
				flush().catch(() => undefined);
			}, batchMilliseconds);
		}
	};

	/** The engine's log from where the file ends to where the log ends; `seen` hears each new record. */
	const copyFromLog = async (seen?: (record: LogRecord) => void) => {
		const position = positionAfter(await store.readRecentLogs(runId, replaySlackSeconds));
		const aligner = createReplayAligner(position, lost => {
			pending.push(lostOutputRecord(lost));
			options.onLost?.(lost);
		});
		const splitter = createLineSplitter();
		const takeLines = async (lines: readonly TimestampedLine[]) => {
			const fresh = lines.flatMap(line => aligner.push(line));
			for (const record of fresh) {
				seen?.(record);
			}

			await take(fresh);
		};

		for await (const chunk of engine.logs(containerId, {follow: false, since: position?.since, signal, tty: options.tty})) {
			await takeLines(splitter.push(chunk));
		}

		throwIfFailed();
		await takeLines(splitter.flush());
		const rest = aligner.end();
		for (const record of rest) {
			seen?.(record);
		}

		await take(rest);
		await flush();
	};

	const throwIfFailed = () => {
		if (failed.signal.aborted) {
			throw failed.signal.reason as Error;
		}
	};

	/** Copies live from an attachment until the container ends; false when it no longer runs. */
	const copyAttached = async (): Promise<boolean> => {
		const attachedAt = Date.now();
		const attachment = await engine.attach(containerId, {stdin: false}).catch(() => undefined);
		if (!attachment) {
			return false;
		}

		// Docker lets one attach to a container that has already ended, and
		// that attachment never ends. Asked after attaching: a container
		// still running then ends the attachment when it stops. One that
		// has ended left all its output in the log. One not started yet
		// (`fresh`, the launcher asked before starting it) will send all its
		// output through this attachment: there is no log to read back.
		const status = (await engine.inspectContainer(containerId).catch(() => undefined))?.status;
		const fresh = status === 'created';
		if (status !== 'running' && !fresh) {
			attachment.close();
			return false;
		}

		const detach = () => {
			attachment.close();
		};

		signal.addEventListener('abort', detach, {once: true});
		// Ends the engine's wait below when the copy ends first.
		const done = new AbortController();
		try {
			// An attachment made as the container was ending may never end
			// (see above): once the engine says the container stopped, the
			// attachment gets a moment to deliver the rest, then the log,
			// which is whole by then, has the last word. A fresh container's
			// wait is for the run it is about to begin, asked before it starts.
			const stopped = engine.waitContainer(containerId, {nextExit: fresh, signal: done.signal}).catch(() => undefined);
			if (fresh) {
				// The engine has taken the wait before it hears of the start.
				await engine.inspectContainer(containerId).catch(() => undefined);
			}

			options.onAttached?.();
			// Unread, the attachment now holds the container while its log is read.
			const fromLog: LogRecord[] = [];
			const collect = (record: LogRecord) => {
				// Only lines logged after the attachment opened can be in it too.
				if (Date.parse(record.ts) >= attachedAt - clockSlackMilliseconds) {
					fromLog.push(record);
					// The overlap is at most what the attachment buffers; older lines need not be kept.
					if (fromLog.length > 2 * overlapLimit) {
						fromLog.splice(0, fromLog.length - overlapLimit);
					}
				}
			};

			if (!fresh) {
				await copyFromLog(collect);
			}

			const decoder = options.tty ? undefined : createFrameDecoder();
			const splitter = createLineSplitter({stamp: () => new Date().toISOString()});
			const chunks = (attachment.output as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
			let next: Promise<IteratorResult<Buffer>> | undefined;
			let ended = false;
			/** The next lines of the attachment; none when it ended, or (`quietAfter`) when it stayed quiet that long. */
			/**
			 * The next lines of the attachment (none when it ended), or
			 * 'other' when `other` settles first; the read stays pending for
			 * the next call, so nothing is dropped.
			 */
			const readLive = async (other?: Promise<unknown>): Promise<LogRecord[] | 'other'> => {
				next ??= chunks.next();
				const pending = next;
				const result = other === undefined ? await pending : await Promise.race([pending, other.then(() => 'other' as const)]);
				if (result === 'other') {
					return 'other';
				}

				next = undefined;
				if (result.done) {
					ended = true;
					return splitter.flush();
				}

				return (decoder ? decoder.push(result.value) : [{stream: 'stdout' as const, data: result.value}])
					.flatMap(frame => splitter.push(frame));
			};

			let exited = false;
			let orphaned = false;

			let live: LogRecord[] = [];
			let overlap: number | undefined;
			try {
				// The first live lines, to find in the log.
				while (!fresh && !ended && live.length < headLines) {
					const more = await readLive(delay(settleMilliseconds));
					if (more === 'other' || (more.length === 0 && !ended)) {
						break;
					}

					live.push(...more);
				}

				// Docker writes its log behind the live stream: read on until the
				// log reaches where the attachment began, or stops growing.
				for (let quietPasses = 0; live.length > 0 && quietPasses < 2;) {
					overlap = liveOverlap(fromLog, live);
					if (overlap !== undefined) {
						break;
					}

					const before = fromLog.length;
					await copyFromLog(collect);
					if (fromLog.length === before) {
						quietPasses++;
						await delay(settleMilliseconds);
					}
				}

				let toDrop = overlap ?? 0;
				for (;;) {
					const kept = live.slice(Math.min(toDrop, live.length));
					toDrop -= live.length - kept.length;
					await take(kept);
					if (ended) {
						break;
					}

					const more = await readLive(exited ? delay(stopGraceMilliseconds) : stopped);
					if (more !== 'other') {
						live = more;
					} else if (exited) {
						attachment.close();
						orphaned = true;
						break;
					} else {
						exited = true;
						live = [];
					}
				}
			} catch (error) {
				// Closing the attachment on abort ends the iteration with an error.
				if (!signal.aborted) {
					throw error;
				}
			}

			throwIfFailed();
			await flush();
			if (orphaned) {
				await copyFromLog();
			}

			// An attachment also ends when the connection drops: only a container that has stopped is done.
			if ((ended || orphaned) && (await engine.inspectContainer(containerId).catch(() => undefined))?.status === 'exited') {
				await fs.writeFile(store.captureDoneFile(runId), '', {mode: 0o600});
			}

			return true;
		} finally {
			done.abort();
			signal.removeEventListener('abort', detach);
			attachment.close();
		}
	};

	try {
		if (!options.follow || !(await copyAttached())) {
			await copyFromLog();
		}

		return true;
	} finally {
		clearTimeout(timer);
		await writing.catch(() => undefined);
		await appender.close();
		await lock.release();
	}
}

/**
 * How far the engine's clock may be ahead of this one when telling which
 * logged lines came after an attachment opened; more only costs comparing.
 */
const clockSlackMilliseconds = 2000;
/** More lines than the engine and the socket can hold unread for one attachment. */
const overlapLimit = 500_000;
/** How long an attachment may stay silent after its container stopped before the log is read instead. */
const stopGraceMilliseconds = 5000;
/** How many live lines are enough to recognise where the attachment began. */
const headLines = 64;

async function delay(milliseconds: number): Promise<'quiet'> {
	return new Promise(resolve => {
		setTimeout(() => {
			resolve('quiet');
		}, milliseconds).unref();
	});
}
