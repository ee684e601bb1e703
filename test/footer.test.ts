import test from 'ava';
import {attachedKeysFrom, attachedPrefix, type AttachedFrom} from '../source/terminal/attached-keys.js';
import {agentSize, footerText, hideFooter, setTitle, showFooter, titleText, type TerminalSize} from '../source/terminal/footer.js';

const saveCursor = '\u001B7';
const restoreCursor = '\u001B8';

const sizes: Array<{title: string; size: TerminalSize; shown: boolean; expected: TerminalSize}> = [
	{title: 'gives the agent one row fewer while the footer is shown', size: {rows: 24, columns: 80}, shown: true, expected: {rows: 23, columns: 80}},
	{title: 'gives the agent the whole terminal while the footer is hidden', size: {rows: 24, columns: 80}, shown: false, expected: {rows: 24, columns: 80}},
	{title: 'takes a row from a three-row terminal', size: {rows: 3, columns: 10}, shown: true, expected: {rows: 2, columns: 10}},
	{title: 'leaves a two-row terminal whole even with the footer shown', size: {rows: 2, columns: 80}, shown: true, expected: {rows: 2, columns: 80}},
	{title: 'leaves a one-row terminal whole even with the footer shown', size: {rows: 1, columns: 80}, shown: true, expected: {rows: 1, columns: 80}},
	{title: 'never changes the columns', size: {rows: 50, columns: 213}, shown: true, expected: {rows: 49, columns: 213}},
];

for (const {title, size, shown, expected} of sizes) {
	test(`agentSize ${title}`, t => {
		t.deepEqual(agentSize(size, shown), expected);
	});
}

