import test from 'ava';
import {formatAge, formatBytes, formatTable} from '../source/output/format.js';

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

const sizes: Array<{bytes: number; expected: string}> = [
	{bytes: 0, expected: '0 B'},
	{bytes: 1, expected: '1 B'},
	{bytes: 999, expected: '999 B'},
	{bytes: 1000, expected: '1.0 kB'},
	{bytes: 1500, expected: '1.5 kB'},
	{bytes: 10_000, expected: '10 kB'},
	{bytes: 123_456, expected: '123 kB'},
	{bytes: 1_000_000, expected: '1.0 MB'},
	{bytes: 2_345_678_901, expected: '2.3 GB'},
	{bytes: 1e12, expected: '1.0 TB'},
	{bytes: 1e15, expected: '1000 TB'},
];

for (const {bytes, expected} of sizes) {
	test(`formatBytes(${bytes}) is "${expected}" (decimal units, one decimal below 10)`, t => {
		t.is(formatBytes(bytes), expected);
	});
}
