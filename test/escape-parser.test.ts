import test from 'ava';
import {attachedKeys, attachedKeysFrom, attachedPrefix, modifierBits, type AttachedFrom, type AttachedKey, type Key} from '../source/terminal/attached-keys.js';
import {createEscapeParser, type EscapeEvent} from '../source/terminal/escape-parser.js';

/** One step of what the parser produced: bytes for the agent (latin1, one char a byte) or a command. */
type Step = {input: string} | {command: string};

const attachCommands = attachedKeysFrom('command');
const dashboardCommands = attachedKeysFrom('dashboard');

const prefix = '\u001F';
const kittyPrefix = '\u001B[47;5u';

/** The bytes of a string typed on a UTF-8 terminal, as latin1 so each char is one byte. */
function utf8(text: string): string {
	return Buffer.from(text, 'utf8').toString('latin1');
}

function bytes(text: string): Buffer {
	return Buffer.from(text, 'latin1');
}

/** Merges adjacent input events, so results that differ only in how input was chunked compare equal. */
function normalize(events: EscapeEvent[]): Step[] {
	const steps: Step[] = [];
	for (const event of events) {
		if (event.kind === 'command') {
			steps.push({command: event.key});
			continue;
		}

		const text = event.bytes.toString('latin1');
		const last = steps.at(-1);
		if (last && 'input' in last) {
			last.input += text;
		} else if (text.length > 0) {
			steps.push({input: text});
		}
	}

	return steps;
}

function feed(commands: readonly AttachedKey[], chunks: Buffer[]): {steps: Step[]; holding: boolean} {
	const parser = createEscapeParser(commands);
	const events: EscapeEvent[] = [];
	for (const chunk of chunks) {
		events.push(...parser.push(chunk));
	}

	return {steps: normalize(events), holding: parser.holding};
}

/** Every way to cut the bytes in two, and the bytes one at a time. */
function splits(all: Buffer): Array<{name: string; chunks: Buffer[]}> {
	const result: Array<{name: string; chunks: Buffer[]}> = [];
	for (let index = 1; index < all.length; index++) {
		result.push({name: `split at byte ${index}`, chunks: [all.subarray(0, index), all.subarray(index)]});
	}

	result.push({name: 'byte by byte', chunks: [...all].map((_, index) => all.subarray(index, index + 1))});
	return result;
}

type Case = {title: string; keys: string; expected: Step[]; commands?: readonly AttachedKey[]};

