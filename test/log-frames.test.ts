import test from 'ava';
import type {OutputChunk, OutputStream} from '../source/engine/engine.js';
import {createFrameDecoder, createLineSplitter, toEngineInstant, type TimestampedLine} from '../source/engine/log-frames.js';

/** One frame of Docker's multiplexed format: stream byte, 3 zero bytes, big-endian length, payload. */
function frame(streamByte: number, payload: string): Buffer {
	const data = Buffer.from(payload, 'utf8');
	const header = Buffer.alloc(8);
	header[0] = streamByte;
	header.writeUInt32BE(data.length, 4);
	return Buffer.concat([header, data]);
}

const decoded = (chunks: OutputChunk[]) => chunks.map(({stream, data}) => ({stream, text: data.toString('utf8')}));

const stdoutFrame = frame(1, 'hello\n');
const stderrFrame = frame(2, 'oops\n');
const wire = Buffer.concat([stdoutFrame, stderrFrame]);
const expectedFrames = [
	{stream: 'stdout', text: 'hello\n'},
	{stream: 'stderr', text: 'oops\n'},
];

function describeOffset(offset: number): string {
	if (offset === 0 || offset === wire.length) {
		return 'at an end, so one chunk holds everything';
	}

	const inSecond = offset >= stdoutFrame.length;
	const within = inSecond ? offset - stdoutFrame.length : offset;
	const which = inSecond ? 'second' : 'first';
	if (within === 0) {
		return 'between the two frames';
	}

	return within < 8 ? `inside the ${which} frame's header` : `inside the ${which} frame's payload`;
}

for (let offset = 0; offset <= wire.length; offset++) {
	test(`frame decoder returns both frames whole when the wire is split at byte ${offset} (${describeOffset(offset)})`, t => {
		const decoder = createFrameDecoder();
		const frames = [...decoder.push(wire.subarray(0, offset)), ...decoder.push(wire.subarray(offset))];
		t.deepEqual(decoded(frames), expectedFrames);
	});
}

test('frame decoder returns both frames whole when fed one byte at a time, and nothing before a frame is complete', t => {
	const decoder = createFrameDecoder();
	const frames: OutputChunk[] = [];
	for (let index = 0; index < wire.length; index++) {
		const out = decoder.push(wire.subarray(index, index + 1));
		if (index !== stdoutFrame.length - 1 && index !== wire.length - 1) {
			t.deepEqual(out, [], `byte ${index} completed no frame`);
		}

		frames.push(...out);
	}

	t.deepEqual(decoded(frames), expectedFrames);
});

const streamBytes: Array<{byte: number; stream: OutputStream}> = [
	{byte: 1, stream: 'stdout'},
	{byte: 2, stream: 'stderr'},
];

for (const {byte, stream} of streamBytes) {
	test(`frame decoder maps stream byte ${byte} to ${stream}`, t => {
		t.deepEqual(decoded(createFrameDecoder().push(frame(byte, 'x'))), [{stream, text: 'x'}]);
	});
}

test('frame decoder returns an empty-payload frame and continues with the next one', t => {
	const frames = createFrameDecoder().push(Buffer.concat([frame(1, ''), frame(2, 'after')]));
	t.deepEqual(decoded(frames), [
		{stream: 'stdout', text: ''},
		{stream: 'stderr', text: 'after'},
	]);
});

test('frame decoder reads the payload length as big-endian beyond one byte (300-byte payload)', t => {
	const payload = 'a'.repeat(300);
	t.deepEqual(decoded(createFrameDecoder().push(frame(1, payload))), [{stream: 'stdout', text: payload}]);
});

const chunk = (stream: OutputStream, text: string): OutputChunk => ({stream, data: Buffer.from(text, 'utf8')});

const firstLine = '2024-01-02T03:04:05.123456789Z first line\n';
const secondLine = '2024-01-02T03:04:05.200000000Z second line\n';
const twoLines = firstLine + secondLine;
const expectedLines: TimestampedLine[] = [
	{ts: '2024-01-02T03:04:05.123456789Z', stream: 'stdout', line: 'first line'},
	{ts: '2024-01-02T03:04:05.200000000Z', stream: 'stdout', line: 'second line'},
];

for (let offset = 0; offset <= twoLines.length; offset++) {
	test(`line splitter yields the same two lines when the text is split at character ${offset}`, t => {
		const splitter = createLineSplitter();
		const lines = [
			...splitter.push(chunk('stdout', twoLines.slice(0, offset))),
			...splitter.push(chunk('stdout', twoLines.slice(offset))),
		];
		t.deepEqual(lines, expectedLines);
		t.deepEqual(splitter.flush(), [], 'nothing is left over');
	});
}

