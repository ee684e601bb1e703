import fs from 'node:fs/promises';
import path from 'node:path';
import type {AuditEntry, Verification} from '../audit/audit-chain.js';
import {checkRunAudit} from '../audit/audit-witness.js';
import {createAuditLog} from '../audit/audit-log.js';
import {parseJsonLine} from '../files/json-lines.js';
import {acceptNetworkEntry} from '../proxy/network-trace.js';
import type {NetworkEntry} from '../proxy/proxy-server.js';
import {plainTerminalLine} from '../terminal/terminal-line.js';
import {isActive, type RunMetadata} from '../runs/run-metadata.js';
import {acceptLogRecord} from '../runs/run-record-check.js';
import {createRunStore, type LogRecord} from '../runs/run-store.js';
import {counted} from '../output/format.js';
import {printable} from '../text/printable.js';

/**
 * What the dashboard's detail panes read, live, from a run's files:
 * `logs.jsonl`, `network.jsonl` and the audit log. Each tail keeps its place
 * in the file, so a read reads only what was appended since the last one.
 */

/** What one read of a tail gives a pane. */
export type TailSnapshot<T> = {
	/** The newest `limit` entries, oldest first. */
	entries: T[];
	/**
	 * Complete, non-empty lines in the file: every entry, including those too
	 * old to be kept and those that did not parse (a pane can say "N lines").
	 */
	total: number;
	/**
	 * Lines read for entries that were not entries (garbage, or the wrong
	 * shape): skipped, and counted so a pane can say so.
	 */
	skipped: number;
	/** Something differs from the previous read: new entries, or the file started over. */
	changed: boolean;
};

export type Tail<T> = {
	/** Reads what was appended since the last call; concurrent calls run one after another. */
	read(): Promise<TailSnapshot<T>>;
};

export type TailOptions = {
	/** How many of the newest entries to keep. */
	limit: number;
};

const newline = 0x0A;
/** The first read of a long file goes back from its end in blocks, doubling, until it has `limit` entries. */
const firstBlockBytes = 64 * 1024;
/** Lines too old to keep are counted, not parsed, in chunks of this size. */
const countChunkBytes = 1024 * 1024;
/** A file that shrinks while it is read is read again from the start, this many times at most per call. */
const attemptsPerRead = 3;

/** The file shrank between its stat and a read of it: the caller starts over. */
class ShrankWhileReading extends Error {}

function newest<T>(list: readonly T[], limit: number): T[] {
	// slice(-0) would keep everything.
	return limit > 0 ? list.slice(-limit) : [];
}

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
	const buffer = Buffer.alloc(length);
	let filled = 0;
	while (filled < length) {
		const {bytesRead} = await handle.read(buffer, filled, length - filled, position + filled);
		if (bytesRead === 0) {
			throw new ShrankWhileReading();
		}

		filled += bytesRead;
	}

	return buffer;
}

/** The lines of `buffer`, which ends with a newline, without their newlines. */
function splitLines(buffer: Buffer): Buffer[] {
	const lines: Buffer[] = [];
	let start = 0;
	for (let end = buffer.indexOf(newline); end !== -1; end = buffer.indexOf(newline, start)) {
		lines.push(buffer.subarray(start, end));
		start = end + 1;
	}

	return lines;
}

/** Parses from the last line back until `limit` entries parsed; oldest first, and how many lines were not entries. */
function parseNewest<T>(lines: readonly Buffer[], limit: number, parse: (line: string) => T | undefined): {entries: T[]; skipped: number} {
	const parsed: T[] = [];
	let skipped = 0;
	for (let index = lines.length - 1; index >= 0 && parsed.length < limit; index--) {
		const line = lines[index]!;
		if (line.length === 0) {
			continue;
		}

		let entry: T | undefined;
		try {
			entry = parse(line.toString('utf8'));
		} catch {
			// A line a parser chokes on is counted but not shown, like one it rejects.
		}

		if (entry === undefined) {
			skipped++;
		} else {
			parsed.push(entry);
		}
	}

	return {entries: parsed.reverse(), skipped};
}

