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
};

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
	let alreadyWritten = 0;
	for (const record of records) {
		if (toEngineInstant(record.ts) >= since) {
			alreadyWritten++;
		}
	}

	// `records` may be only the file's tail (see RunStore.readRecentLogs);
	// every line at or after `since` is in it, which is all this needs.

	return {since, alreadyWritten};
}

/** Lets through only the replayed lines the file does not have yet. */
export function createPositionFilter(position: LogPosition | null): (line: TimestampedLine) => boolean {
	const since = position?.since;
	let toSkip = position?.alreadyWritten ?? 0;
	return line => {
		// The engine applies `since` itself; this guards against one that does not.
		if (since !== undefined && toEngineInstant(line.ts) < since) {
			return false;
		}

		if (toSkip > 0) {
			toSkip--;
			return false;
		}

		return true;
	};
}