test('line splitter keeps a separate unfinished tail for stdout and stderr', t => {
	const splitter = createLineSplitter();
	t.deepEqual(splitter.push(chunk('stdout', '2024-01-02T03:04:05Z hel')), []);
	t.deepEqual(splitter.push(chunk('stderr', '2024-01-02T03:04:06Z warn')), []);
	t.deepEqual(splitter.push(chunk('stderr', 'ing\n')), [{ts: '2024-01-02T03:04:06Z', stream: 'stderr', line: 'warning'}]);
	t.deepEqual(splitter.push(chunk('stdout', 'lo\n')), [{ts: '2024-01-02T03:04:05Z', stream: 'stdout', line: 'hello'}]);
});

test('line splitter returns every line of a chunk holding several, in order', t => {
	const splitter = createLineSplitter();
	t.deepEqual(splitter.push(chunk('stderr', '2024-01-02T03:04:05Z a\n2024-01-02T03:04:05Z b\n2024-01-02T03:04:06Z c\n')), [
		{ts: '2024-01-02T03:04:05Z', stream: 'stderr', line: 'a'},
		{ts: '2024-01-02T03:04:05Z', stream: 'stderr', line: 'b'},
		{ts: '2024-01-02T03:04:06Z', stream: 'stderr', line: 'c'},
	]);
});

const lineShapes: Array<{title: string; raw: string; expected: Omit<TimestampedLine, 'stream'>}> = [
	{title: 'drops the carriage return of a CRLF line', raw: '2024-01-02T03:04:05Z done\r\n', expected: {ts: '2024-01-02T03:04:05Z', line: 'done'}},
	{title: 'keeps spaces inside the line after the first', raw: '2024-01-02T03:04:05Z  a  b \n', expected: {ts: '2024-01-02T03:04:05Z', line: ' a  b '}},
	{title: 'gives an empty line for a timestamp and a space', raw: '2024-01-02T03:04:05Z \n', expected: {ts: '2024-01-02T03:04:05Z', line: ''}},
	{title: 'gives an empty line for a timestamp with no space', raw: '2024-01-02T03:04:05Z\n', expected: {ts: '2024-01-02T03:04:05Z', line: ''}},
	{title: 'keeps a carriage return in the middle of a line', raw: '2024-01-02T03:04:05Z 50%\r100%\n', expected: {ts: '2024-01-02T03:04:05Z', line: '50%\r100%'}},
];

for (const {title, raw, expected} of lineShapes) {
	test(`line splitter ${title}`, t => {
		t.deepEqual(createLineSplitter().push(chunk('stdout', raw)), [{...expected, stream: 'stdout'}]);
	});
}

test('line splitter flush returns each stream\'s unterminated line once, then nothing', t => {
	const splitter = createLineSplitter();
	t.deepEqual(splitter.push(chunk('stderr', '2024-01-02T03:04:06Z no newline on stderr')), []);
	t.deepEqual(splitter.push(chunk('stdout', '2024-01-02T03:04:05Z done\n2024-01-02T03:04:07Z prompt> ')), [
		{ts: '2024-01-02T03:04:05Z', stream: 'stdout', line: 'done'},
	]);
	t.deepEqual(splitter.flush(), [
		{ts: '2024-01-02T03:04:07Z', stream: 'stdout', line: 'prompt> '},
		{ts: '2024-01-02T03:04:06Z', stream: 'stderr', line: 'no newline on stderr'},
	]);
	t.deepEqual(splitter.flush(), []);
});

const bytes = (text: string) => Buffer.from(text, 'utf8');
const stdoutBytes = (data: Buffer): OutputChunk => ({stream: 'stdout', data});

const multiByteCharacters: Array<{character: string; name: string}> = [
	{character: '\u00E9', name: 'é (2 bytes)'},
	{character: '\u20AC', name: '€ (3 bytes)'},
	{character: '\u{1F600}', name: 'an emoji (4 bytes, a surrogate pair in JavaScript)'},
];