/** The text drawn on the footer row: between reverse video on and off. */
function drawnText(sequence: string): string {
	const match = /\u001B\[7m(.*)\u001B\[0m/s.exec(sequence);
	if (!match) {
		throw new Error(`no footer text in ${JSON.stringify(sequence)}`);
	}

	return match[1]!;
}

test('showFooter sets the scroll region, draws reverse video on the last row and restores the cursor', t => {
	t.is(
		showFooter({rows: 24, columns: 20}, 'hello'),
		'\u001B7\u001B[1;23r\u001B[24;1H\u001B[2K\u001B[7mhello               \u001B[0m\u001B8',
	);
});

const regions: Array<{size: TerminalSize; region: string; row: string}> = [
	{size: {rows: 3, columns: 40}, region: '\u001B[1;2r', row: '\u001B[3;1H'},
	{size: {rows: 24, columns: 80}, region: '\u001B[1;23r', row: '\u001B[24;1H'},
	{size: {rows: 100, columns: 300}, region: '\u001B[1;99r', row: '\u001B[100;1H'},
];

for (const {size, region, row} of regions) {
	test(`showFooter at ${size.rows} rows scrolls rows 1 to ${size.rows - 1} and draws on row ${size.rows}`, t => {
		const sequence = showFooter(size, 'run');
		t.true(sequence.includes(region));
		t.true(sequence.includes(`${row}\u001B[2K`));
		t.true(sequence.startsWith(saveCursor));
		t.true(sequence.endsWith(restoreCursor));
		t.true(sequence.indexOf(region) < sequence.indexOf(row));
	});
}

const fits: Array<{title: string; columns: number; text: string; expected: string}> = [
	{title: 'pads short text with spaces to the full width', columns: 10, text: 'abc', expected: 'abc       '},
	{title: 'keeps text exactly as wide as the terminal unchanged', columns: 5, text: 'abcde', expected: 'abcde'},
	{title: 'cuts text one column too wide and ends it with an ellipsis', columns: 5, text: 'abcdef', expected: 'abcd…'},
	{title: 'cuts long text to the width and ends it with an ellipsis', columns: 10, text: 'abcdefghijklmnopqrstuvwxyz', expected: 'abcdefghi…'},
	{title: 'shows only the ellipsis in a one-column terminal', columns: 1, text: 'abc', expected: '…'},
	{title: 'fills an empty text with spaces', columns: 4, text: '', expected: '    '},
];

for (const {title, columns, text, expected} of fits) {
	test(`showFooter ${title}`, t => {
		const drawn = drawnText(showFooter({rows: 24, columns}, text));
		t.is(drawn, expected);
		t.is(drawn.length, columns);
	});
}

for (const rows of [0, 1, 2]) {
	test(`showFooter draws nothing in a ${rows}-row terminal`, t => {
		t.is(showFooter({rows, columns: 80}, 'hello'), '');
	});
}

test('hideFooter resets the scroll region and clears the last line with the cursor saved and restored', t => {
	t.is(hideFooter({rows: 24, columns: 80}), '\u001B7\u001B[r\u001B[24;1H\u001B[2K\u001B8');
});

test('hideFooter clears the last line of a terminal of any height', t => {
	t.true(hideFooter({rows: 60, columns: 10}).includes('\u001B[60;1H\u001B[2K'));
	t.true(hideFooter({rows: 3, columns: 10}).includes('\u001B[3;1H\u001B[2K'));
});

const titles: Array<{title: string; text: string; expected: string}> = [
	{title: 'sets the window title with OSC 2 ended by BEL', text: 'moat · run (run_1) · Ctrl-/ d detach', expected: '\u001B]2;moat · run (run_1) · Ctrl-/ d detach\u0007'},
	{title: 'strips BEL and ESC so text cannot end the title or start a sequence', text: 'a\u0007\u001B]2;pwned\u001B\\b', expected: '\u001B]2;a]2;pwned\\b\u0007'},
	{title: 'strips newlines, tabs and NUL', text: 'a\nb\rc\td\u0000e', expected: '\u001B]2;abcde\u0007'},
	{title: 'strips DEL', text: 'a\u007Fb', expected: '\u001B]2;ab\u0007'},
	{title: 'strips C1 controls U+0080 to U+009F, such as the 8-bit CSI, OSC and ST', text: 'a\u0080b\u009Bc\u009Dd\u009Ce\u009Ff', expected: '\u001B]2;abcdef\u0007'},
	{title: 'keeps U+00A0 and above, just past the C1 controls', text: 'a\u00A0b\u00A9c\u00FF', expected: '\u001B]2;a\u00A0b\u00A9c\u00FF\u0007'},
	{title: 'keeps non-ASCII text', text: 'café ✓', expected: '\u001B]2;café ✓\u0007'},
	{title: 'writes an empty title for empty text', text: '', expected: '\u001B]2;\u0007'},
];

for (const {title, text, expected} of titles) {
	test(`setTitle ${title}`, t => {
		t.is(setTitle(text), expected);
	});
}

test('footerText names the run and its id', t => {
	const text = footerText('fix-tests', 'run_0123456789ab', 'command');
	t.true(text.includes('fix-tests'));
	t.true(text.includes('run_0123456789ab'));
});

test('footerText names the escape prefix and the detach and stop keys', t => {
	const text = footerText('fix-tests', 'run_0123456789ab', 'command');
	t.true(text.includes('Ctrl-/'));
	t.true(text.includes('d detach'));
	t.true(text.includes('k stop'));
});

test('showFooter fits footerText to an 80-column terminal on one line', t => {
	const drawn = drawnText(showFooter({rows: 24, columns: 80}, footerText('fix-tests', 'run_0123456789ab', 'command')));
	t.is(drawn.length, 80);
	t.false(drawn.includes('\n'));
	t.true(drawn.includes('Ctrl-/ d detach'));
});

const places: AttachedFrom[] = ['command', 'dashboard'];

for (const from of places) {
	test(`footerText and titleText attached from ${from} show every attached key with a hint in the table, in its order, after the prefix`, t => {
		const footer = footerText('fix-tests', 'run_0123456789ab', from);
		const title = titleText('fix-tests', from);
		const shown = attachedKeysFrom(from).filter(binding => binding.hint !== undefined).map(binding => `${binding.label} ${binding.hint!}`);
		t.true(shown.length > 0);
		const expected = `${attachedPrefix.label} ${shown.join(' · ')}`;
		t.true(footer.endsWith(` · ${expected}`), footer);
		t.is(title, `moat · fix-tests · ${expected}`);
	});
}

test('footerText attached from moat attach reads as before: detach and stop', t => {
	t.is(footerText('fix-tests', 'run_0123456789ab', 'command'), ' moat · fix-tests (run_0123456789ab) · Ctrl-/ d detach · k stop');
});

test('footerText attached from the dashboard names the way back, stop and switching', t => {
	t.is(footerText('fix-tests', 'run_0123456789ab', 'dashboard'), ' moat · fix-tests (run_0123456789ab) · Ctrl-/ d dashboard · k stop · n next · p previous');
});

test('showFooter shows the whole dashboard footer of a long-named run on one line of a 120-column terminal', t => {
	const drawn = drawnText(showFooter({rows: 24, columns: 120}, footerText('fix-the-flaky-tests', 'run_0123456789ab', 'dashboard')));
	t.is(drawn.length, 120);
	t.true(drawn.includes('Ctrl-/ d dashboard · k stop · n next · p previous'));
});
