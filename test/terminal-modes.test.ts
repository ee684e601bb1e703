import test from 'ava';
import {
	createModeTracker,
	initialModes,
	restoreSequence,
	type OutputPart,
	type TerminalModes,
} from '../source/terminal/terminal-modes.js';

/** Modes with the mouse set as a sorted array, so comparisons show plain values. */
type PlainModes = Omit<TerminalModes, 'mouse'> & {mouse: number[]};

function plain(modes: TerminalModes): PlainModes {
	return {...modes, mouse: [...modes.mouse].sort((a, b) => a - b)};
}

function modesWith(changes: Partial<PlainModes>): PlainModes {
	return {...plain(initialModes), ...changes};
}

function toModes(modes: PlainModes): TerminalModes {
	return {...modes, mouse: new Set(modes.mouse)};
}

function bytes(text: string): Buffer {
	return Buffer.from(text, 'latin1');
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

/**
 * Where the alternate screen switched, as offsets into the whole output:
 * the end of each part whose flag differs from the one before it.
 */
function switchPoints(pushes: OutputPart[][], startAlternate: boolean): Array<{offset: number; alternateScreen: boolean}> {
	const points: Array<{offset: number; alternateScreen: boolean}> = [];
	let offset = 0;
	let current = startAlternate;
	for (const parts of pushes) {
		for (const part of parts) {
			offset += part.bytes.length;
			if (part.alternateScreen !== current) {
				current = part.alternateScreen;
				points.push({offset, alternateScreen: current});
			}
		}
	}

	return points;
}

const allOn: PlainModes = {
	alternateScreen: true,
	mouse: [1000, 1002, 1006],
	bracketedPaste: true,
	cursorHidden: true,
	focusEvents: true,
	kittyKeyboardDepth: 2,
	kittyKeyboardDepthOtherScreen: 1,
};

/** Output that brings a fresh tracker to `allOn`, so that start state is one a real agent can reach. */
const allOnOutput = '\u001B[>1u\u001B[?1049h\u001B[>1u\u001B[>1u\u001B[?1000;1002;1006h\u001B[?2004h\u001B[?25l\u001B[?1004h';

/** Every DEC private mouse mode the tracker follows. */
const trackedMouseModes = [9, 1000, 1001, 1002, 1003, 1005, 1006, 1015, 1016];

type Case = {title: string; output: string; expected: PlainModes; start?: PlainModes};

const cases: Case[] = [
	{title: 'turns the alternate screen on with ?1049h', output: '\u001B[?1049h', expected: modesWith({alternateScreen: true})},
	{title: 'turns the alternate screen off with ?1049l', output: '\u001B[?1049h\u001B[?1049l', expected: modesWith({})},
	{title: 'turns the alternate screen on with ?1047h', output: '\u001B[?1047h', expected: modesWith({alternateScreen: true})},
	{title: 'turns the alternate screen off with ?1047l', output: '\u001B[?1047h\u001B[?1047l', expected: modesWith({})},
	{title: 'turns the alternate screen on with ?47h', output: '\u001B[?47h', expected: modesWith({alternateScreen: true})},
	{title: 'turns the alternate screen off with ?47l', output: '\u001B[?47h\u001B[?47l', expected: modesWith({})},
	{
		title: 'applies every parameter of a combined ?1049;1000h',
		output: '\u001B[?1049;1000h',
		expected: modesWith({alternateScreen: true, mouse: [1000]}),
	},
	{
		title: 'applies every parameter of a combined reset ?1049;1000l',
		output: '\u001B[?1049;1000h\u001B[?1049;1000l',
		expected: modesWith({}),
	},
	{
		title: 'records each mouse mode turned on, including X10 (9) and highlight tracking (1001)',
		output: trackedMouseModes.map(mode => `\u001B[?${mode}h`).join(''),
		expected: modesWith({mouse: trackedMouseModes}),
	},
	{title: 'clears X10 mouse mode 9 turned off', output: '\u001B[?9h\u001B[?1000h\u001B[?9l', expected: modesWith({mouse: [1000]})},
	{title: 'clears highlight mouse mode 1001 turned off', output: '\u001B[?1001;1006h\u001B[?1001l', expected: modesWith({mouse: [1006]})},
	{title: 'clears only the mouse mode turned off', output: '\u001B[?1000;1006h\u001B[?1000l', expected: modesWith({mouse: [1006]})},
	{title: 'clears all mouse modes turned off', output: '\u001B[?1002h\u001B[?1006h\u001B[?1002l\u001B[?1006l', expected: modesWith({})},
	{title: 'turns bracketed paste on with ?2004h', output: '\u001B[?2004h', expected: modesWith({bracketedPaste: true})},
	{title: 'turns bracketed paste off with ?2004l', output: '\u001B[?2004h\u001B[?2004l', expected: modesWith({})},
	{title: 'records the cursor hidden by ?25l', output: '\u001B[?25l', expected: modesWith({cursorHidden: true})},
	{title: 'records the cursor shown again by ?25h', output: '\u001B[?25l\u001B[?25h', expected: modesWith({})},
	{title: 'turns focus events on with ?1004h', output: '\u001B[?1004h', expected: modesWith({focusEvents: true})},
	{title: 'turns focus events off with ?1004l', output: '\u001B[?1004h\u001B[?1004l', expected: modesWith({})},
	{title: 'counts a kitty keyboard push with flags', output: '\u001B[>1u', expected: modesWith({kittyKeyboardDepth: 1})},
	{title: 'counts a kitty keyboard push without flags', output: '\u001B[>u', expected: modesWith({kittyKeyboardDepth: 1})},
	{title: 'counts nested kitty keyboard pushes', output: '\u001B[>1u\u001B[>31u\u001B[>u', expected: modesWith({kittyKeyboardDepth: 3})},
	{title: 'pops one kitty keyboard entry with CSI < u', output: '\u001B[>1u\u001B[>3u\u001B[<u', expected: modesWith({kittyKeyboardDepth: 1})},
	{title: 'pops n kitty keyboard entries with CSI < n u', output: '\u001B[>1u\u001B[>1u\u001B[>1u\u001B[<2u', expected: modesWith({kittyKeyboardDepth: 1})},
	{title: 'never pops the kitty keyboard depth below zero with CSI < u', output: '\u001B[<u', expected: modesWith({})},
	{title: 'never pops the kitty keyboard depth below zero with CSI < n u', output: '\u001B[>1u\u001B[<5u', expected: modesWith({})},
	{
		title: 'sets the main screen\'s kitty entries aside on entering the alternate screen, whose stack starts empty',
		output: '\u001B[>1u\u001B[>1u\u001B[?1049h',
		expected: modesWith({alternateScreen: true, kittyKeyboardDepth: 0, kittyKeyboardDepthOtherScreen: 2}),
	},
	{
		title: 'counts kitty pushes on the alternate screen apart from the main screen\'s',
		output: '\u001B[>1u\u001B[?1049h\u001B[>3u\u001B[>u\u001B[>u',
		expected: modesWith({alternateScreen: true, kittyKeyboardDepth: 3, kittyKeyboardDepthOtherScreen: 1}),
	},
	{
		title: 'pops only the alternate screen\'s kitty entries while on it, never the main screen\'s',
		output: '\u001B[>1u\u001B[>1u\u001B[?1049h\u001B[>1u\u001B[<5u',
		expected: modesWith({alternateScreen: true, kittyKeyboardDepth: 0, kittyKeyboardDepthOtherScreen: 2}),
	},
	{
		title: 'gets the main screen\'s kitty entries back on leaving the alternate screen and sets the alternate screen\'s aside',
		output: '\u001B[>1u\u001B[?1049h\u001B[>1u\u001B[>1u\u001B[?1049l',
		expected: modesWith({kittyKeyboardDepth: 1, kittyKeyboardDepthOtherScreen: 2}),
	},
	{
		title: 'finds the alternate screen\'s kitty entries again on entering it a second time',
		output: '\u001B[>1u\u001B[?1049h\u001B[>1u\u001B[>1u\u001B[?1049l\u001B[?1049h',
		expected: modesWith({alternateScreen: true, kittyKeyboardDepth: 2, kittyKeyboardDepthOtherScreen: 1}),
	},
	{
		title: 'keeps separate kitty stacks across ?1047h',
		output: '\u001B[>1u\u001B[?1047h\u001B[>1u\u001B[>1u',
		expected: modesWith({alternateScreen: true, kittyKeyboardDepth: 2, kittyKeyboardDepthOtherScreen: 1}),
	},
	{
		title: 'swaps the kitty stacks back on ?47l',
		output: '\u001B[>1u\u001B[?47h\u001B[>1u\u001B[>1u\u001B[?47l',
		expected: modesWith({kittyKeyboardDepth: 1, kittyKeyboardDepthOtherScreen: 2}),
	},
	{
		title: 'does not swap the kitty stacks on entering the alternate screen it is already on',
		output: '\u001B[>1u\u001B[?1049h\u001B[>1u\u001B[>1u\u001B[?1047h\u001B[?1049h',
		expected: modesWith({alternateScreen: true, kittyKeyboardDepth: 2, kittyKeyboardDepthOtherScreen: 1}),
	},
	{
		title: 'does not swap the kitty stacks on leaving the alternate screen while on the main screen',
		output: '\u001B[>1u\u001B[?1049l\u001B[?47l',
		expected: modesWith({kittyKeyboardDepth: 1}),
	},
	{
		title: 'swaps the kitty stacks once for a combined ?1049;1047h and once for a combined ?1049;47l',
		output: '\u001B[>1u\u001B[?1049;1047h\u001B[>1u\u001B[>1u\u001B[?1049;47l',
		expected: modesWith({kittyKeyboardDepth: 1, kittyKeyboardDepthOtherScreen: 2}),
	},
	{
		title: 'empties both screens\' kitty stacks on RIS while on the alternate screen',
		output: '\u001B[>1u\u001B[?1049h\u001B[>1u\u001Bc',
		expected: modesWith({}),
	},
	{
		title: 'empties both screens\' kitty stacks on RIS while on the main screen',
		output: '\u001B[>1u\u001B[?1049h\u001B[>1u\u001B[?1049l\u001Bc',
		expected: modesWith({}),
	},
	{
		title: 'resets every mode on RIS (ESC c)',
		output: '\u001B[?1049h\u001B[?1000;1006h\u001B[?2004h\u001B[?25l\u001B[?1004h\u001B[>1u\u001Bc',
		expected: modesWith({}),
	},
	{title: 'resets modes it started with on RIS', output: 'text\u001Bc', expected: modesWith({}), start: allOn},
	{
		title: 'ignores colours, cursor moves, erases, titles and untracked DEC modes',
		output: '\u001B[31mred\u001B[0m\u001B[1;38;5;200m\u001B[10;20H\u001B[2J\u001B[K\u001B[1;23r\u001B[?7h\u001B[?1h\u001B[?12l\u001B]0;title\u0007\u001B=\u001B[?u\u001B[=1;1u plain ?1049h text',
		expected: modesWith({}),
	},
	{
		title: 'leaves modes it started with alone on unrelated sequences',
		output: '\u001B[31mred\u001B[0m\u001B[5A\u001B[2J\u001B[H\u001B[?7l\u001B[?2026h\u001B[?2026l',
		expected: allOn,
		start: allOn,
	},
	{
		title: 'turns off modes it started with when the agent turns them off',
		output: '\u001B[<2u\u001B[?1049l\u001B[<1u\u001B[?1000;1002;1006l\u001B[?2004l\u001B[?25h\u001B[?1004l',
		expected: modesWith({}),
		start: allOn,
	},
];

for (const {title, output, expected, start} of cases) {
	test(`mode tracker ${title}`, t => {
		const tracker = createModeTracker(start ? toModes(start) : undefined);
		tracker.push(bytes(output));
		t.deepEqual(plain(tracker.modes), expected);
	});

	test(`mode tracker ${title}, whichever byte the output splits at`, t => {
		const startAlternate = start?.alternateScreen ?? false;
		const whole = createModeTracker(start ? toModes(start) : undefined);
		const wholePoints = switchPoints([whole.push(bytes(output))], startAlternate);
		for (const {name, chunks} of splits(bytes(output))) {
			const tracker = createModeTracker(start ? toModes(start) : undefined);
			const pushes = chunks.map(chunk => {
				const parts = tracker.push(chunk);
				t.is(Buffer.concat(parts.map(part => part.bytes)).toString('latin1'), chunk.toString('latin1'), `${name}: parts rebuild the chunk`);
				return parts;
			});
			t.deepEqual(plain(tracker.modes), expected, name);
			t.deepEqual(switchPoints(pushes, startAlternate), wholePoints, `${name}: switch points`);
		}
	});
}

type PartsCase = {title: string; output: string; expected: Array<{bytes: string; alternateScreen: boolean}>; start?: PlainModes};

const partsCases: PartsCase[] = [
	{title: 'returns one part on the main screen when nothing switches', output: 'just text\u001B[31m', expected: [{bytes: 'just text\u001B[31m', alternateScreen: false}]},
	{
		title: 'splits right after entering the alternate screen',
		output: 'before\u001B[?1049hafter',
		expected: [
			{bytes: 'before\u001B[?1049h', alternateScreen: true},
			{bytes: 'after', alternateScreen: true},
		],
	},
	{
		title: 'splits right after each switch in and out',
		output: 'main\u001B[?1049hfull\u001B[?1049lmain again',
		expected: [
			{bytes: 'main\u001B[?1049h', alternateScreen: true},
			{bytes: 'full\u001B[?1049l', alternateScreen: false},
			{bytes: 'main again', alternateScreen: false},
		],
	},
	{
		title: 'adds no empty part when the chunk ends with the switch',
		output: 'x\u001B[?47h',
		expected: [{bytes: 'x\u001B[?47h', alternateScreen: true}],
	},
	{
		title: 'splits between two switches back to back',
		output: '\u001B[?1049h\u001B[?1049l',
		expected: [
			{bytes: '\u001B[?1049h', alternateScreen: true},
			{bytes: '\u001B[?1049l', alternateScreen: false},
		],
	},
	{
		title: 'splits after a combined sequence that enters the alternate screen',
		output: 'a\u001B[?1049;1000hb',
		expected: [
			{bytes: 'a\u001B[?1049;1000h', alternateScreen: true},
			{bytes: 'b', alternateScreen: true},
		],
	},
	{
		title: 'does not split on entering the alternate screen it is already on',
		output: 'a\u001B[?1049hb',
		expected: [{bytes: 'a\u001B[?1049hb', alternateScreen: true}],
		start: modesWith({alternateScreen: true}),
	},
	{
		title: 'splits after RIS leaves the alternate screen',
		output: 'a\u001Bcb',
		expected: [
			{bytes: 'a\u001Bc', alternateScreen: false},
			{bytes: 'b', alternateScreen: false},
		],
		start: modesWith({alternateScreen: true}),
	},
	{
		title: 'does not split on mode changes other than the alternate screen',
		output: 'a\u001B[?1000h\u001B[?25lb',
		expected: [{bytes: 'a\u001B[?1000h\u001B[?25lb', alternateScreen: false}],
	},
];

for (const {title, output, expected, start} of partsCases) {
	test(`mode tracker push ${title}`, t => {
		const tracker = createModeTracker(start ? toModes(start) : undefined);
		const parts = tracker.push(bytes(output));
		t.deepEqual(
			parts.map(part => ({bytes: part.bytes.toString('latin1'), alternateScreen: part.alternateScreen})),
			expected,
		);
	});
}

test('mode tracker push flags the part ending a switch split across reads with the new screen', t => {
	const tracker = createModeTracker();
	const first = tracker.push(bytes('text\u001B[?10'));
	t.deepEqual(first.map(part => ({bytes: part.bytes.toString('latin1'), alternateScreen: part.alternateScreen})), [
		{bytes: 'text\u001B[?10', alternateScreen: false},
	]);
	const second = tracker.push(bytes('49hdraw'));
	t.deepEqual(second.map(part => ({bytes: part.bytes.toString('latin1'), alternateScreen: part.alternateScreen})), [
		{bytes: '49h', alternateScreen: true},
		{bytes: 'draw', alternateScreen: true},
	]);
});

test('mode tracker push passes non-UTF-8 and high bytes through unchanged', t => {
	const tracker = createModeTracker();
	const chunk = Buffer.from([0xFF, 0x00, 0x9B, 0xC3, 0xA9, 0x1B, 0x5B, 0x3F, 0x34, 0x37, 0x68, 0x80, 0xE2]);
	const parts = tracker.push(chunk);
	t.true(Buffer.concat(parts.map(part => part.bytes)).equals(chunk));
	t.deepEqual(parts.map(part => part.bytes.length), [11, 2]);
	t.true(tracker.modes.alternateScreen);
});

test('mode tracker push of an empty chunk returns no bytes and changes nothing', t => {
	const tracker = createModeTracker();
	const parts = tracker.push(Buffer.alloc(0));
	t.is(Buffer.concat(parts.map(part => part.bytes)).length, 0);
	t.deepEqual(plain(tracker.modes), plain(initialModes));
});

test('allOn, the start state of several cases, is reached by real output', t => {
	const tracker = createModeTracker();
	tracker.push(bytes(allOnOutput));
	t.deepEqual(plain(tracker.modes), allOn);
});

const mouseResets = trackedMouseModes.map(mode => `\u001B[?${mode}l`);

test('restoreSequence always resets every tracked mouse mode (9 and 1001 too), paste and focus, shows the cursor and resets the scroll region', t => {
	const sequence = restoreSequence(initialModes);
	for (const reset of [...mouseResets, '\u001B[?2004l', '\u001B[?1004l', '\u001B[?25h', '\u001B[r']) {
		t.true(sequence.includes(reset), JSON.stringify(reset));
	}
});

test('restoreSequence pops no kitty keyboard entries when the depth is zero', t => {
	t.false(restoreSequence(initialModes).includes('\u001B[<'));
});

for (const depth of [1, 2, 7]) {
	test(`restoreSequence pops exactly ${depth} kitty keyboard entries at depth ${depth}`, t => {
		const sequence = restoreSequence(toModes(modesWith({kittyKeyboardDepth: depth})));
		t.true(sequence.includes(`\u001B[<${depth}u`));
		t.is(sequence.split('\u001B[<').length - 1, 1);
	});
}

test('restoreSequence leaves the alternate screen only when on it', t => {
	t.true(restoreSequence(toModes(modesWith({alternateScreen: true}))).includes('\u001B[?1049l'));
	t.false(restoreSequence(initialModes).includes('\u001B[?1049l'));
	t.false(restoreSequence(toModes(modesWith({mouse: [1000], bracketedPaste: true, cursorHidden: true, kittyKeyboardDepth: 1}))).includes('\u001B[?1049l'));
});

test('restoreSequence on the alternate screen pops its kitty entries, then leaves it, then pops the main screen\'s', t => {
	const tracker = createModeTracker();
	tracker.push(bytes('\u001B[>1u\u001B[>1u\u001B[?1049h\u001B[>1u\u001B[>1u\u001B[>1u'));
	const sequence = restoreSequence(tracker.modes);
	const popAlternate = sequence.indexOf('\u001B[<3u');
	const leave = sequence.indexOf('\u001B[?1049l');
	const popMain = sequence.indexOf('\u001B[<2u');
	t.true(popAlternate >= 0 && leave >= 0 && popMain >= 0, JSON.stringify(sequence));
	t.true(popAlternate < leave, 'alternate screen popped before leaving it');
	t.true(leave < popMain, 'main screen popped after leaving the alternate screen');
	t.is(sequence.split('\u001B[<').length - 1, 2);
});

test('restoreSequence on the alternate screen pops only the main screen\'s kitty entries when the alternate screen has none', t => {
	const tracker = createModeTracker();
	tracker.push(bytes('\u001B[>1u\u001B[?1049h'));
	const sequence = restoreSequence(tracker.modes);
	t.is(sequence.split('\u001B[<').length - 1, 1);
	t.true(sequence.indexOf('\u001B[?1049l') < sequence.indexOf('\u001B[<1u'));
});

test('restoreSequence on the alternate screen pops no kitty entries when neither screen has any', t => {
	t.false(restoreSequence(toModes(modesWith({alternateScreen: true}))).includes('\u001B[<'));
});

test('restoreSequence resets the scroll region with the cursor saved and restored around it', t => {
	t.true(restoreSequence(initialModes).includes('\u001B7\u001B[r\u001B8'));
});

/** Every subset of the tracked mouse modes. */
function mouseSubsets(): number[][] {
	const subsets: number[][] = [];
	for (let mask = 0; mask < 2 ** trackedMouseModes.length; mask++) {
		subsets.push(trackedMouseModes.filter((_, index) => (mask & (1 << index)) !== 0));
	}

	return subsets;
}

/**
 * The kitty keyboard stacks an agent can leave: entries on the main screen
 * only, or, on the alternate screen, entries on either or both screens.
 */
const kittyStates: Array<{alternateScreen: boolean; kittyKeyboardDepth: number; kittyKeyboardDepthOtherScreen: number}> = [
	...[0, 1, 2, 5].map(depth => ({alternateScreen: false, kittyKeyboardDepth: depth, kittyKeyboardDepthOtherScreen: 0})),
	...[0, 1, 2, 5].flatMap(depth => [0, 1, 3].map(mainDepth => ({alternateScreen: true, kittyKeyboardDepth: depth, kittyKeyboardDepthOtherScreen: mainDepth}))),
];

/** Output that takes a fresh tracker to `modes` for the states above: push on main, enter the alternate screen, push there. */
function outputReaching(modes: PlainModes): string {
	const push = (count: number) => '\u001B[>1u'.repeat(count);
	return [
		modes.mouse.map(mode => `\u001B[?${mode}h`).join(''),
		modes.bracketedPaste ? '\u001B[?2004h' : '',
		modes.cursorHidden ? '\u001B[?25l' : '',
		modes.focusEvents ? '\u001B[?1004h' : '',
		modes.alternateScreen
			? push(modes.kittyKeyboardDepthOtherScreen) + '\u001B[?1049h' + push(modes.kittyKeyboardDepth)
			: push(modes.kittyKeyboardDepth),
	].join('');
}

test('restoreSequence brings a tracker back to the initial modes from any mix of modes reached by real output, with kitty entries on the main screen, the alternate screen or both', t => {
	const failures: string[] = [];
	let checked = 0;
	for (const kitty of kittyStates) {
		for (const bracketedPaste of [false, true]) {
			for (const cursorHidden of [false, true]) {
				for (const focusEvents of [false, true]) {
					for (const mouse of mouseSubsets()) {
						const target = modesWith({...kitty, mouse, bracketedPaste, cursorHidden, focusEvents});
						const tracker = createModeTracker();
						tracker.push(bytes(outputReaching(target)));
						checked++;
						if (JSON.stringify(plain(tracker.modes)) !== JSON.stringify(target)) {
							failures.push(`not reached: ${JSON.stringify(target)}`);
							continue;
						}

						tracker.push(bytes(restoreSequence(tracker.modes)));
						if (JSON.stringify(plain(tracker.modes)) !== JSON.stringify(plain(initialModes))) {
							failures.push(`not restored: ${JSON.stringify(target)}`);
						}
					}
				}
			}
		}
	}

	t.is(checked, 16 * 2 * 2 * 2 * 512);
	t.deepEqual(failures, []);
});

test('restoreSequence undoes what a tracked agent switched on, fed back split byte by byte', t => {
	const tracker = createModeTracker();
	tracker.push(bytes('\u001B[>1u\u001B[?1049h\u001B[?9;1001;1003;1006h\u001B[?2004h\u001B[?25l\u001B[?1004h\u001B[>3u'));
	t.deepEqual(plain(tracker.modes), {
		alternateScreen: true,
		mouse: [9, 1001, 1003, 1006],
		bracketedPaste: true,
		cursorHidden: true,
		focusEvents: true,
		kittyKeyboardDepth: 1,
		kittyKeyboardDepthOtherScreen: 1,
	});
	for (const byte of bytes(restoreSequence(tracker.modes))) {
		tracker.push(Buffer.from([byte]));
	}

	t.deepEqual(plain(tracker.modes), plain(initialModes));
});

const footerDamage: Array<{title: string; sequence: string}> = [
	{title: 'ED below the cursor without a parameter (ESC [ J)', sequence: '\u001B[J'},
	{title: 'ED below the cursor (ESC [ 0 J)', sequence: '\u001B[0J'},
	{title: 'ED of the whole screen (ESC [ 2 J)', sequence: '\u001B[2J'},
	{title: 'ED of the scrollback (ESC [ 3 J)', sequence: '\u001B[3J'},
	{title: 'DECSTBM resetting the scroll region (ESC [ r)', sequence: '\u001B[r'},
	{title: 'DECSTBM setting a scroll region (ESC [ 1 ; 20 r)', sequence: '\u001B[1;20r'},
	{title: 'RIS (ESC c)', sequence: '\u001Bc'},
];

for (const {title, sequence} of footerDamage) {
	test(`mode tracker reports footer damage once after ${title}`, t => {
		const tracker = createModeTracker();
		tracker.push(bytes(`before${sequence}after`));
		t.true(tracker.takeFooterDamage());
		t.false(tracker.takeFooterDamage(), 'taken already');
	});

	test(`mode tracker reports footer damage after ${title}, whichever byte the output splits at`, t => {
		for (const {name, chunks} of splits(bytes(`a${sequence}b`))) {
			const tracker = createModeTracker();
			for (const chunk of chunks) {
				tracker.push(chunk);
			}

			t.true(tracker.takeFooterDamage(), name);
			t.false(tracker.takeFooterDamage(), `${name}: taken already`);
		}
	});
}

const noFooterDamage: Array<{title: string; output: string}> = [
	{title: 'plain text, even with J, r and c in it', output: 'Just run clear? [2J r c'},
	{title: 'colours and attribute resets', output: '\u001B[31mred\u001B[0m\u001B[1;38;5;200mbold\u001B[m'},
	{title: 'erase in line (ESC [ K, ESC [ 2 K)', output: 'a\u001B[Kb\u001B[2Kc'},
	{title: 'ED above the cursor (ESC [ 1 J)', output: 'a\u001B[1Jb'},
	{title: 'cursor moves and tracked mode changes', output: '\u001B[10;20H\u001B[5A\u001B[?25l\u001B[?2004h\u001B[>1u'},
];

for (const {title, output} of noFooterDamage) {
	test(`mode tracker reports no footer damage for ${title}`, t => {
		const tracker = createModeTracker();
		tracker.push(bytes(output));
		t.false(tracker.takeFooterDamage());
	});
}

test('mode tracker reports no footer damage before any output', t => {
	t.false(createModeTracker().takeFooterDamage());
});

test('mode tracker keeps footer damage until it is taken, across later harmless output', t => {
	const tracker = createModeTracker();
	tracker.push(bytes('\u001B[2J'));
	tracker.push(bytes('text\u001B[31m'));
	t.true(tracker.takeFooterDamage());
	t.false(tracker.takeFooterDamage());
});

test('mode tracker reports footer damage again for new damage after it was taken', t => {
	const tracker = createModeTracker();
	tracker.push(bytes('\u001B[r'));
	t.true(tracker.takeFooterDamage());
	tracker.push(bytes('text'));
	t.false(tracker.takeFooterDamage());
	tracker.push(bytes('\u001Bc'));
	t.true(tracker.takeFooterDamage());
});