for (const {character, name} of multiByteCharacters) {
	const prefix = bytes('2024-01-02T03:04:05Z caf');
	const encoded = bytes(character);
	const wholeLine = Buffer.concat([prefix, encoded, bytes(' ok\n')]);
	for (let inside = 1; inside < encoded.length; inside++) {
		test(`line splitter keeps ${name} intact when a chunk ends after ${inside} of its ${encoded.length} bytes`, t => {
			const splitter = createLineSplitter();
			const cut = prefix.length + inside;
			t.deepEqual(splitter.push(stdoutBytes(wholeLine.subarray(0, cut))), []);
			t.deepEqual(splitter.push(stdoutBytes(wholeLine.subarray(cut))), [
				{ts: '2024-01-02T03:04:05Z', stream: 'stdout', line: `caf${character} ok`},
			]);
			t.deepEqual(splitter.flush(), [], 'no stray bytes are left over');
		});
	}

	test(`line splitter keeps ${name} intact when fed one byte at a time`, t => {
		const splitter = createLineSplitter();
		const lines: TimestampedLine[] = [];
		for (let index = 0; index < wholeLine.length; index++) {
			lines.push(...splitter.push(stdoutBytes(wholeLine.subarray(index, index + 1))));
		}

		t.deepEqual(lines, [{ts: '2024-01-02T03:04:05Z', stream: 'stdout', line: `caf${character} ok`}]);
	});

	test(`line splitter flush completes ${name} split across the chunks of an unterminated line`, t => {
		const splitter = createLineSplitter();
		const unterminated = Buffer.concat([prefix, encoded]);
		t.deepEqual(splitter.push(stdoutBytes(unterminated.subarray(0, prefix.length + 1))), []);
		t.deepEqual(splitter.push(stdoutBytes(unterminated.subarray(prefix.length + 1))), []);
		t.deepEqual(splitter.flush(), [{ts: '2024-01-02T03:04:05Z', stream: 'stdout', line: `caf${character}`}]);
	});
}

test('line splitter keeps a separate partial character for stdout and stderr when their chunks interleave', t => {
	const splitter = createLineSplitter();
	const out = bytes('2024-01-02T03:04:05Z \u{1F600}\n');
	const error = bytes('2024-01-02T03:04:06Z \u00E9\n');
	const outCut = out.indexOf(0xF0) + 2;
	const errorCut = error.indexOf(0xC3) + 1;
	t.deepEqual(splitter.push(stdoutBytes(out.subarray(0, outCut))), []);
	t.deepEqual(splitter.push({stream: 'stderr', data: error.subarray(0, errorCut)}), []);
	t.deepEqual(splitter.push(stdoutBytes(out.subarray(outCut))), [{ts: '2024-01-02T03:04:05Z', stream: 'stdout', line: '\u{1F600}'}]);
	t.deepEqual(splitter.push({stream: 'stderr', data: error.subarray(errorCut)}), [{ts: '2024-01-02T03:04:06Z', stream: 'stderr', line: '\u00E9'}]);
});

test('line splitter flush turns the bytes of a character the stream never finished into U+FFFD instead of dropping the line', t => {
	const splitter = createLineSplitter();
	const truncated = bytes('2024-01-02T03:04:05Z caf\u00E9').subarray(0, -1);
	t.deepEqual(splitter.push(stdoutBytes(truncated)), []);
	t.deepEqual(splitter.flush(), [{ts: '2024-01-02T03:04:05Z', stream: 'stdout', line: 'caf\uFFFD'}]);
	t.deepEqual(splitter.flush(), []);
});

test('line splitter flush returns nothing when every line was terminated', t => {
	const splitter = createLineSplitter();
	splitter.push(chunk('stdout', '2024-01-02T03:04:05Z done\n'));
	t.deepEqual(splitter.flush(), []);
});