const cases: Case[] = [
	// Plain input, untouched.
	{title: 'passes plain text through unchanged', keys: 'hello world', expected: [{input: 'hello world'}]},
	{title: 'passes Ctrl+C (0x03) through to the agent', keys: '\u0003', expected: [{input: '\u0003'}]},
	{title: 'passes a CSI arrow key through unchanged', keys: '\u001B[A', expected: [{input: '\u001B[A'}]},
	{title: 'passes an SS3 arrow key through unchanged', keys: '\u001BOA', expected: [{input: '\u001BOA'}]},
	{title: 'passes Alt-x (ESC x) through unchanged', keys: '\u001Bx', expected: [{input: '\u001Bx'}]},
	{title: 'passes multi-byte UTF-8 through unchanged', keys: utf8('héllo ✓ 日本 😀'), expected: [{input: utf8('héllo ✓ 日本 😀')}]},
	{
		title: 'passes a mix of text, Enter, arrows, Ctrl+C and a bracketed paste through unchanged',
		keys: 'ls -la\r\u001B[A\u001B[1;5C\u0003\u001B[200~pasted\u001B[201~',
		expected: [{input: 'ls -la\r\u001B[A\u001B[1;5C\u0003\u001B[200~pasted\u001B[201~'}],
	},
	{title: 'passes a kitty-encoded key without the prefix through unchanged', keys: '\u001B[100u\u001B[99;5u', expected: [{input: '\u001B[100u\u001B[99;5u'}]},
	{title: 'passes d and k without the prefix through as text', keys: 'dk', expected: [{input: 'dk'}]},

	// The 0x1F prefix.
	{title: 'turns prefix then d into the command d', keys: `${prefix}d`, expected: [{command: 'd'}]},
	{title: 'turns prefix then k into the command k', keys: `${prefix}k`, expected: [{command: 'k'}]},
	{title: 'turns the prefix twice into one literal 0x1F for the agent', keys: `${prefix}${prefix}`, expected: [{input: prefix}]},
	{
		title: 'leaves no prefix pending after a literal prefix, so a following d is text',
		keys: `${prefix}${prefix}d`,
		expected: [{input: `${prefix}d`}],
	},
	{title: 'passes prefix then x through as prefix and x', keys: `${prefix}x`, expected: [{input: `${prefix}x`}]},
	{title: 'passes prefix then Enter through as prefix and Enter', keys: `${prefix}\r`, expected: [{input: `${prefix}\r`}]},
	{title: 'passes prefix then a CSI arrow key through whole', keys: `${prefix}\u001B[A`, expected: [{input: `${prefix}\u001B[A`}]},
	{title: 'passes prefix then an SS3 arrow key through whole', keys: `${prefix}\u001BOA`, expected: [{input: `${prefix}\u001BOA`}]},
	{title: 'treats commands as case-sensitive: prefix then D is passed through', keys: `${prefix}D`, expected: [{input: `${prefix}D`}]},
	{title: 'passes prefix then Ctrl+D (0x04) through', keys: `${prefix}\u0004`, expected: [{input: `${prefix}\u0004`}]},
	{title: 'passes prefix then Ctrl+C through rather than eating it', keys: `${prefix}\u0003`, expected: [{input: `${prefix}\u0003`}]},
	{title: 'passes prefix then a UTF-8 character through whole', keys: `${prefix}${utf8('é')}`, expected: [{input: `${prefix}${utf8('é')}`}]},
	{title: 'runs two commands in a row', keys: `${prefix}d${prefix}k`, expected: [{command: 'd'}, {command: 'k'}]},
	{
		title: 'keeps input before and after a command in order',
		keys: `ab${prefix}dcd`,
		expected: [{input: 'ab'}, {command: 'd'}, {input: 'cd'}],
	},
	{
		title: 'keeps passed-through prefix keys in order with the input around them',
		keys: `a${prefix}xb${prefix}kc`,
		expected: [{input: `a${prefix}xb`}, {command: 'k'}, {input: 'c'}],
	},

	// The kitty keyboard forms of the prefix.
	{title: 'treats kitty CSI 47;5u as the prefix', keys: `${kittyPrefix}d`, expected: [{command: 'd'}]},
	{title: 'treats kitty CSI 47;5:1u (press) as the prefix', keys: '\u001B[47;5:1uk', expected: [{command: 'k'}]},
	{title: 'treats kitty CSI 47;5:2u (repeat) as the prefix', keys: '\u001B[47;5:2ud', expected: [{command: 'd'}]},
	{
		title: 'does not treat kitty CSI 47;5:3u (release) as the prefix',
		keys: '\u001B[47;5:3ud',
		expected: [{input: '\u001B[47;5:3ud'}],
	},
	{
		title: 'swallows the prefix release between the kitty prefix and the command key',
		keys: `${kittyPrefix}\u001B[47;5:3ud`,
		expected: [{command: 'd'}],
	},
	{
		title: 'swallows a kitty release between the 0x1F prefix and the command key',
		keys: `${prefix}\u001B[47;5:3uk`,
		expected: [{command: 'k'}],
	},
	{
		title: 'swallows the prefix release but still passes prefix and another key through',
		keys: `${kittyPrefix}\u001B[47;5:3ux`,
		expected: [{input: `${kittyPrefix}x`}],
	},
	{title: 'turns prefix then kitty d (CSI 100u) into the command d', keys: `${prefix}\u001B[100u`, expected: [{command: 'd'}]},
	{title: 'turns prefix then kitty d (CSI 100;1u) into the command d', keys: `${prefix}\u001B[100;1u`, expected: [{command: 'd'}]},
	{title: 'turns prefix then kitty d press (CSI 100;1:1u) into the command d', keys: `${prefix}\u001B[100;1:1u`, expected: [{command: 'd'}]},
	{title: 'turns kitty prefix then kitty k (CSI 107u) into the command k', keys: `${kittyPrefix}\u001B[107u`, expected: [{command: 'k'}]},
	{
		title: 'passes prefix then kitty Ctrl+d (CSI 100;5u) through with the prefix',
		keys: `${prefix}\u001B[100;5u`,
		expected: [{input: `${prefix}\u001B[100;5u`}],
	},
	{
		title: 'passes kitty prefix then kitty Ctrl+d through with the kitty prefix bytes',
		keys: `${kittyPrefix}\u001B[100;5u`,
		expected: [{input: `${kittyPrefix}\u001B[100;5u`}],
	},
	{title: 'turns the kitty prefix twice into the second prefix as literal input', keys: `${kittyPrefix}${kittyPrefix}`, expected: [{input: kittyPrefix}]},
	{
		title: 'turns kitty prefix then 0x1F into a literal 0x1F',
		keys: `${kittyPrefix}${prefix}`,
		expected: [{input: prefix}],
	},
	{
		title: 'turns 0x1F then the kitty prefix into the kitty prefix as literal input',
		keys: `${prefix}${kittyPrefix}`,
		expected: [{input: kittyPrefix}],
	},
	{
		title: 'passes prefix then a kitty key above U+10FFFF (CSI 1114112u) through with the prefix instead of throwing',
		keys: `${prefix}\u001B[1114112u`,
		expected: [{input: `${prefix}\u001B[1114112u`}],
	},
	{
		title: 'passes kitty prefix then a kitty key with a huge code point through with the kitty prefix bytes',
		keys: `${kittyPrefix}\u001B[99999999999999999999u`,
		expected: [{input: `${kittyPrefix}\u001B[99999999999999999999u`}],
	},
	{
		title: 'passes prefix then the highest code point U+10FFFF (CSI 1114111u) through with the prefix',
		keys: `${prefix}\u001B[1114111u`,
		expected: [{input: `${prefix}\u001B[1114111u`}],
	},
	{
		title: 'still runs a command after a kitty key above U+10FFFF was passed through',
		keys: `${prefix}\u001B[1114112u${prefix}d`,
		expected: [{input: `${prefix}\u001B[1114112u`}, {command: 'd'}],
	},
	{
		title: 'keeps input around a kitty-prefixed command in order',
		keys: `ab${kittyPrefix}\u001B[100ucd`,
		expected: [{input: 'ab'}, {command: 'd'}, {input: 'cd'}],
	},

	// The dashboard's larger command set.
	{title: 'turns prefix then n into the command n with the dashboard keys', keys: `${prefix}n`, expected: [{command: 'n'}], commands: dashboardCommands},
	{title: 'turns prefix then p into the command p with the dashboard keys', keys: `${prefix}p`, expected: [{command: 'p'}], commands: dashboardCommands},
	{title: 'turns prefix then 1 into the command 1 with the dashboard keys', keys: `${prefix}1`, expected: [{command: '1'}], commands: dashboardCommands},
	{title: 'turns prefix then 9 into the command 9 with the dashboard keys', keys: `${prefix}9`, expected: [{command: '9'}], commands: dashboardCommands},
	{title: 'turns prefix then kitty 5 (CSI 53u) into the command 5 with the dashboard keys', keys: `${prefix}\u001B[53u`, expected: [{command: '5'}], commands: dashboardCommands},
	{title: 'keeps d as a command with the dashboard keys', keys: `${kittyPrefix}d`, expected: [{command: 'd'}], commands: dashboardCommands},
	{title: 'passes prefix then 0 through with the dashboard keys', keys: `${prefix}0`, expected: [{input: `${prefix}0`}], commands: dashboardCommands},
	{title: 'passes prefix then n through when n is not a command', keys: `${prefix}n`, expected: [{input: `${prefix}n`}]},
	{title: 'passes prefix then 1 through when 1 is not a command', keys: `${prefix}1`, expected: [{input: `${prefix}1`}]},
];

