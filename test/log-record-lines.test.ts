import test from 'ava';
import {logRecordLines, type LogRecord} from '../source/runs/run-store.js';

const records: LogRecord[] = [
	{ts: '2026-12-03T16:37:06.416Z', stream: 'stdout', line: 'plain'},
	{ts: '2026-12-03T16:37:06.416Z', stream: 'stdout', line: 'quotes " and \\ backslashes'},
	{ts: '2026-12-03T16:37:06.416Z', stream: 'stderr', line: 'control \u0007\u001B[31m bytes and \u2028 separators'},
	{ts: '2026-12-03T16:37:07.001Z', stream: 'stdout', line: 'ünïcödé 🦀 and a lone \uD800 half'},
	{ts: '2026-12-03T16:37:07.001Z', stream: 'stdout', line: ''},
	{ts: '2026-12-03T16:37:08.000Z', stream: 'stderr', line: '[moat] output lost', lost: {after: '2026-12-03T16:37:07.001Z', before: '2026-12-03T16:37:08.000Z'}},
];

test('log records are written exactly as JSON.stringify writes them, one per line', t => {
	t.is(logRecordLines(records), records.map(record => JSON.stringify(record) + '\n').join(''));
});

test('each written line reads back as the record it came from', t => {
	const lines = logRecordLines(records).split('\n');
	t.is(lines.pop(), '');
	t.deepEqual(lines.map(line => JSON.parse(line) as LogRecord), records);
});

test('no records write nothing', t => {
	t.is(logRecordLines([]), '');
});
