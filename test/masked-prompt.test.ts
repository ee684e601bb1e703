import test from 'ava';
import {typeIntoMaskedLine, type MaskedLine} from '../source/terminal/masked-prompt.js';

const empty: MaskedLine = {text: '', done: false, cancelled: false};

function typed(text: string): MaskedLine {
	return {text, done: false, cancelled: false};
}

/** Feeds each key (one string each, as the prompt does per code point) to the reducer. */
function type(keys: readonly string[], from: MaskedLine = empty): MaskedLine {
	return keys.reduce(typeIntoMaskedLine, from);
}

const enter = '\r';
const newline = '\n';
const controlC = '\u0003';
const controlD = '\u0004';
const controlU = '\u0015';
const delete_ = '\u007F';
const backspace = '\b';
const escape = '\u001B';
const tab = '\t';

/** [what it proves, keys, the resulting line]. */
const cases: Array<[string, string[], MaskedLine]> = [
	['printable characters are appended', ['a', 'b', 'C', '1', '-', '_'], typed('abC1-_')],
	['a space is text', ['a', ' ', 'b'], typed('a b')],
	['non-ASCII letters are text', ['é', 'ß', 'ж'], typed('éßж')],
	['DEL deletes the last character', ['a', 'b', delete_], typed('a')],
	['backspace (Ctrl+H) deletes the last character', ['a', 'b', backspace], typed('a')],
	['DEL on an empty line leaves it empty and open', [delete_], empty],
	['backspace on an empty line leaves it empty and open', [backspace, backspace], empty],
	['more deletes than characters leave it empty', ['a', delete_, delete_, 'b'], typed('b')],
	['Ctrl+U clears the line', ['a', 'b', 'c', controlU], empty],
	['typing after Ctrl+U starts afresh', ['a', controlU, 'x'], typed('x')],
	['Enter finishes the line', ['t', 'o', 'k', enter], {text: 'tok', done: true, cancelled: false}],
	['a newline finishes the line', ['t', newline], {text: 't', done: true, cancelled: false}],
	['Enter on an empty line finishes it empty', [enter], {text: '', done: true, cancelled: false}],
	['Ctrl+C cancels an empty line', [controlC], {text: '', done: false, cancelled: true}],
	['Ctrl+C cancels a line with text', ['a', controlC], {text: 'a', done: false, cancelled: true}],
	['Ctrl+D cancels an empty line', [controlD], {text: '', done: false, cancelled: true}],
	['Ctrl+D on a line with text does nothing', ['a', controlD], typed('a')],
	['Ctrl+D after Ctrl+U cancels', ['a', controlU, controlD], {text: '', done: false, cancelled: true}],
	['escape is ignored', ['a', escape, 'b'], typed('ab')],
	['tab is ignored', [tab, 'a'], typed('a')],
	['NUL and other control characters are ignored', ['\u0000', '\u0001', '\u0007', '\u001F', 'x'], typed('x')],
	['an emoji is one character to delete', ['a', '🔑', delete_], typed('a')],
	['an emoji is deleted whole, not half a surrogate pair', ['🔑', '🗝', delete_], typed('🔑')],
	['a pasted multi-character chunk is text', ['ghp_abc'], typed('ghp_abc')],
	['keys after Enter change nothing', ['a', enter, 'b', delete_, controlU, controlC], {text: 'a', done: true, cancelled: false}],
	['keys after Ctrl+C change nothing', ['a', controlC, 'b', enter], {text: 'a', done: false, cancelled: true}],
	['keys after Ctrl+D change nothing', [controlD, 'b', enter], {text: '', done: false, cancelled: true}],
];

for (const [label, keys, expected] of cases) {
	test(`masked line: ${label}`, t => {
		t.deepEqual(type(keys), expected);
	});
}

test('a finished or cancelled line is returned as the same object for every key', t => {
	const finished: MaskedLine[] = [
		{text: 'abc', done: true, cancelled: false},
		{text: 'abc', done: false, cancelled: true},
	];
	for (const line of finished) {
		for (const key of ['x', enter, newline, controlC, controlD, controlU, delete_, backspace, escape, '🔑']) {
			t.is(typeIntoMaskedLine(line, key), line);
		}
	}
});

test('the reducer never changes the line it is given', t => {
	const line = typed('abc');
	const copy = {...line};
	for (const key of ['x', enter, controlC, controlD, controlU, delete_]) {
		typeIntoMaskedLine(line, key);
	}

	t.deepEqual(line, copy);
});

for (const emoji of ['👍🏽', '👨‍👩‍👧', '🇫🇷']) {
	test(`backspace deletes the whole multi-code-point character ${emoji}`, t => {
		let line: MaskedLine = {text: '', done: false, cancelled: false};
		for (const character of `a${emoji}`) {
			line = typeIntoMaskedLine(line, character);
		}

		t.is(typeIntoMaskedLine(line, '\u007F').text, 'a');
	});
}