/** Non-empty lines in [from, to) of the file; `from` is the start of a line. */
async function countLines(handle: fs.FileHandle, from: number, to: number): Promise<number> {
	let count = 0;
	let previous = newline;
	for (let position = from; position < to; position += countChunkBytes) {
		const chunk = await readAt(handle, position, Math.min(countChunkBytes, to - position));
		for (let index = chunk.indexOf(newline); index !== -1; index = chunk.indexOf(newline, index + 1)) {
			// A newline right after another ends an empty line.
			if ((index === 0 ? previous : chunk[index - 1]) !== newline) {
				count++;
			}
		}

		previous = chunk.at(-1)!;
	}

	return count;
}

/**
 * Reads the complete lines in [from, to): the newest `limit` entries parsed,
 * the rest only counted, so a file of tens of MB costs one pass of counting.
 * Undefined when there is no complete line yet (a writer is mid-append).
 */
async function readRegion<T>(handle: fs.FileHandle, from: number, to: number, limit: number, parse: (line: string) => T | undefined) {
	let start = to;
	let tail = Buffer.alloc(0);
	for (let block = firstBlockBytes; ; block *= 2) {
		const blockStart = Math.max(from, start - block);
		tail = Buffer.concat([await readAt(handle, blockStart, start - blockStart), tail]);
		start = blockStart;
		const lastNewline = tail.lastIndexOf(newline);
		if (lastNewline === -1) {
			if (start === from) {
				return undefined;
			}

			continue;
		}

		// Unless the block reached `from`, its first line may be cut: it is counted with the older ones.
		const firstLine = start === from ? 0 : tail.indexOf(newline) + 1;
		const lines = splitLines(tail.subarray(firstLine, lastNewline + 1));
		const {entries, skipped} = parseNewest(lines, limit, parse);
		if (entries.length >= limit || start === from) {
			const older = await countLines(handle, from, start + firstLine);
			return {end: start + lastNewline + 1, lines: older + lines.filter(line => line.length > 0).length, entries, skipped};
		}
	}
}

/**
 * An incremental reader of a file of lines that only grows: each read takes
 * the bytes appended since the one before. A partial last line waits for its
 * newline; a file that shrank, was replaced or was rewritten is read again
 * from the start; a missing file is empty.
 */
export function createTail<T>(file: string, parse: (line: string) => T | undefined, {limit}: TailOptions): Tail<T> {
	let identity: {dev: number; ino: number} | undefined;
	/** Bytes read up to the end of the last complete line. */
	let offset = 0;
	let total = 0;
	let skipped = 0;
	let entries: T[] = [];
	let queue: Promise<unknown> = Promise.resolve();

	const snapshot = (changed: boolean): TailSnapshot<T> => ({entries, total, skipped, changed});

	/** Forgets everything read; true when there was something to forget. */
	function startOver(): boolean {
		const had = offset > 0 || total > 0 || entries.length > 0;
		offset = 0;
		total = 0;
		skipped = 0;
		entries = [];
		return had;
	}

	/** The byte before `offset` is still the newline read there: the file was appended to, not rewritten in place. */
	async function stillEndsLine(handle: fs.FileHandle): Promise<boolean> {
		return offset === 0 || (await readAt(handle, offset - 1, 1))[0] === newline;
	}

	async function readOnce(): Promise<TailSnapshot<T>> {
		let handle: fs.FileHandle;
		try {
			handle = await fs.open(file, 'r');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
				identity = undefined;
				return snapshot(startOver());
			}

			throw error;
		}

		try {
			let changed = false;
			for (let attempt = 1; ; attempt++) {
				try {
					const {dev, ino, size} = await handle.stat();
					const replaced = identity !== undefined && (identity.dev !== dev || identity.ino !== ino);
					identity = {dev, ino};
					if (replaced || size < offset || !(await stillEndsLine(handle))) {
						changed = startOver() || changed;
					}

					if (size === offset) {
						return snapshot(changed);
					}

					const region = await readRegion(handle, offset, size, limit, parse);
					if (!region) {
						return snapshot(changed);
					}

					offset = region.end;
					total += region.lines;
					skipped += region.skipped;
					entries = newest([...entries, ...region.entries], limit);
					return snapshot(changed || region.lines > 0);
				} catch (error) {
					if (!(error instanceof ShrankWhileReading) || attempt >= attemptsPerRead) {
						throw error;
					}

					changed = startOver() || changed;
				}
			}
		} finally {
			await handle.close();
		}
	}

	return {
		async read() {
			// One read at a time: two interleaved would both advance the offset.
			const result = queue.then(readOnce);
			queue = result.catch(() => undefined);
			return result;
		},
	};
}

