import test from 'ava';
import {counted, formatAge, formatBytes, formatTable} from '../source/output/format.js';

const tables: Array<{title: string; headers: string[]; rows: string[][]; expected: string}> = [
	{
		title: 'pads each column to its widest cell with two spaces between columns',
		headers: ['NAME', 'RUN ID', 'STATE'],
		rows: [
			['a', 'run_0123456789ab', 'running'],
			['longer-name', 'run_ba9876543210', 'stopped'],
		],
		expected: [
			'NAME         RUN ID            STATE',
			'a            run_0123456789ab  running',
			'longer-name  run_ba9876543210  stopped',
			'',
		].join('\n'),
	},
	{
		title: 'widens a column for a header longer than every cell',
		headers: ['AGENT', 'X'],
		rows: [['-', 'y']],
		expected: 'AGENT  X\n-      y\n',
	},
	{
		title: 'does not pad the last column, and drops trailing spaces when it is empty',
		headers: ['NAME', 'SERVICES'],
		rows: [['a', ''], ['b', 'web:3000']],
		expected: 'NAME  SERVICES\na\nb     web:3000\n',
	},
	{
		title: 'prints only the header line when there are no rows',
		headers: ['NAME', 'STATE'],
		rows: [],
		expected: 'NAME  STATE\n',
	},
	{
		title: 'prints a short row without padding after its last cell',
		headers: ['A', 'B', 'C'],
		rows: [['x']],
		expected: 'A  B  C\nx\n',
	},
];

for (const {title, headers, rows, expected} of tables) {
	test(`formatTable ${title}`, t => {
		t.is(formatTable(headers, rows), expected);
	});
}

const now = new Date('2024-01-02T12:00:00.000Z');

const ages: Array<{seconds: number; expected: string}> = [
	{seconds: 0, expected: '0s'},
	{seconds: 59, expected: '59s'},
	{seconds: 60, expected: '1m'},
	{seconds: 119, expected: '1m'},
	{seconds: 3599, expected: '59m'},
	{seconds: 3600, expected: '1h'},
	{seconds: 86_399, expected: '23h'},
	{seconds: 86_400, expected: '1d'},
	{seconds: 400 * 86_400, expected: '400d'},
];

for (const {seconds, expected} of ages) {
	test(`formatAge of ${seconds}s ago is "${expected}"`, t => {
		t.is(formatAge(new Date(now.getTime() - (seconds * 1000)), now), expected);
	});
}

test('formatAge rounds down a partial second', t => {
	t.is(formatAge(new Date(now.getTime() - 1999), now), '1s');
});

test('formatAge of a time in the future (clock skew) is "0s", never negative', t => {
	t.is(formatAge(new Date(now.getTime() + 10_000), now), '0s');
});

const sizes: Array<{bytes: number; expected: string; why: string}> = [
	{bytes: 0, expected: '0 B', why: 'nothing'},
	{bytes: 1, expected: '1 B', why: 'bytes have no decimal'},
	{bytes: 999, expected: '999 B', why: 'the largest count shown in bytes'},
	{bytes: 1000, expected: '1.0 kB', why: 'decimal units: 1000 bytes is a kilobyte'},
	{bytes: 1500, expected: '1.5 kB', why: 'one decimal below 10'},
	{bytes: 9949, expected: '9.9 kB', why: 'the largest size that still rounds below 10'},
	{bytes: 9950, expected: '10 kB', why: 'rounding up to 10 drops the decimal rather than showing 10.0'},
	{bytes: 9999, expected: '10 kB', why: 'rounding up to 10 drops the decimal rather than showing 10.0'},
	{bytes: 10_000, expected: '10 kB', why: 'no decimal from 10 up'},
	{bytes: 99_999, expected: '100 kB', why: 'rounding up to a third digit'},
	{bytes: 123_456, expected: '123 kB', why: 'whole kilobytes from 10 up'},
	{bytes: 999_499, expected: '999 kB', why: 'the largest size that rounds below 1000 kB'},
	{bytes: 999_500, expected: '1.0 MB', why: 'a size that would round to 1000 kB moves to the next unit'},
	{bytes: 999_999, expected: '1.0 MB', why: 'a size that would round to 1000 kB moves to the next unit'},
	{bytes: 1_000_000, expected: '1.0 MB', why: 'a megabyte'},
	{bytes: 123_456_789, expected: '123 MB', why: 'whole megabytes from 10 up'},
	{bytes: 2_345_678_901, expected: '2.3 GB', why: 'one decimal below 10'},
	{bytes: 1e12, expected: '1.0 TB', why: 'a terabyte'},
	{bytes: 1e15, expected: '1000 TB', why: 'terabytes are the largest unit'},
];

for (const {bytes, expected, why} of sizes) {
	test(`formatBytes(${bytes}) is "${expected}" (${why})`, t => {
		t.is(formatBytes(bytes), expected);
	});
}

const counts: Array<[number, string, string | undefined, string]> = [
	[0, 'signed checkpoint', undefined, '0 signed checkpoints'],
	[1, 'signed checkpoint', undefined, '1 signed checkpoint'],
	[2, 'signed checkpoint', undefined, '2 signed checkpoints'],
	[1, 'entry', 'entries', '1 entry'],
	[5, 'entry', 'entries', '5 entries'],
];

for (const [count, singular, plural, expected] of counts) {
	test(`counted(${count}, ${singular}) is "${expected}"`, t => {
		t.is(counted(count, singular, plural), expected);
	});
}
