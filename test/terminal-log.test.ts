import test from 'ava';
import type {LogRecord} from '../source/runs/run-store.js';
import {renderTerminalLog} from '../source/runs/terminal-log.js';

const ts = '2026-12-01T10:00:00.000Z';

function records(...lines: string[]): LogRecord[] {
	return lines.map(line => ({ts, stream: 'stdout', line}));
}

async function shown(...lines: string[]): Promise<string[]> {
	return (await renderTerminalLog(records(...lines))).map(record => record.line);
}

test('a line Claude Code draws with cursor moves for spaces reads with its spaces', async t => {
	t.deepEqual(await shown('●\u001B[1CHello\u001B[1Cfrom\u001B[1Cthe\u001B[1Cstand-in!\u001B[1C(model\u001B[1Cclaude)'), ['● Hello from the stand-in! (model claude)']);
});

test('lines a program redraws in place (cursor up, erase) read as they were left, once', async t => {
	t.deepEqual(await shown('answer: draft', '─────', 'status: thinking', '\u001B[3A\r\u001B[2Kanswer: final\u001B[2B\r\u001B[2Kstatus: done'), ['answer: final', '─────', 'status: done']);
});

test('a progress bar redrawn with carriage returns reads as its last state', async t => {
	t.deepEqual(await shown('[#   ] 25%\r[##  ] 50%\r[####] 100%', 'done'), ['[####] 100%', 'done']);
});

test('a line longer than the terminal is one line again, not cut where it wrapped', async t => {
	const long = 'x'.repeat(300) + 'end';
	t.deepEqual(await shown('before', long, 'after'), ['before', long, 'after']);
});

test('every line of a long log comes out once, in order', async t => {
	const lines = Array.from({length: 5000}, (_, index) => `line ${index}`);
	t.deepEqual(await shown(...lines), lines);
});

test('clear keeps what was on the screen (a log keeps everything), and erasing the scrollback takes nothing back', async t => {
	t.deepEqual(await shown('first', 'second', '\u001B[H\u001B[2J\u001B[3Jthird'), ['first', 'second', 'third']);
});

test('a full-screen program on the alternate screen leaves the main screen as it was when it ends', async t => {
	t.deepEqual(await shown('$ top', '\u001B[?1049h\u001B[Htop - 10:00\u001B[5;1Hprocesses', '\u001B[?1049l$ echo back', 'back'), ['$ top', '$ echo back', 'back']);
});

test('moat\'s record of lost output stays where it was, between the lines around it', async t => {
	const lost: LogRecord = {ts, stream: 'stderr', line: '[moat] output lost', lost: {after: ts, before: ts}};
	const rendered = await renderTerminalLog([...records('one'), lost, ...records('two')]);
	t.deepEqual(rendered.map(record => [record.stream, record.line]), [['stdout', 'one'], ['stderr', '[moat] output lost'], ['stdout', 'two']]);
});

test('no records show nothing', async t => {
	t.deepEqual(await renderTerminalLog([]), []);
});