function parseObject(line: string): Record<string, unknown> | undefined {
	try {
		const value: unknown = JSON.parse(line);
		return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
	} catch {
		return undefined;
	}
}

/** `HH:MM:SS` in UTC, as `moat trace` prints times. */
function clockTime(ts: string): string {
	const date = new Date(ts);
	return Number.isNaN(date.getTime()) ? '--:--:--' : date.toISOString().slice(11, 19);
}

const tabWidth = 8;

function expandTabs(text: string): string {
	if (!text.includes('\t')) {
		return text;
	}

	let column = 0;
	let expanded = '';
	for (const character of text) {
		if (character === '\t') {
			const spaces = tabWidth - (column % tabWidth);
			expanded += ' '.repeat(spaces);
			column += spaces;
		} else {
			expanded += character;
			column++;
		}
	}

	return expanded;
}

/**
 * A log line as plain text for a pane: escape sequences gone, a line redrawn
 * after a carriage return shows only what was drawn last (as `moat logs`
 * keeps TTY output), tabs expanded to 8 columns, other controls dropped.
 */
export function displayLogLine(record: Pick<LogRecord, 'line'>): string {
	// Tabs are expanded after the escapes are gone, so columns count only visible text.
	// What is left after the controls are dropped may still hold bidi controls; printable() shows them.
	return printable(expandTabs(plainTerminalLine(record.line)).replaceAll(/[\u0000-\u001F\u007F-\u009F]/g, ''));
}

/** One line of a run's output, ready to show. */
export type LogLine = {ts: string; stream: LogRecord['stream']; text: string};

function parseLogLine(line: string): LogLine | undefined {
	const record = parseJsonLine(line, acceptLogRecord);
	// Cleaned once here, not on every render.
	return record && {ts: record.ts, stream: record.stream, text: displayLogLine(record)};
}

/** The newest lines of a run's `logs.jsonl`. */
export function logTail(file: string, limit: number): Tail<LogLine> {
	return createTail(file, parseLogLine, {limit});
}

function parseNetworkEntry(line: string): NetworkEntry | undefined {
	// The check moat trace makes too: a line without a boolean blocked is not shown at all, so a denial never looks like a success.
	return parseJsonLine(line, acceptNetworkEntry);
}

/** The newest requests of a run's `network.jsonl`. */
export function networkTail(file: string, limit: number): Tail<NetworkEntry> {
	return createTail(file, parseNetworkEntry, {limit});
}

