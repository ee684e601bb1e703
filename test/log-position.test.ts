import test from 'ava';
import {toEngineInstant} from '../source/engine/log-frames.js';
import {
	attachedOverlap,
	createPositionFilter,
	liveOverlap,
	earlierInstant,
	positionAfter,
	replaySlackSeconds,
	type LogPosition,
} from '../source/runs/log-position.js';
import type {LogRecord} from '../source/runs/run-store.js';

/** An RFC 3339 timestamp `seconds.nanoseconds` into one minute. */
const at = (seconds: number, nanoseconds = 0) =>
	`2024-01-02T03:04:${String(seconds).padStart(2, '0')}.${String(nanoseconds).padStart(9, '0')}Z`;

/** The engine instant of `at(seconds, nanoseconds)`, as positions carry it. */
const instantAt = (seconds: number, nanoseconds = 0) => toEngineInstant(at(seconds, nanoseconds));

const stdout = (line: string, seconds: number, nanoseconds = 0): LogRecord => ({ts: at(seconds, nanoseconds), stream: 'stdout', line});
const stderr = (line: string, seconds: number, nanoseconds = 0): LogRecord => ({ts: at(seconds, nanoseconds), stream: 'stderr', line});

/**
 * An engine's log in engine order. stdout and stderr are timestamped
 * separately, so instants go backwards where the streams interleave (B, Y,
 * W), several lines share one instant, and one text repeats at one instant.
 * No line is more than replaySlackSeconds earlier than a line before it.
 */
const engineLog: LogRecord[] = [
	stdout('start', 1),
	stdout('A', 5),
	stderr('B', 4, 900_000_000),
	stdout('C', 5),
	stderr('same text', 5),
	stderr('same text', 5),
	stdout('X', 6),
	stderr('Y', 5),
	stdout('Z', 7),
	stderr('W', 5, 100_000_000),
	stdout('D', 8),
	stdout('late', 12),
	stderr('late too', 12),
];

/** What the engine returns for `logs --since`: every line at or after the instant, in engine order. */
function replayFrom(log: readonly LogRecord[], position: LogPosition | null): LogRecord[] {
	return position ? log.filter(record => toEngineInstant(record.ts) >= position.since) : [...log];
}

/** One catch-up: read the position from the file, replay, keep what the filter lets through. */
function resume(log: readonly LogRecord[], file: readonly LogRecord[], replay = replayFrom): LogRecord[] {
	const position = positionAfter(file);
	const isNew = createPositionFilter(position);
	return replay(log, position).filter(line => isNew(line));
}

const lineNames = (records: readonly LogRecord[]) => records.map(record => record.line);

test('the engine log fixture goes backwards in time, repeats instants, and stays within replaySlackSeconds of every earlier line', t => {
	const instants = engineLog.map(record => toEngineInstant(record.ts));
	t.true(instants.some((instant, index) => index > 0 && instant < instants[index - 1]!), 'some line is earlier than its predecessor');
	t.true(instants.some((instant, index) => index > 0 && instant === instants[index - 1]), 'some lines share an instant');
	for (let later = 1; later < instants.length; later++) {
		for (let earlier = 0; earlier < later; earlier++) {
			t.true(
				instants[later]! >= earlierInstant(instants[earlier]!, replaySlackSeconds),
				`${engineLog[later]!.line} is within ${replaySlackSeconds} s of ${engineLog[earlier]!.line}`,
			);
		}
	}
});

for (let written = 0; written <= engineLog.length; written++) {
	test(`resuming after ${written} of ${engineLog.length} written lines adds exactly the missing lines, in order`, t => {
		const file = engineLog.slice(0, written);
		t.deepEqual([...file, ...resume(engineLog, file)], engineLog);
	});
}

for (let written = 0; written <= engineLog.length; written++) {
	test(`resuming after ${written} of ${engineLog.length} lines from an engine that ignores since still adds exactly the missing lines`, t => {
		const file = engineLog.slice(0, written);
		const replayEverything = (log: readonly LogRecord[]) => [...log];
		t.deepEqual([...file, ...resume(engineLog, file, replayEverything)], engineLog);
	});
}

for (const batchSize of [1, 2, 3, 5]) {
	test(`capturing in batches of ${batchSize} line(s), resuming from the file each time, copies the log without duplicates or gaps`, t => {
		const file: LogRecord[] = [];
		for (let round = 0; round <= engineLog.length; round++) {
			// A capture that is killed after a few lines, like a detached CLI exiting.
			file.push(...resume(engineLog, file).slice(0, batchSize));
		}

		t.deepEqual(file, engineLog);
	});
}

