import {StringDecoder} from 'node:string_decoder';
import type {OutputChunk, OutputStream} from './engine.js';

/**
 * Decodes Docker's multiplexed output format: each frame is an 8-byte header
 * (stream byte, three zero bytes, big-endian payload length) and the payload.
 * Chunks from the socket can split a header or payload anywhere, so the
 * decoder keeps what it has not consumed.
 */
export function createFrameDecoder(): {push(chunk: Buffer): OutputChunk[]} {
	let pending: Buffer = Buffer.alloc(0);
	return {
		push(chunk) {
			pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
			const frames: OutputChunk[] = [];
			while (pending.length >= 8) {
				const size = pending.readUInt32BE(4);
				if (pending.length < 8 + size) {
					break;
				}

				const stream: OutputStream = pending[0] === 2 ? 'stderr' : 'stdout';
				frames.push({stream, data: pending.subarray(8, 8 + size)});
				pending = pending.subarray(8 + size);
			}

			return frames;
		},
	};
}

/** One line of output with the engine's timestamp (RFC 3339 with nanoseconds). */
export type TimestampedLine = {ts: string; stream: OutputStream; line: string};

/**
 * Splits timestamped engine output into lines. Docker puts `<timestamp> ` in
 * front of each logged line; a line may arrive across several chunks, so each
 * stream keeps its unfinished tail.
 */
export function createLineSplitter(options: {
	/**
	 * Output without Docker's timestamps (a live attachment): lines are
	 * stamped when their chunk arrives (once per chunk: formatting an
	 * instant per line cost more than everything else a line goes through).
	 */
	stamp?: () => string;
} = {}): {push(chunk: OutputChunk): TimestampedLine[]; flush(): TimestampedLine[]} {
	const tails: Record<OutputStream, string> = {stdout: '', stderr: ''};
	// A chunk can end inside a multi-byte UTF-8 character; each stream keeps
	// its partial bytes until the rest arrives.
	const decoders: Record<OutputStream, StringDecoder> = {stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8')};
	const toLine = (stream: OutputStream, raw: string, stamp?: string): TimestampedLine => {
		if (stamp !== undefined) {
			return {ts: stamp, stream, line: raw.endsWith('\r') ? raw.slice(0, -1) : raw};
		}

		const space = raw.indexOf(' ');
		const ts = space === -1 ? raw : raw.slice(0, space);
		const line = space === -1 ? '' : raw.slice(space + 1);
		return {ts, stream, line: line.endsWith('\r') ? line.slice(0, -1) : line};
	};

	return {
		push({stream, data}) {
			const text = tails[stream] + decoders[stream].write(data);
			const parts = text.split('\n');
			tails[stream] = parts.pop() ?? '';
			const stamp = parts.length > 0 ? options.stamp?.() : undefined;
			return parts.map(part => toLine(stream, part, stamp));
		},
		flush() {
			const lines: TimestampedLine[] = [];
			for (const stream of ['stdout', 'stderr'] as const) {
				tails[stream] += decoders[stream].end();
				if (tails[stream] !== '') {
					lines.push(toLine(stream, tails[stream], options.stamp?.()));
					tails[stream] = '';
				}
			}

			return lines;
		},
	};
}

/**
 * Turns an RFC 3339 timestamp with up to nine fractional digits into the
 * `seconds.nanoseconds` form the engine's `since` filter takes, padded so two
 * of them compare correctly as strings.
 */
export function toEngineInstant(timestamp: string): string {
	const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(timestamp);
	const milliseconds = match ? Date.parse(`${match[1]}${match[3]}`) : Number.NaN;
	if (!match || Number.isNaN(milliseconds)) {
		throw new Error(`not an RFC 3339 timestamp: ${timestamp}`);
	}

	const seconds = Math.floor(milliseconds / 1000);
	// Nanoseconds are the finest the engine keeps; finer digits are dropped.
	const nanoseconds = (match[2] ?? '').slice(0, 9).padEnd(9, '0');
	return `${String(seconds).padStart(12, '0')}.${nanoseconds}`;
}
