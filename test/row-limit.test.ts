import test from 'ava';
import {belowDrawn} from '../source/terminal/footer.js';
import {createRowLimit} from '../source/terminal/row-limit.js';

const limit = (text: string, rows: number | undefined) => createRowLimit().push(Buffer.from(text, 'latin1'), rows).toString('latin1');

const cases: Array<[title: string, input: string, output: string]> = [
	['a move to a row past the agent\'s last goes to its last (top leaves this way)', '\u001B[20;1H\r\n', '\u001B[19;1H\r\n'],
	['a move with f instead of H too', '\u001B[99;5f', '\u001B[19;5f'],
	['a move to a row the agent has is left alone', '\u001B[19;1H\u001B[1;1H\u001B[H', '\u001B[19;1H\u001B[1;1H\u001B[H'],
	['a move to a row (VPA) past the last goes to the last', '\u001B[25d', '\u001B[19d'],
	['resetting the scroll region gives back the agent\'s rows, not the footer\'s', '\u001B[r', '\u001B[1;19r'],
	['a scroll region past the last row ends at the last', '\u001B[3;20r', '\u001B[3;19r'],
	['a scroll region inside the agent\'s rows is left alone', '\u001B[2;10r', '\u001B[2;10r'],
	['a private mode restore (CSI ? r) is not a scroll region', '\u001B[?1049r', '\u001B[?1049r'],
	['text around the sequences is unchanged, UTF-8 included', 'héllo ─\u001B[30;2Hworld', 'héllo ─\u001B[19;2Hworld'],
];

for (const [title, input, output] of cases) {
	test(`row limit: ${title}`, t => {
		const utf8 = (text: string) => Buffer.from(text).toString('latin1');
		t.is(limit(utf8(input), 19), utf8(output));
	});
}

test('row limit: with no limit (the agent has the whole screen) nothing changes', t => {
	t.is(limit('\u001B[r\u001B[99;1H', undefined), '\u001B[r\u001B[99;1H');
});

test('row limit: a sequence cut off at the end of a chunk waits for the rest, then is limited whole', t => {
	const rows = createRowLimit();
	t.is(rows.push(Buffer.from('text\u001B[3'), 19).toString('latin1'), 'text');
	t.is(rows.push(Buffer.from('0;1Hmore'), 19).toString('latin1'), '\u001B[19;1Hmore');
});

test('belowDrawn: the row after the lowest drawn one, when the cursor is above it (Claude Code\'s input box over its status line)', t => {
	t.is(belowDrawn(['> input', '────', 'status', '', '', ''], 0), '\u001B[4;1H');
});

test('belowDrawn: the row after the cursor, when nothing is drawn below it', t => {
	t.is(belowDrawn(['$ ls', 'file', '$', '', ''], 2), '\u001B[4;1H');
});

test('belowDrawn: on the last row, a line feed there makes room', t => {
	t.is(belowDrawn(['a', 'b', 'c'], 1), '\u001B[3;1H\r\n');
});