test('resuming from a complete file adds nothing', t => {
	t.deepEqual(resume(engineLog, engineLog), []);
});

const scenarios: Array<{title: string; log: LogRecord[]; written: number; added: string[]}> = [
	{
		title: 'file A@05 stdout, B@04.9 stderr, C@05 stdout, then D@08: only D is added, A and C are not duplicated',
		log: [stdout('A', 5), stderr('B', 4, 900_000_000), stdout('C', 5), stdout('D', 8)],
		written: 3,
		added: ['D'],
	},
	{
		title: 'file X@06, Y@05, then Z@07: only Z is added, though the last written line is not the latest',
		log: [stdout('X', 6), stderr('Y', 5), stdout('Z', 7)],
		written: 2,
		added: ['Z'],
	},
	{
		title: 'file A@05, then B@04.9 from the other stream: B is not lost',
		log: [stdout('A', 5), stderr('B', 4, 900_000_000)],
		written: 1,
		added: ['B'],
	},
	{
		title: 'file A@07, then B exactly replaySlackSeconds earlier: B is not lost',
		log: [stdout('A', 7), stderr('B', 7 - replaySlackSeconds)],
		written: 1,
		added: ['B'],
	},
	{
		title: 'file "same", "same" at one instant, then a third "same" at it: exactly one more is added',
		log: [stdout('same', 5), stdout('same', 5), stdout('same', 5)],
		written: 2,
		added: ['same'],
	},
];

for (const {title, log, written, added} of scenarios) {
	test(`resuming: ${title}`, t => {
		t.deepEqual(lineNames(resume(log, log.slice(0, written))), added);
	});
}

test('replay starts replaySlackSeconds (2 s) before the last written line', t => {
	t.is(replaySlackSeconds, 2);
});

const positions: Array<{title: string; records: LogRecord[]; expected: LogPosition | null}> = [
	{title: 'an empty file has no position', records: [], expected: null},
	{
		title: 'a single line starts replay 2 s before it and counts itself as written',
		records: [stdout('A', 5)],
		expected: {since: instantAt(3), alreadyWritten: 1},
	},
	{
		title: 'lines before the replay start are not counted',
		records: [stdout('start', 1), stdout('early', 2, 999_999_999), stdout('A', 5)],
		expected: {since: instantAt(3), alreadyWritten: 1},
	},
	{
		title: 'a line exactly at the replay start is counted, since replay includes it',
		records: [stdout('edge', 3), stdout('A', 5)],
		expected: {since: instantAt(3), alreadyWritten: 2},
	},
	{
		title: 'out-of-order and equal instants across both streams are all counted',
		records: [stdout('A', 5), stderr('B', 4, 900_000_000), stdout('C', 5)],
		expected: {since: instantAt(3), alreadyWritten: 3},
	},
	{
		title: 'the last line, not the latest, sets the replay start',
		records: [stdout('X', 6), stderr('Y', 5)],
		expected: {since: instantAt(3), alreadyWritten: 2},
	},
	{
		title: 'nanoseconds of the last line are kept in the replay start',
		records: [stdout('A', 5, 123_456_789)],
		expected: {since: instantAt(3, 123_456_789), alreadyWritten: 1},
	},
	{
		title: 'one instant written with different offsets counts as one instant',
		records: [
			{ts: '2024-01-02T05:04:05.5+02:00', stream: 'stdout', line: 'a'},
			{ts: '2024-01-02T03:04:05.500000000Z', stream: 'stdout', line: 'b'},
		],
		expected: {since: '001704164643.500000000', alreadyWritten: 2},
	},
];

for (const {title, records, expected} of positions) {
	test(`positionAfter: ${title}`, t => {
		const position = positionAfter(records);
		t.deepEqual(position && {since: position.since, alreadyWritten: position.alreadyWritten}, expected);
		t.is(position?.written?.length ?? 0, expected?.alreadyWritten ?? 0, 'the lines it will compare are the ones it counts');
	});
}

const earlier: Array<{instant: string; seconds: number; expected: string; why: string}> = [
	{instant: '001704164645.123456789', seconds: 2, expected: '001704164643.123456789', why: 'the fraction is kept'},
	{instant: '000000000010.000000000', seconds: 2, expected: '000000000008.000000000', why: 'padding is kept when the seconds lose a digit'},
	{instant: '000000000002.000000000', seconds: 2, expected: '000000000000.000000000', why: 'reaching the epoch exactly'},
	{instant: '000000000001.000000000', seconds: 2, expected: '000000000000.000000000', why: 'never below the epoch'},
	{instant: '000000000000.000000000', seconds: 2, expected: '000000000000.000000000', why: 'the epoch stays the epoch'},
	{instant: '001704164645.000000000', seconds: 0, expected: '001704164645.000000000', why: 'zero seconds earlier is the same instant'},
];