for (const {title, keys, expected, commands = attachCommands} of cases) {
	test(`escape parser ${title}`, t => {
		const result = feed(commands, [bytes(keys)]);
		t.deepEqual(result.steps, expected);
		t.false(result.holding);
	});

	test(`escape parser ${title}, whichever byte the reads split at`, t => {
		const whole = feed(commands, [bytes(keys)]).steps;
		for (const {name, chunks} of splits(bytes(keys))) {
			const result = feed(commands, chunks);
			t.deepEqual(result.steps, whole, name);
			t.false(result.holding, name);
		}
	});
}

test('escape parser holds a lone ESC and reports holding until flushed', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.push(bytes('\u001B')), []);
	t.true(parser.holding);
	t.deepEqual(normalize(parser.flush()), [{input: '\u001B'}]);
	t.false(parser.holding);
});

test('escape parser holds text before a trailing ESC back only from the ESC on', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(normalize(parser.push(bytes('ab\u001B'))), [{input: 'ab'}]);
	t.true(parser.holding);
	t.deepEqual(normalize(parser.flush()), [{input: '\u001B'}]);
});

test('escape parser holds an unfinished CSI and completes it with the next read', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.push(bytes('\u001B[')), []);
	t.true(parser.holding);
	t.deepEqual(normalize(parser.push(bytes('A'))), [{input: '\u001B[A'}]);
	t.false(parser.holding);
});

test('escape parser flush releases a held unfinished kitty prefix as plain input', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.push(bytes('\u001B[47;5')), []);
	t.true(parser.holding);
	t.deepEqual(normalize(parser.flush()), [{input: '\u001B[47;5'}]);
	t.false(parser.holding);
	// The released bytes did not leave a prefix behind.
	t.deepEqual(normalize(parser.push(bytes('d'))), [{input: 'd'}]);
});