const instants: Array<{timestamp: string; expected: string; why: string}> = [
	{timestamp: '2024-01-02T03:04:05Z', expected: '001704164645.000000000', why: 'no fractional digits'},
	{timestamp: '2024-01-02T03:04:05.123Z', expected: '001704164645.123000000', why: '3 fractional digits, padded to nanoseconds'},
	{timestamp: '2024-01-02T03:04:05.5Z', expected: '001704164645.500000000', why: '1 fractional digit is tenths, not nanoseconds'},
	{timestamp: '2024-01-02T03:04:05.123456789Z', expected: '001704164645.123456789', why: '9 fractional digits kept exactly'},
	{timestamp: '2024-01-02T03:04:05.000000001Z', expected: '001704164645.000000001', why: 'leading zeros in the fraction kept'},
	{timestamp: '2024-01-02T05:04:05.123456789+02:00', expected: '001704164645.123456789', why: 'a positive offset is subtracted'},
	{timestamp: '2024-01-01T21:34:05.123-05:30', expected: '001704164645.123000000', why: 'a negative half-hour offset is added'},
	{timestamp: '1970-01-01T00:00:00Z', expected: '000000000000.000000000', why: 'the epoch pads to twelve digits'},
	{timestamp: '2024-01-02T03:04:05.1234567891Z', expected: '001704164645.123456789', why: 'a tenth fractional digit is dropped'},
	{timestamp: '2024-01-02T03:04:05.1234567899Z', expected: '001704164645.123456789', why: 'digits past nine are truncated, not rounded'},
	{timestamp: '2024-01-02T03:04:05.999999999999Z', expected: '001704164645.999999999', why: 'twelve nines truncate to nine, not carry into the next second'},
	{timestamp: '2024-01-02T03:04:05.0000000001Z', expected: '001704164645.000000000', why: 'a sub-nanosecond fraction is dropped'},
	{timestamp: '2024-01-02T05:04:05.1234567891+02:00', expected: '001704164645.123456789', why: 'truncation works with an offset too'},
];

for (const {timestamp, expected, why} of instants) {
	test(`toEngineInstant("${timestamp}") is ${expected} (${why})`, t => {
		t.is(toEngineInstant(timestamp), expected);
	});
}

test('toEngineInstant string order matches time order across precisions, offsets and a change in digit count', t => {
	// Listed in time order; the pair around 2001-09-09 crosses from 9 to 10 digits of seconds.
	const ordered = [
		'2001-09-09T01:46:39.999999999Z',
		'2001-09-09T01:46:40Z',
		'2024-01-02T03:04:05Z',
		'2024-01-02T03:04:05.000000001Z',
		'2024-01-02T03:04:05.1Z',
		'2024-01-02T05:04:05.123+02:00',
		'2024-01-02T03:04:05.123456789Z',
		'2024-01-02T03:04:05.9Z',
		'2024-01-01T22:04:06-05:00',
		'2024-01-02T03:04:06.000000001Z',
		'2024-01-02T03:04:10Z',
	];
	const converted = ordered.map(timestamp => toEngineInstant(timestamp));
	t.deepEqual([...converted].sort(), converted);
	for (let index = 1; index < converted.length; index++) {
		t.true(converted[index - 1]! < converted[index]!, `${ordered[index - 1]} sorts before ${ordered[index]}`);
	}
});

test('toEngineInstant gives the same instant for one moment written with different offsets', t => {
	t.is(toEngineInstant('2024-01-02T05:04:05.000000007+02:00'), toEngineInstant('2024-01-02T03:04:05.000000007Z'));
});

const invalidTimestamps: Array<{timestamp: string; why: string}> = [
	{timestamp: '', why: 'empty'},
	{timestamp: 'garbage', why: 'no timestamp at all'},
	{timestamp: 'garbageZ', why: 'only the zone designator'},
	{timestamp: 'garbage.123Z', why: 'only a fraction and a zone'},
	{timestamp: '2024-01-02T03:04:05', why: 'no zone'},
	{timestamp: '2024-13-45T03:04:05Z', why: 'month 13, day 45'},
	{timestamp: '2024-01-02T25:00:00Z', why: 'hour 25'},
	{timestamp: '2024-01-02T03:60:00Z', why: 'minute 60'},
	{timestamp: '2024-01-02T03:04:05.Z', why: 'a dot with no digits'},
	{timestamp: '2024-01-02T03:04:05.-1Z', why: 'a negative fraction'},
	{timestamp: '2024-01-02T03:04:05+0200', why: 'an offset without a colon'},
	{timestamp: '2024-01-02T03:04:05+25:00', why: 'an offset of 25 hours'},
	{timestamp: '2024-01-02 03:04:05Z', why: 'a space instead of T'},
	{timestamp: ' 2024-01-02T03:04:05Z', why: 'a leading space'},
	{timestamp: '2024-01-02T03:04:05Z\n', why: 'a trailing newline'},
	{timestamp: '24-01-02T03:04:05Z', why: 'a two-digit year'},
];

for (const {timestamp, why} of invalidTimestamps) {
	test(`toEngineInstant throws a plain Error naming ${JSON.stringify(timestamp)} (${why})`, t => {
		const error = t.throws(() => toEngineInstant(timestamp), {message: `not an RFC 3339 timestamp: ${timestamp}`});
		t.is(error?.constructor, Error, 'the same error class for every malformed input, not a TypeError for some');
	});
}