/** One request as a pane line; `blocked` is for the UI's colour, the text marks it too. */
export function formatNetworkEntry(entry: NetworkEntry): {text: string; blocked: boolean} {
	const request = `${clockTime(entry.ts)} ${entry.method} ${entry.url}`;
	if (entry.blocked) {
		return {text: printable(`✕ ${request} blocked${entry.error ? `: ${entry.error}` : ''}`), blocked: true};
	}

	const status = entry.status === 0 ? '---' : String(entry.status);
	const grant = entry.grant ? ` [${entry.grant}]` : '';
	const error = entry.error ? ` error: ${entry.error}` : '';
	// Two spaces where a blocked request has its ✕, so the times line up.
	return {text: printable(`  ${request} ${status} (${Math.round(entry.duration_ms)}ms)${grant}${error}`), blocked: false};
}

/** Audit values are shown this long at most. */
const auditValueCharacters = 60;

function formatAuditValue(value: unknown): string {
	const text = typeof value === 'string'
		// A string is shown bare unless it would blur into the next key=value.
		? (/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value))
		: (JSON.stringify(value) ?? String(value));
	return text.length > auditValueCharacters ? `${text.slice(0, auditValueCharacters - 1)}…` : text;
}

/** `seq HH:MM:SS type key=value…`, values cut to about 60 characters. */
export function formatAuditEntry(entry: AuditEntry): string {
	const fields = Object.entries(entry.data ?? {}).map(([key, value]) => `${key}=${formatAuditValue(value)}`);
	return printable([String(entry.seq), clockTime(entry.ts), entry.type, ...fields].join(' '));
}

export const auditVerificationStates = ['verified', 'broken', 'empty'] as const;
export type AuditVerificationState = (typeof auditVerificationStates)[number];

/** Whether a run's audit log holds, in a word and a line. */
export type AuditVerificationSummary = {readonly state: AuditVerificationState; readonly detail: string};

const emptyLog: AuditVerificationSummary = Object.freeze({state: 'empty', detail: 'no audit entries yet'});

/** How far the run has got, as far as verification cares. */
export type RunEnding = {
	/** The run has ended (or cannot be read): every entry must be signed. */
	ended: boolean;
	/** It ended moments ago: its last entries may still be being signed. */
	sealing: boolean;
};

/**
 * A run's state is written before its last audit entry and seal (see
 * run-service), so a run that has just ended briefly has unsigned entries;
 * without the grace the pane would flash "broken" at every exit.
 */
export const sealGraceMilliseconds = 10_000;

/** Whether `run` has ended; an unreadable run counts as ended, so nothing unsigned passes (fail closed). */
export function runEnding(run: Pick<RunMetadata, 'state' | 'stoppedAt'> | undefined, now: Date, graceMilliseconds = sealGraceMilliseconds): RunEnding {
	if (!run) {
		return {ended: true, sealing: false};
	}

	if (isActive(run)) {
		return {ended: false, sealing: false};
	}

	const stopped = run.stoppedAt === null ? Number.NaN : Date.parse(run.stoppedAt);
	return {ended: true, sealing: now.getTime() - stopped < graceMilliseconds};
}

/** What a pane says about a verification by verifyLog. */
export function summarizeVerification(verification: Verification, ending: RunEnding): AuditVerificationSummary {
	if (verification.entries === 0) {
		return emptyLog;
	}

	if (!verification.ok) {
		const failure = verification.failure!;
		return {state: 'broken', detail: printable(`${failure.what}: ${failure.reason}`)};
	}

	const counts = `${counted(verification.entries, 'entry', 'entries')}, ${counted(verification.checkpoints, 'signed checkpoint')}`;
	if (verification.unsigned === 0) {
		return {state: 'verified', detail: counts};
	}

	const unsigned = ending.sealing ? 'being signed as the run ends' : 'not yet signed';
	return {state: 'verified', detail: `${counts}, ${verification.unsigned} newest ${unsigned}`};
}

export type AuditSnapshot = TailSnapshot<AuditEntry> & {verification: AuditVerificationSummary};

export type AuditTail = {
	/** The newest entries, and the log verified again if it changed since the last call. */
	read(): Promise<AuditSnapshot>;
};

export type AuditTailOptions = {
	now?: () => Date;
	graceMilliseconds?: number;
};

