import test from 'ava';
import {printable, printableJson} from '../source/text/printable.js';

const cases: Array<{title: string; text: string; expected: string; lines?: string}> = [
	{title: 'leaves plain text, accents, emoji and U+00A0 as they are', text: 'café 🔑 a\u00A0b ключ', expected: 'café 🔑 a\u00A0b ключ'},
	{title: 'shows ESC as \\x1b, so an OSC 52 clipboard write is inert text', text: '\u001B]52;c;aGk=\u0007', expected: String.raw`\x1b]52;c;aGk=\x07`},
	{title: 'shows every C0 control', text: '\u0000\u0001\u0008\u000B\u000C\u000E\u001F', expected: String.raw`\x00\x01\x08\x0b\x0c\x0e\x1f`},
	{title: 'shows line feed, carriage return and tab by name', text: 'a\nb\rc\td', expected: String.raw`a\nb\rc\td`, lines: 'a\nb\\rc\td'},
	{title: 'shows DEL', text: 'a\u007Fb', expected: String.raw`a\x7fb`},
	{title: 'shows the C1 controls U+0080 to U+009F, the 8-bit CSI among them', text: '\u0080\u0085\u009B\u009D\u009F', expected: String.raw`\x80\x85\x9b\x9d\x9f`},
	{title: 'shows the bidi overrides and embeddings U+202A to U+202E', text: 'a\u202Ab\u202Bc\u202Cd\u202De\u202Ef', expected: String.raw`a\u202ab\u202bc\u202cd\u202de\u202ef`},
	{title: 'shows the bidi isolates U+2066 to U+2069', text: '\u2066\u2067\u2068\u2069', expected: String.raw`\u2066\u2067\u2068\u2069`},
	{title: 'shows the bidi marks and the line and paragraph separators', text: '\u200E\u200F\u061C\u2028\u2029', expected: String.raw`\u200e\u200f\u061c\u2028\u2029`},
	{title: 'is idempotent: escaped text stays as it is', text: String.raw`\x1b[2J`, expected: String.raw`\x1b[2J`},
];

for (const {title, text, expected, lines} of cases) {
	test(`printable ${title}`, t => {
		const shown = printable(text);
		t.is(shown, expected);
		t.false(/[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/.test(shown));
		t.is(printable(text, {lineBreaks: true}), lines ?? expected);
	});
}

test('printable with lineBreaks keeps line feeds and tabs and nothing else', t => {
	t.is(printable('moat: bad \u001B[31mred\u001B[0m\n\tnext\r', {lineBreaks: true}), 'moat: bad \\x1b[31mred\\x1b[0m\n\tnext\\r');
});

test('printableJson writes DEL, C1 and bidi controls as JSON escapes and parses back to the same value', t => {
	const value = {name: 'a\u001B]52;c;x\u0007b', error: 'c\u009Bd\u202Ee\u007F', list: ['\u2066']};
	const text = printableJson(value);
	t.false(/[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/.test(text));
	t.true(text.includes(String.raw`\u009b`));
	t.true(text.includes(String.raw`\u202e`));
	t.deepEqual(JSON.parse(text), value);
});
