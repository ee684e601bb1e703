import {toEngineInstant, type TimestampedLine} from '../engine/log-frames.js';
import type {LogRecord} from './run-store.js';

/** Where catching up on a container's output stopped (see log-capture.ts). */
export type LogPosition = {
	/** Engine instant of the last line written, `seconds.nanoseconds`. */
	since: string;
	/** How many lines with exactly that instant are already written. */
	linesAtSince: number;
};

/**
 * Where the log file ends, expressed in engine time: the instant of the last
 * line and how many lines share it. Derived from the file itself, so it is
 * exactly as durable as the lines: a process killed mid-capture leaves a
 * position that matches what it wrote.
 */
export function positionAfter(records: readonly LogRecord[]): LogPosition | null {
	const last = records.at(-1);
	if (!last) {
		return null;
	}

	const since = toEngineInstant(last.ts);
	let linesAtSince = 0;
	for (let index = records.length - 1; index >= 0 && toEngineInstant(records[index]!.ts) === since; index--) {
		linesAtSince++;
	}

	return {since, linesAtSince};
}

/**
 * Drops the lines the log file already has from a replay that starts at
 * `position.since` (the engine's `since` includes that instant). Only the
 * starting point is compared: stdout and stderr are timestamped separately,
 * so later lines may carry slightly earlier instants and must not be lost.
 */
export function createPositionFilter(position: LogPosition | null): (line: TimestampedLine) => boolean {
	const start = position?.since;
	let alreadyWritten = position?.linesAtSince ?? 0;
	return line => {
		const instant = toEngineInstant(line.ts);
		if (start !== undefined && instant < start) {
			return false;
		}

		if (instant === start && alreadyWritten > 0) {
			alreadyWritten--;
			return false;
		}

		return true;
	};
}
