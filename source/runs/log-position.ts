import {toEngineInstant, type TimestampedLine} from '../engine/log-frames.js';
import type {LogRecord} from './run-store.js';

/**
 * Where catching up on a container's output resumes (see log-capture.ts).
 *
 * The log file is always a prefix of the engine's own log, in the engine's
 * order. Replaying the engine's log from `since` yields first exactly the
 * file's lines at or after `since`, then the new ones, so skipping
 * `alreadyWritten` replayed lines neither duplicates nor drops a line, even
 * where stdout and stderr timestamps interleave out of order.
 */
export type LogPosition = {
	/** Engine instant to replay from, `seconds.nanoseconds`. */
	since: string;
	/** How many lines of the file are at or after `since`. */
	alreadyWritten: number;
	/** Those lines, in order: a replay that differs from them has lost lines. */
	written?: readonly LogRecord[];
};

/** Output the engine no longer had when it was copied: its log rotated first. */
export type LostOutput = {after: string; before: string};

/**
 * How far before the last written line replay starts. stdout and stderr are
 * timestamped separately, so a line logged after the last one written can
 * carry a slightly earlier instant; the engine's `since` filter would drop it
 * if replay started exactly at the last line.
 */
export const replaySlackSeconds = 2;

export function earlierInstant(instant: string, seconds: number): string {
	const [whole = '0', fraction = '000000000'] = instant.split('.');
	return `${String(Math.max(0, Number(whole) - seconds)).padStart(whole.length, '0')}.${fraction}`;
}

/** The position after the lines already in the log file. */
export function positionAfter(records: readonly LogRecord[]): LogPosition | null {
	const last = records.at(-1);
	if (!last) {
		return null;
	}

	const since = earlierInstant(toEngineInstant(last.ts), replaySlackSeconds);
	const written = records.filter(record => toEngineInstant(record.ts) >= since);
	const alreadyWritten = written.length;

	// `records` may be only the file's tail (see RunStore.readRecentLogs);
	// every line at or after `since` is in it, which is all this needs.

	return {since, alreadyWritten, written};
}

/**
 * Lets through only the replayed lines the file does not have yet.
 * `sameLine` says whether a replayed line is the written record it should
 * be; when one is not, the engine's log has rotated away what came between
 * (output written while no one copied, faster than the log keeps it): the
 * line is new, and `onLost` hears what was lost.
 */
export function createPositionFilter(
	position: LogPosition | null,
	options: {sameLine?: (line: TimestampedLine, record: LogRecord) => boolean; onLost?: (lost: LostOutput) => void} = {},
): (line: TimestampedLine) => boolean {
	const since = position?.since;
	const written = position?.written ?? [];
	let skipped = 0;
	let toSkip = position?.alreadyWritten ?? 0;
	const sameLine = options.sameLine ?? ((line, record) => line.stream === record.stream && line.line === record.line);
	return line => {
		// The engine applies `since` itself; this guards against one that does not.
		if (since !== undefined && toEngineInstant(line.ts) < since) {
			return false;
		}

		if (toSkip > 0) {
			const expected = written[skipped];
			if (!expected || sameLine(line, expected)) {
				toSkip--;
				skipped++;
				return false;
			}

			toSkip = 0;
			options.onLost?.({after: written.at(-1)?.ts ?? expected.ts, before: line.ts});
		}

		return true;
	};
}
/**
 * How many lines at the start of a live attachment's output the engine's
 * log also had: the longest run of `fromLog`'s last lines that `attached`
 * begins with. A copy that attaches first and then catches up from the log
 * holds the lines written in between twice; this is how many to drop.
 * Linear (the prefix function of Knuth–Morris–Pratt over whole lines).
 */
export function attachedOverlap(fromLog: readonly LogRecord[], attached: readonly LogRecord[]): number {
	const key = (record: LogRecord) => `${record.stream}\u0000${record.line}`;
	const pattern = attached.slice(0, fromLog.length).map(record => key(record));
	if (pattern.length === 0) {
		return 0;
	}

	const prefix = Array.from<number>({length: pattern.length}).fill(0);
	for (let index = 1, length = 0; index < pattern.length; index++) {
		while (length > 0 && pattern[index] !== pattern[length]) {
			length = prefix[length - 1]!;
		}

		if (pattern[index] === pattern[length]) {
			length++;
		}

		prefix[index] = length;
	}

	let matched = 0;
	for (const record of fromLog) {
		const text = key(record);
		while (matched > 0 && (matched === pattern.length || text !== pattern[matched])) {
			matched = prefix[matched - 1]!;
		}

		if (text === pattern[matched]) {
			matched++;
		}
	}

	return matched;
}

/**
 * Lines replayed from the engine's log after `position`, without the ones
 * the file already has. The replay starts with a run of the file's last
 * lines (how many depends on clocks: lines copied live are stamped when
 * they arrive, a little after the engine stamped them), so the first lines
 * are held until it is clear how far that run goes (attachedOverlap). A
 * replay that shares no line with a file that expected some has lost what
 * came between: `onLost` hears of it.
 */
export function createReplayAligner(position: LogPosition | null, onLost: (lost: LostOutput) => void): {push(record: LogRecord): LogRecord[]; end(): LogRecord[]} {
	const written = position?.written ?? [];
	let head: LogRecord[] | undefined = written.length > 0 ? [] : undefined;
	const settle = (): LogRecord[] => {
		const held = head ?? [];
		head = undefined;
		const overlap = attachedOverlap(written, held);
		if (overlap === 0 && held.length > 0) {
			onLost({after: written.at(-1)!.ts, before: held[0]!.ts});
		}

		return held.slice(overlap);
	};

	return {
		push(record) {
			if (!head) {
				return [record];
			}

			head.push(record);
			return head.length >= written.length ? settle() : [];
		},
		end: () => head ? settle() : [],
	};
}

/**
 * How many of a live attachment's first lines the engine's log already
 * holds, or undefined when the log does not reach the attachment's start
 * yet (Docker writes its log behind the live stream).
 *
 * An attachment starts wherever the engine's copy of the output was, which
 * may be mid-line: the first line of each stream may be the end of a
 * logged line. The earliest place in the log from which every logged line
 * agrees with the live ones wins; the lines from there to the log's end are
 * the overlap (the attachment may not have delivered them all yet).
 */
export function liveOverlap(fromLog: readonly LogRecord[], live: readonly LogRecord[]): number | undefined {
	const first = live[0];
	if (!first) {
		return undefined;
	}

	const agrees = (logged: LogRecord, attached: LogRecord, maybeTail: boolean) =>
		logged.stream === attached.stream && (maybeTail ? logged.line.endsWith(attached.line) : logged.line === attached.line);
	for (let start = 0; start < fromLog.length; start++) {
		if (!agrees(fromLog[start]!, first, true)) {
			continue;
		}

		const begun = new Set([first.stream]);
		let matches = true;
		for (let index = 1; start + index < fromLog.length && index < live.length; index++) {
			const attached = live[index]!;
			const maybeTail = !begun.has(attached.stream);
			begun.add(attached.stream);
			if (!agrees(fromLog[start + index]!, attached, maybeTail)) {
				matches = false;
				break;
			}
		}

		if (matches) {
			return fromLog.length - start;
		}
	}

	return undefined;
}
