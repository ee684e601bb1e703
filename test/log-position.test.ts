import test from 'ava';
import {toEngineInstant} from '../source/engine/log-frames.js';
import {createPositionFilter, positionAfter, type LogPosition} from '../source/runs/log-position.js';
import type {LogRecord} from '../source/runs/run-store.js';

const at = (seconds: number, nanoseconds = 0) =>
	`2024-01-02T03:04:${String(seconds).padStart(2, '0')}.${String(nanoseconds).padStart(9, '0')}Z`;

/**
 * The engine's log in engine order, with timestamps that never go backwards
 * but often repeat: three lines share one instant across both streams, and
 * the same text appears twice at one instant.
 */
const engineLog: LogRecord[] = [
	{ts: at(1), stream: 'stdout', line: 'starting'},
	{ts: at(2, 100), stream: 'stdout', line: 'b'},
	{ts: at(2, 100), stream: 'stderr', line: 'c'},
	{ts: at(2, 100), stream: 'stdout', line: 'd'},
	{ts: at(2, 101), stream: 'stdout', line: 'e'},
	{ts: at(3), stream: 'stdout', line: 'same text'},
	{ts: at(3), stream: 'stdout', line: 'same text'},
	{ts: at(4), stream: 'stderr', line: 'done'},
];

/** What the engine returns for `logs --since`: every line at or after the instant, in engine order. */
function replayFrom(position: LogPosition | null): LogRecord[] {
	return position ? engineLog.filter(record => toEngineInstant(record.ts) >= position.since) : [...engineLog];
}

for (let written = 0; written <= engineLog.length; written++) {
	test(`replaying from the position after ${written} of ${engineLog.length} written lines adds exactly the missing lines`, t => {
		const file = engineLog.slice(0, written);
		const isNew = createPositionFilter(positionAfter(file));
		const fresh = replayFrom(positionAfter(file)).filter(line => isNew(line));
		t.deepEqual([...file, ...fresh], engineLog);
	});
}

for (const batchSize of [1, 2, 3, 5]) {
	test(`capturing in batches of ${batchSize} line(s), resuming from the file each time, copies the log without duplicates or gaps`, t => {
		const file: LogRecord[] = [];
		for (let round = 0; round <= engineLog.length; round++) {
			const isNew = createPositionFilter(positionAfter(file));
			const fresh = replayFrom(positionAfter(file)).filter(line => isNew(line));
			// A capture that is killed after a few lines, like a detached CLI exiting.
			file.push(...fresh.slice(0, batchSize));
		}

		t.deepEqual(file, engineLog);
	});
}

test('replaying the whole log again from the end of a complete file adds nothing', t => {
	const isNew = createPositionFilter(positionAfter(engineLog));
	t.deepEqual(replayFrom(positionAfter(engineLog)).filter(line => isNew(line)), []);
});

const positions: Array<{title: string; records: LogRecord[]; expected: LogPosition | null}> = [
	{title: 'an empty file has no position', records: [], expected: null},
	{
		title: 'a single line is the position with one line at it',
		records: [{ts: at(1), stream: 'stdout', line: 'a'}],
		expected: {since: toEngineInstant(at(1)), linesAtSince: 1},
	},
	{
		title: 'three trailing lines at one instant, across both streams, are all counted',
		records: engineLog.slice(0, 4),
		expected: {since: toEngineInstant(at(2, 100)), linesAtSince: 3},
	},
	{
		title: 'a later instant resets the count to the lines at that instant only',
		records: engineLog.slice(0, 5),
		expected: {since: toEngineInstant(at(2, 101)), linesAtSince: 1},
	},
	{
		title: 'the same text twice at one instant counts as two lines',
		records: engineLog.slice(0, 7),
		expected: {since: toEngineInstant(at(3)), linesAtSince: 2},
	},
	{
		title: 'one instant written with different offsets counts as one instant',
		records: [
			{ts: '2024-01-02T05:04:05.5+02:00', stream: 'stdout', line: 'a'},
			{ts: '2024-01-02T03:04:05.500000000Z', stream: 'stdout', line: 'b'},
		],
		expected: {since: '001704164645.500000000', linesAtSince: 2},
	},
];

for (const {title, records, expected} of positions) {
	test(`positionAfter: ${title}`, t => {
		t.deepEqual(positionAfter(records), expected);
	});
}

test('a filter with no position keeps every line', t => {
	const isNew = createPositionFilter(null);
	t.deepEqual(engineLog.filter(line => isNew(line)), engineLog);
});

test('a filter drops lines before its instant and exactly linesAtSince lines at it, then keeps the rest at that instant', t => {
	const isNew = createPositionFilter({since: toEngineInstant(at(2, 100)), linesAtSince: 2});
	const kept = engineLog.filter(line => isNew(line)).map(record => record.line);
	t.deepEqual(kept, ['d', 'e', 'same text', 'same text', 'done']);
});