function parseAuditEntry(line: string): AuditEntry | undefined {
	const entry = parseObject(line);
	return entry && typeof entry.seq === 'number' && typeof entry.type === 'string' && typeof entry.ts === 'string'
		&& typeof entry.data === 'object' && entry.data !== null
		? entry as AuditEntry
		: undefined;
}

/** The files AuditLog writes in a run's folder (see createAuditLog). Pure. */
export function auditFiles(runDirectory: string): {entries: string; checkpoints: string} {
	const directory = path.join(runDirectory, 'audit');
	return {entries: path.join(directory, 'entries.jsonl'), checkpoints: path.join(directory, 'checkpoints.jsonl')};
}

/**
 * A run's audit log for the dashboard: the newest entries, and the log
 * verified the way `moat audit` does it (AuditLog.read, checkRunAudit with
 * the log's own key and the witness). Verification reads the whole log, so it runs only when the
 * entries, the checkpoints or the run's ending changed since the last call.
 */
export function auditTail(moatHome: string, runId: string, limit: number, {now = () => new Date(), graceMilliseconds = sealGraceMilliseconds}: AuditTailOptions = {}): AuditTail {
	const log = createAuditLog(moatHome, now);
	const store = createRunStore(moatHome);
	const files = auditFiles(store.directory(runId));
	const entries = createTail(files.entries, parseAuditEntry, {limit});
	// Only counted: a new checkpoint (a seal) changes what verification says.
	const checkpoints = createTail(files.checkpoints, () => undefined, {limit: 0});
	let verification: AuditVerificationSummary = emptyLog;
	let verifiedFor: string | undefined;
	let queue: Promise<unknown> = Promise.resolve();

	async function verify(ending: RunEnding): Promise<AuditVerificationSummary> {
		try {
			// A run still being sealed is not held to its seal yet, unless the witness already holds it.
			const ended = ending.ended && !ending.sealing;
			let {entries: logged, checkpoints: signed} = await log.read(runId);
			if (logged.length === 0) {
				// Asking for the key of an empty log would create one.
				return emptyLog;
			}

			const publicKey = await log.publicKeyPem();
			const witness = await log.readWitness();
			let result = checkRunAudit({entries: logged, checkpoints: signed, publicKey, witness}, runId, ended).verification;
			if (!result.ok) {
				// AuditLog.read reads entries, then checkpoints: a checkpoint
				// signed in between covers entries it did not see. A writer
				// appends entries before the checkpoint over them, so entries
				// read after the checkpoints hold all they cover.
				signed = (await log.read(runId)).checkpoints;
				logged = (await log.read(runId)).entries;
				result = checkRunAudit({entries: logged, checkpoints: signed, publicKey, witness: await log.readWitness()}, runId, ended).verification;
			}

			return summarizeVerification(result, ending);
		} catch (error) {
			// Fail closed: a log that cannot be checked is not shown as sound.
			return {state: 'broken', detail: printable(`cannot be verified: ${(error as Error).message}`)};
		}
	}

	async function readOnce(): Promise<AuditSnapshot> {
		const entriesRead = await entries.read();
		const checkpointsRead = await checkpoints.read();
		const run = await store.read(runId).catch(() => undefined);
		const ending = runEnding(run, now(), graceMilliseconds);
		const key = `${String(ending.ended)} ${String(ending.sealing)}`;
		let changed = entriesRead.changed;
		if (entriesRead.changed || checkpointsRead.changed || key !== verifiedFor) {
			verifiedFor = key;
			const next = entriesRead.total === 0 ? emptyLog : await verify(ending);
			changed ||= next.state !== verification.state || next.detail !== verification.detail;
			verification = next;
		}

		return {...entriesRead, changed, verification};
	}

	return {
		async read() {
			const result = queue.then(readOnce);
			queue = result.catch(() => undefined);
			return result;
		},
	};
}