test('escape parser flush with nothing held emits nothing', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.flush(), []);
	t.deepEqual(normalize(parser.push(bytes('abc'))), [{input: 'abc'}]);
	t.deepEqual(parser.flush(), []);
	t.false(parser.holding);
});

test('escape parser flush after a prefix releases a held ESC together with the prefix', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.push(bytes(`${prefix}\u001B`)), []);
	t.true(parser.holding);
	t.deepEqual(normalize(parser.flush()), [{input: `${prefix}\u001B`}]);
	t.deepEqual(normalize(parser.push(bytes('d'))), [{input: 'd'}]);
});

test('escape parser does not emit a lone prefix until the next key', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.push(bytes(prefix)), []);
	t.deepEqual(parser.flush(), []);
	t.deepEqual(normalize(parser.push(bytes('d'))), [{command: 'd'}]);
});

test('escape parser keeps a lone prefix pending across a flush and passes it with the next other key', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.push(bytes(prefix)), []);
	t.deepEqual(parser.flush(), []);
	t.deepEqual(normalize(parser.push(bytes('x'))), [{input: `${prefix}x`}]);
});

test('escape parser keeps a lone kitty prefix pending and sends its bytes with the next other key', t => {
	const parser = createEscapeParser(attachCommands);
	t.deepEqual(parser.push(bytes(kittyPrefix)), []);
	t.false(parser.holding);
	t.deepEqual(normalize(parser.push(bytes('\u001B[B'))), [{input: `${kittyPrefix}\u001B[B`}]);
});

test('escape parser works normally after a flush released held bytes', t => {
	const parser = createEscapeParser(attachCommands);
	parser.push(bytes('\u001B'));
	parser.flush();
	t.deepEqual(normalize(parser.push(bytes(`x${prefix}k`))), [{input: 'x'}, {command: 'k'}]);
});

/** A key as a legacy terminal sends it, and as kitty does (press, then release). */
function legacy(key: Key): string {
	return String.fromCodePoint(key.byte);
}

function kitty(key: Key): string {
	const modifiers = 1 + key.modifiers.reduce((sum, modifier) => sum + modifierBits[modifier], 0);
	return `\u001B[${key.character.codePointAt(0)!};${modifiers}u`;
}

const places: AttachedFrom[] = ['command', 'dashboard'];

test('the attached-keys table: every key\'s byte is what a terminal sends for it (the character itself unless modified)', t => {
	for (const key of [attachedPrefix.key, ...attachedKeys.flatMap(binding => binding.keys)]) {
		if (key.modifiers.length === 0) {
			t.is(key.byte, key.character.codePointAt(0)!, key.character);
		} else {
			t.true(key.byte < 0x20, `${key.character} with ${key.modifiers.join('+')} is a control byte`);
		}
	}
});

test('the attached-keys table: no key does two things in the same place', t => {
	for (const from of places) {
		const seen = attachedKeysFrom(from).flatMap(binding => binding.keys.map(key => key.byte));
		t.is(new Set(seen).size, seen.length, from);
	}
});

for (const from of places) {
	for (const binding of attachedKeysFrom(from)) {
		for (const key of binding.keys) {
			for (const [form, prefix, typed] of [
				['legacy', legacy(attachedPrefix.key), legacy(key)],
				['kitty', kitty(attachedPrefix.key), kitty(key)],
			] as const) {
				test(`escape parser yields the table's ${binding.action} for the prefix then ${binding.label === key.character ? key.character : `${key.character} (${binding.label})`} attached from ${from} (${form} keys)`, t => {
					const events = createEscapeParser(attachedKeysFrom(from)).push(bytes(`a${prefix}${typed}b`));
					if (binding.action === 'literal') {
						t.deepEqual(normalize(events), [{input: `a${typed}b`}], 'the agent gets one prefix');
					} else {
						t.deepEqual(events.filter(event => event.kind === 'command'), [{kind: 'command', action: binding.action, key: key.character}]);
						t.deepEqual(normalize(events), [{input: 'a'}, {command: key.character}, {input: 'b'}]);
					}
				});
			}
		}
	}
}

test('escape parser passes the table\'s keys that do not work where it is attached from through with the prefix', t => {
	const commandKeys = new Set(attachedKeysFrom('command').flatMap(binding => binding.keys.map(key => key.byte)));
	const elsewhere = attachedKeys.flatMap(binding => binding.keys).filter(key => !commandKeys.has(key.byte));
	t.true(elsewhere.length > 0, 'the dashboard has keys moat attach does not');
	for (const key of elsewhere) {
		const typed = `${legacy(attachedPrefix.key)}${legacy(key)}`;
		t.deepEqual(normalize(createEscapeParser(attachedKeysFrom('command')).push(bytes(typed))), [{input: typed}], key.character);
	}
});