for (const {instant, seconds, expected, why} of earlier) {
	test(`earlierInstant("${instant}", ${seconds}) is "${expected}" (${why})`, t => {
		t.is(earlierInstant(instant, seconds), expected);
	});
}

for (const instant of ['000000000000.500000000', '000000000001.500000000', '000000000001.999999999']) {
	test(`earlierInstant("${instant}", 2) keeps the 12-digit padding, is not negative and is not later than the instant`, t => {
		const result = earlierInstant(instant, 2);
		t.regex(result, /^\d{12}\.\d{9}$/);
		t.true(result >= '000000000000.000000000');
		t.true(result <= instant);
	});
}

test('a filter with no position keeps every line', t => {
	const isNew = createPositionFilter(null);
	t.deepEqual(engineLog.filter(line => isNew(line)), engineLog);
});

test('a filter skips exactly alreadyWritten lines at or after since, whatever their instants, then keeps the rest', t => {
	const isNew = createPositionFilter({since: instantAt(3), alreadyWritten: 3});
	const replay = [stdout('A', 5), stderr('B', 4, 900_000_000), stdout('C', 5), stdout('A', 5), stdout('D', 8), stderr('E', 3)];
	t.deepEqual(lineNames(replay.filter(line => isNew(line))), ['A', 'D', 'E']);
});

test('a filter drops lines earlier than since without counting them as already written', t => {
	const isNew = createPositionFilter({since: instantAt(3), alreadyWritten: 1});
	const replay = [stdout('old', 1), stderr('older', 2, 999_999_999), stdout('written', 3), stdout('new', 4), stdout('old again', 2)];
	t.deepEqual(lineNames(replay.filter(line => isNew(line))), ['new']);
});

test('a replay that no longer starts with the written lines has lost output: the first line that differs is new, and the loss is told', t => {
	const file = [stdout('1', 3), stdout('2', 4), stdout('3', 5)];
	const lost: Array<{after: string; before: string}> = [];
	const isNew = createPositionFilter(positionAfter(file), {onLost: gap => lost.push(gap)});
	// The engine's log rotated: what follows line 1 is gone up to line 9.
	const replay = [stdout('1', 3), stdout('9', 6), stdout('10', 7)];
	t.deepEqual(lineNames(replay.filter(line => isNew(line))), ['9', '10']);
	t.deepEqual(lost, [{after: at(5), before: at(6)}]);
});

test('a replay that starts with the written lines loses nothing and tells nothing', t => {
	const file = [stdout('1', 3), stdout('same', 4), stdout('same', 4)];
	const lost: unknown[] = [];
	const isNew = createPositionFilter(positionAfter(file), {onLost: gap => lost.push(gap)});
	const replay = [stdout('1', 3), stdout('same', 4), stdout('same', 4), stdout('same', 4)];
	t.deepEqual(lineNames(replay.filter(line => isNew(line))), ['same']);
	t.deepEqual(lost, []);
});

test('liveOverlap finds where an attachment began, mid-line, in the log, and how many of its lines the log holds', t => {
	const logged = ['318', '319', '320', '321', '322'].map((line, index) => stdout(line, 3, index));
	// The attachment began inside "320": its first line is the end of it.
	const live = ['0', '321', '322', '323'].map(line => stdout(line, 4));
	t.is(liveOverlap(logged, live), 3);
});

test('liveOverlap says the log does not reach the attachment yet when no place agrees', t => {
	const logged = ['100', '101'].map(line => stdout(line, 3));
	const live = ['32', '320733', '320734'].map(line => stdout(line, 4));
	t.is(liveOverlap(logged, live), undefined);
	t.is(liveOverlap(logged, []), undefined);
});

test('attachedOverlap is the longest run of the log\'s last lines that the other begins with', t => {
	const logged = ['a', 'b', 'c'].map(line => stdout(line, 3));
	t.is(attachedOverlap(logged, ['b', 'c', 'd'].map(line => stdout(line, 4))), 2);
	t.is(attachedOverlap(logged, ['d'].map(line => stdout(line, 4))), 0);
	t.is(attachedOverlap(logged, ['c'].map(line => stderr(line, 4))), 0, 'the stream is part of the line');
});
