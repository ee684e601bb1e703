import test from 'ava';
import {
	dashboardReducer,
	initialDashboardState,
	selectedRun,
	visibleRuns,
	type DashboardEvent,
	type DashboardState,
	type RunRow,
} from '../components/dashboard-reducer.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';
import {actionFor, keyBindings, type DashboardAction, type KeyFocus, type KeyInfo} from '../components/key-bindings.js';

function row(overrides: Partial<RunMetadata & {requests: number; blocked: number}> & Pick<RunMetadata, 'id' | 'name'>): RunRow {
	return {
		workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, state: 'stopped', interactive: false, keep: false, createdAt: '2026-11-22T11:00:00.000Z',
		startedAt: null, stoppedAt: null, exitCode: null, error: null, stopRequested: false, ...overrides,
	};
}

const alpha = row({id: 'run_000000000001', name: 'alpha', agent: 'claude', state: 'running'});
const bravo = row({id: 'run_000000000002', name: 'bravo', agent: 'codex', grants: ['github'], exitCode: 0});
const charlie = row({id: 'run_000000000003', name: 'charlie', state: 'running', activity: {state: 'waiting', at: '2026-11-22T11:30:00.000Z'}});
const runs = [alpha, bravo, charlie];

/** Keys as Ink reports them (uppercase letters come with shift, as Ink sets it). */
const namedKeys: Record<string, {input: string; key: KeyInfo}> = {
	enter: {input: '', key: {return: true}},
	esc: {input: '', key: {escape: true}},
	tab: {input: '', key: {tab: true}},
	'shift-tab': {input: '', key: {tab: true, shift: true}},
	backspace: {input: '', key: {backspace: true}},
	delete: {input: '', key: {delete: true}},
	down: {input: '', key: {downArrow: true}},
	up: {input: '', key: {upArrow: true}},
	'ctrl-u': {input: 'u', key: {ctrl: true}},
	'ctrl-x': {input: 'x', key: {ctrl: true}},
};

const focusOf = (state: DashboardState): KeyFocus => (state.filtering ? 'filter' : state.focus);

function key(name: string): DashboardEvent {
	const named = namedKeys[name];
	return named ? {type: 'key', ...named} : {type: 'key', input: name, key: /^[A-Z]$/.test(name) ? {shift: true} : {}};
}

/** Several keys arriving together: each one sees the state the previous one left. */
function press(state: DashboardState, ...names: string[]): DashboardState {
	return names.map(name => key(name)).reduce(dashboardReducer, state);
}

function loaded(options: Parameters<typeof initialDashboardState>[0] = {}, list: RunRow[] = runs): DashboardState {
	return dashboardReducer(initialDashboardState(options), {type: 'runs', runs: list});
}

const inTable: DashboardState = {...loaded({selectedId: bravo.id}), pane: 'logs'};
const inPane: DashboardState = {...inTable, focus: 'pane', pane: 'logs', offset: 2, follow: false, paneLines: 10, paneTotal: 10};
const following: DashboardState = {...inPane, offset: 0, follow: true};
const inNetwork: DashboardState = {...inPane, pane: 'network'};
const inAudit: DashboardState = {...inPane, pane: 'audit'};
const filtering: DashboardState = {...inTable, filtering: true, filter: 'br', selectedIndex: 0};
const starts = {inTable, inPane, following, inNetwork, inAudit, filtering} as const;

type KeyCase = {from: keyof typeof starts; press: string; action: DashboardAction | undefined; change: Partial<DashboardState>};

/** What one key does from each starting point: the change, and nothing else. */
const keyCases: KeyCase[] = [
	{from: 'inTable', press: 'j', action: 'down', change: {selectedId: charlie.id, selectedIndex: 2}},
	{from: 'inTable', press: 'down', action: 'down', change: {selectedId: charlie.id, selectedIndex: 2}},
	{from: 'inTable', press: 'k', action: 'up', change: {selectedId: alpha.id, selectedIndex: 0}},
	{from: 'inTable', press: 'up', action: 'up', change: {selectedId: alpha.id, selectedIndex: 0}},
	{from: 'inTable', press: 'g', action: 'first', change: {selectedId: alpha.id, selectedIndex: 0}},
	{from: 'inTable', press: 'G', action: 'last', change: {selectedId: charlie.id, selectedIndex: 2}},
	{from: 'inTable', press: 'enter', action: 'attach', change: {effects: [{kind: 'attach', id: bravo.id}]}},
	{from: 'inTable', press: 'n', action: 'new', change: {effects: [{kind: 'new'}]}},
	{from: 'inTable', press: 's', action: 'stop', change: {effects: [{kind: 'stop', id: bravo.id}]}},
	{from: 'inTable', press: 'x', action: 'destroy', change: {confirmDestroy: bravo.id}},
	// From the table, tab opens the pane last shown (Logs here), not the next one.
	{from: 'inTable', press: 'tab', action: 'panes', change: {focus: 'pane', pane: 'logs'}},
	{from: 'inTable', press: 'shift-tab', action: undefined, change: {}},
	{from: 'inTable', press: 'esc', action: undefined, change: {}},
	{from: 'inTable', press: '/', action: 'filter', change: {filtering: true}},
	{from: 'inTable', press: 'f', action: undefined, change: {}},
	{from: 'inTable', press: 'a', action: undefined, change: {}},
	{from: 'inTable', press: 'c', action: 'grants', change: {effects: [{kind: 'grants'}]}},
	{from: 'inTable', press: '?', action: 'help', change: {help: true}},
	{from: 'inTable', press: 'q', action: 'quit', change: {effects: [{kind: 'quit'}]}},
	{from: 'inTable', press: 'z', action: undefined, change: {}},
	// In a pane, j/k scroll it (offset counts lines above the newest) and never move the selection.
	{from: 'inPane', press: 'j', action: 'down', change: {offset: 1}},
	{from: 'inPane', press: 'down', action: 'down', change: {offset: 1}},
	{from: 'inPane', press: 'k', action: 'up', change: {offset: 3}},
	{from: 'inPane', press: 'up', action: 'up', change: {offset: 3}},
	{from: 'inPane', press: 'g', action: 'first', change: {offset: 9}},
	{from: 'inPane', press: 'G', action: 'last', change: {offset: 0, follow: true}},
	{from: 'following', press: 'k', action: 'up', change: {offset: 1, follow: false}},
	{from: 'following', press: 'j', action: 'down', change: {}},
	{from: 'inPane', press: 'enter', action: undefined, change: {}},
	{from: 'inPane', press: 'n', action: undefined, change: {}},
	{from: 'inPane', press: 's', action: undefined, change: {}},
	{from: 'inPane', press: 'x', action: undefined, change: {}},
	{from: 'inPane', press: '/', action: undefined, change: {}},
	{from: 'inPane', press: 'c', action: undefined, change: {}},
	{from: 'inPane', press: 'tab', action: 'panes', change: {pane: 'network', offset: 0, follow: true}},
	{from: 'inAudit', press: 'tab', action: 'panes', change: {pane: 'preview', offset: 0, follow: true}},
	{from: 'inPane', press: 'shift-tab', action: 'back', change: {focus: 'table'}},
	{from: 'inPane', press: 'esc', action: 'back', change: {focus: 'table'}},
	{from: 'inPane', press: 'f', action: 'follow', change: {follow: true, offset: 0}},
	{from: 'following', press: 'f', action: 'follow', change: {follow: false}},
	// a only means something in the Network pane.
	{from: 'inPane', press: 'a', action: 'allow', change: {}},
	{from: 'inNetwork', press: 'a', action: 'allow', change: {effects: [{kind: 'allow', id: bravo.id}]}},
	{from: 'inPane', press: '?', action: 'help', change: {help: true}},
	{from: 'inPane', press: 'q', action: 'quit', change: {effects: [{kind: 'quit'}]}},
	// Typing a filter, every key is text but these.
	{from: 'filtering', press: 'enter', action: 'keep-filter', change: {filtering: false}},
	{from: 'filtering', press: 'esc', action: 'clear-filter', change: {filtering: false, filter: '', selectedIndex: 1}},
	{from: 'filtering', press: 'ctrl-u', action: 'erase-filter', change: {filter: '', selectedIndex: 0, selectedId: alpha.id, offset: 0, follow: true}},
	{from: 'filtering', press: 'a', action: undefined, change: {filter: 'bra', selectedIndex: 0, offset: 0, follow: true}},
	{from: 'filtering', press: 'q', action: undefined, change: {filter: 'brq', selectedId: undefined, selectedIndex: 0, offset: 0, follow: true}},
	{from: 'filtering', press: 'backspace', action: undefined, change: {filter: 'b', selectedIndex: 0, offset: 0, follow: true}},
];

for (const keyCase of keyCases) {
	test(`${keyCase.press} ${keyCase.from}: ${keyCase.action ?? 'no action'}, ${JSON.stringify(keyCase.change)}`, t => {
		const start = starts[keyCase.from];
		const {input, key: info} = key(keyCase.press) as Extract<DashboardEvent, {type: 'key'}>;
		t.is(actionFor(input, info, focusOf(start)), keyCase.action);
		t.deepEqual(dashboardReducer(start, key(keyCase.press)), {...start, ...keyCase.change});
	});
}

test('the key table above tries every binding in every focus it belongs to', t => {
	for (const binding of keyBindings) {
		for (const focus of binding.focus) {
			t.true(keyCases.some(keyCase => keyCase.action === binding.action && focusOf(starts[keyCase.from]) === focus), `${binding.action} in ${focus}`);
		}
	}
});

test('no key means two things in the same focus', t => {
	const samples = [
		...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?'.split('').map(input => ({input, key: {}})),
		...Object.values(namedKeys),
	];
	for (const focus of ['table', 'pane', 'filter'] as const satisfies readonly KeyFocus[]) {
		for (const sample of samples) {
			const matching = keyBindings.filter(binding => binding.focus.includes(focus) && binding.matches(sample.input, sample.key)).map(binding => binding.action);
			t.true(matching.length <= 1, `${JSON.stringify(sample)} in ${focus}: ${matching.join(', ')}`);
		}
	}
});

test('keys arriving together each act on the state the previous one left', t => {
	const state = press(loaded(), 'j', 'j', 'k', 's', 'G', 'enter');
	t.deepEqual(state.effects, [{kind: 'stop', id: bravo.id}, {kind: 'attach', id: charlie.id}]);
	t.is(state.selectedId, charlie.id);
});

/** One read from the terminal: Ink hands several keys typed together over as one string. */
const chunk = (input: string): DashboardEvent => ({type: 'key', input, key: {}});

test('a filter and its enter typed in one read keep the filter, and the next enter attaches to the run it found', t => {
	const typed = dashboardReducer(press(loaded(), '/'), chunk('brav\r'));
	t.deepEqual({filtering: typed.filtering, filter: typed.filter, selectedId: typed.selectedId}, {filtering: false, filter: 'brav', selectedId: bravo.id});
	t.deepEqual(press(typed, 'enter').effects, [{kind: 'attach', id: bravo.id}]);
	// The slash can come in the same read too.
	const whole = dashboardReducer(loaded(), chunk('/char\r'));
	t.deepEqual({filtering: whole.filtering, filter: whole.filter, selectedId: whole.selectedId}, {filtering: false, filter: 'char', selectedId: charlie.id});
});

test('a chunk never goes past the end of its filter: what follows the enter is dropped, not acted on', t => {
	const state = dashboardReducer(loaded(), chunk('/alp\r\rsq'));
	t.deepEqual({filtering: state.filtering, filter: state.filter, effects: state.effects}, {filtering: false, filter: 'alp', effects: []});
	// A chunk that is no filter is still one unknown key.
	t.deepEqual(dashboardReducer(loaded(), chunk('sq')), loaded());
});

test('control characters never become part of the filter', t => {
	const state = dashboardReducer(press(loaded(), '/'), chunk('a\u001Bb\u0007c'));
	t.is(state.filter, 'abc');
	t.true(state.filtering);
});

test('what an action said goes at the next key or when its time is up; work in progress stays until it is done', t => {
	const said = dashboardReducer(loaded(), {type: 'status', text: 'Allowing evil.example for bravo: done.'});
	t.is(press(said, 'j').status, undefined, 'the next key takes it away');
	t.is(dashboardReducer(said, {type: 'status-expired', serial: said.statusSerial}).status, undefined, 'so does its time');
	const newer = dashboardReducer(said, {type: 'status', text: 'Stopping bravo…', lasts: true});
	t.is(dashboardReducer(newer, {type: 'status-expired', serial: said.statusSerial}).status, 'Stopping bravo…', 'an older timer does not take a newer line');
	t.is(press(newer, 'j').status, 'Stopping bravo…', 'work in progress stays');
	t.is(dashboardReducer(newer, {type: 'status-expired', serial: newer.statusSerial}).status, 'Stopping bravo…');
	t.is(press(loaded(), 'x', 'n').status, 'Nothing destroyed.', 'what a key says is shown after it');
});

test('tab pressed repeatedly opens the pane, then cycles Preview, Logs, Network, Audit and round again', t => {
	const seen: string[] = [];
	let state = loaded();
	for (let count = 0; count < 5; count++) {
		state = press(state, 'tab');
		seen.push(`${state.focus}:${state.pane}`);
	}

	t.deepEqual(seen, ['pane:preview', 'pane:logs', 'pane:network', 'pane:audit', 'pane:preview']);
	t.is(press(state, 'esc').focus, 'table');
	t.is(press(state, 'esc').pane, 'preview', 'the pane is remembered for the next tab');
});

test('moving the selection in the table resets the pane to follow its newest line', t => {
	const scrolled = press(dashboardReducer(press(loaded(), 'tab'), {type: 'pane-lines', lines: 10, total: 10}), 'k', 'k', 'esc');
	t.deepEqual({offset: scrolled.offset, follow: scrolled.follow}, {offset: 2, follow: false});
	const moved = press(scrolled, 'j');
	t.deepEqual({selectedId: moved.selectedId, offset: moved.offset, follow: moved.follow}, {selectedId: bravo.id, offset: 0, follow: true});
});

test('the selection stays on the same run when the runs come back in another order', t => {
	const state = loaded({selectedId: bravo.id});
	const next = dashboardReducer(state, {type: 'runs', runs: [bravo, charlie, alpha]});
	t.is(next.selectedId, bravo.id);
	t.is(next.selectedIndex, 0);
	t.is(press(next, 'j').selectedId, charlie.id, 'j moves from where the run is now');
});

test('when the selected run disappears its neighbour takes over, and the last run falls back to the one above', t => {
	const middleGone = dashboardReducer(loaded({selectedId: bravo.id}), {type: 'runs', runs: [alpha, charlie]});
	t.deepEqual([middleGone.selectedId, middleGone.selectedIndex], [charlie.id, 1]);
	const lastGone = dashboardReducer(loaded({selectedId: charlie.id}), {type: 'runs', runs: [alpha, bravo]});
	t.deepEqual([lastGone.selectedId, lastGone.selectedIndex], [bravo.id, 1]);
	const allGone = dashboardReducer(lastGone, {type: 'runs', runs: []});
	t.deepEqual([allGone.selectedId, allGone.selectedIndex], [undefined, 0]);
	t.deepEqual(press(allGone, 'enter', 's', 'x').effects, [], 'with no run, enter, s and x do nothing');
	t.is(press(allGone, 'x').confirmDestroy, undefined);
	const back = dashboardReducer(allGone, {type: 'runs', runs});
	t.is(back.selectedId, alpha.id);
});

test('a selection asked for before the runs are read is kept when they arrive', t => {
	const state = initialDashboardState({selectedId: charlie.id, pane: 'network', status: 'Detached from charlie.'});
	t.is(selectedRun(state).run, undefined);
	const next = dashboardReducer(state, {type: 'runs', runs});
	t.deepEqual([next.selectedId, next.selectedIndex, next.pane, next.status], [charlie.id, 2, 'network', 'Detached from charlie.']);
});

test('the filter matches name, id, agent (shell for none), state and grant; every word must match', t => {
	const cases: Array<[string, string[]]> = [
		['', ['alpha', 'bravo', 'charlie']],
		['ALPHA', ['alpha']],
		['000000000002', ['bravo']],
		['shell', ['charlie']],
		['waiting', ['charlie']],
		['running', ['alpha']],
		['github', ['bravo']],
		['codex github', ['bravo']],
		['claude github', []],
	];
	for (const [filter, names] of cases) {
		t.deepEqual(visibleRuns({runs, filter}).map(run => run.name), names, filter);
	}
});

test('typing a filter narrows the runs and selects the first match; backspace, delete and ctrl-u edit it', t => {
	const typed = press(loaded(), '/', 'c', 'h');
	t.deepEqual([typed.filter, typed.filtering, typed.selectedId], ['ch', true, charlie.id]);
	t.deepEqual(visibleRuns(typed).map(run => run.name), ['charlie']);
	t.is(press(typed, 'backspace').filter, 'c');
	t.is(press(typed, 'delete').filter, 'c');
	t.is(press(typed, 'ctrl-u').filter, '');
	t.is(press(typed, 'ctrl-x').filter, 'ch', 'other control keys are not text');
});

test('while filtering, command keys are text: q, j, s and ? neither quit, move, stop nor open help', t => {
	const state = press(loaded(), '/', 'q', 'j', 's', '?');
	t.is(state.filter, 'qjs?');
	t.deepEqual(state.effects, []);
	t.false(state.help);
	t.true(state.filtering);
});

test('enter keeps the filter and acts on the filtered runs; esc while typing drops it', t => {
	const kept = press(loaded(), '/', 'b', 'r', 'a', 'enter');
	t.deepEqual([kept.filter, kept.filtering], ['bra', false]);
	t.deepEqual(press(kept, 's').effects, [{kind: 'stop', id: bravo.id}]);
	const dropped = press(loaded(), '/', 'b', 'r', 'esc');
	t.deepEqual([dropped.filter, dropped.filtering], ['', false]);
	t.is(visibleRuns(dropped).length, 3);
	t.is(dropped.selectedId, bravo.id, 'the run found stays selected once the filter is gone');
});

test('esc in the table clears a kept filter and keeps the run the filter found selected', t => {
	const kept = press(loaded(), '/', 'c', 'h', 'a', 'r', 'enter');
	t.is(kept.selectedId, charlie.id);
	const cleared = press(kept, 'esc');
	t.is(cleared.filter, '');
	t.is(cleared.selectedId, charlie.id);
	t.is(selectedRun(cleared).index, 2);
});

test('runs arriving while a filter hides the selected run select the first match', t => {
	const state = press(loaded(), '/', 'c', 'l', 'a', 'u', 'd', 'e', 'enter');
	t.is(state.selectedId, alpha.id);
	const next = dashboardReducer(state, {type: 'runs', runs: [bravo, charlie]});
	t.deepEqual(visibleRuns(next), []);
	t.is(next.selectedId, undefined);
	t.deepEqual(press(next, 'enter', 's').effects, []);
});

test('x asks first: y destroys the run asked about, any other key keeps it and says so', t => {
	const asked = press(loaded({selectedId: bravo.id}), 'x');
	t.is(asked.confirmDestroy, bravo.id);
	t.deepEqual(press(asked, 'y').effects, [{kind: 'destroy', id: bravo.id}]);
	t.is(press(asked, 'y').confirmDestroy, undefined);
	for (const other of ['n', 'q', 'esc', 'Y', 'enter']) {
		const kept = press(asked, other);
		t.deepEqual([kept.effects, kept.confirmDestroy, kept.status], [[], undefined, 'Nothing destroyed.'], other);
	}
});

test('the help overlay closes on any key without acting on it, except q which still quits', t => {
	const open = press(loaded(), '?');
	const afterJ = press(open, 'j');
	t.deepEqual([afterJ.help, afterJ.selectedId], [false, alpha.id]);
	t.false(press(open, '?').help);
	t.deepEqual(press(open, 's').effects, []);
	t.deepEqual(press(open, 'q').effects, [{kind: 'quit'}]);
	t.false(press(open, 'q').help);
});

test('space goes round the help overlay\'s pages, the first after the last; with one page it closes like any other key', t => {
	const open = dashboardReducer(press(loaded(), '?'), {type: 'help-pages', count: 3});
	t.deepEqual([1, 2, 3, 4].map(spaces => press(open, ...Array.from({length: spaces}, () => ' ')).helpPage), [1, 2, 0, 1]);
	t.true(press(open, ' ', ' ', ' ').help);
	const next = press(open, ' ', 'j');
	t.deepEqual([next.help, next.selectedId], [false, alpha.id]);
	t.is(press(next, '?').helpPage, 0, 'the overlay opens on its first page');
	t.false(press(dashboardReducer(open, {type: 'help-pages', count: 1}), ' ').help);
	// A resize to fewer pages than the one shown: the last one stands in for it.
	t.is(dashboardReducer(press(open, ' ', ' '), {type: 'help-pages', count: 2}).helpPage, 1);
});

test('effects queue in order and taken removes only the ones carried out', t => {
	const queued = press(loaded(), 's', 'j', 's', 'c');
	t.deepEqual(queued.effects, [{kind: 'stop', id: alpha.id}, {kind: 'stop', id: bravo.id}, {kind: 'grants'}]);
	const taken = dashboardReducer(queued, {type: 'taken', count: 2});
	t.deepEqual(taken.effects, [{kind: 'grants'}]);
	const more = press(taken, 'n');
	t.deepEqual(more.effects, [{kind: 'grants'}, {kind: 'new'}]);
	t.deepEqual(dashboardReducer(more, {type: 'taken', count: 2}).effects, []);
});

test('a request from outside the keys (the dialog asking for the grant wizard) queues its effect after the others', t => {
	const state = dashboardReducer(press(loaded(), 's'), {type: 'request', effect: {kind: 'grants'}});
	t.deepEqual(state.effects, [{kind: 'stop', id: alpha.id}, {kind: 'grants'}]);
});

test('status events set and clear the status line', t => {
	const set = dashboardReducer(loaded(), {type: 'status', text: 'Stopping alpha…'});
	t.is(set.status, 'Stopping alpha…');
	t.is(dashboardReducer(set, {type: 'status', text: undefined}).status, undefined);
});

test('the reducer does not change the state it is given', t => {
	const state = loaded();
	const copy = structuredClone(state);
	press(state, 's', 'x', 'y', '/', 'a', 'enter', 'tab', 'k');
	dashboardReducer(state, {type: 'runs', runs: [charlie]});
	t.deepEqual(state, copy);
});

test('the pane cursor never goes past the pane\'s first line, and j back at the newest line follows again', t => {
	const pane = dashboardReducer(press(loaded(), 'tab'), {type: 'pane-lines', lines: 3, total: 3});
	t.like(press(pane, 'k', 'k', 'k', 'k'), {offset: 2, follow: false});
	t.like(press(pane, 'g'), {offset: 2, follow: false});
	t.like(press(pane, 'g', 'j', 'j'), {offset: 0, follow: true});
});

test('with follow off, lines arriving below keep the cursor on the line it was on', t => {
	const pane = dashboardReducer(press(loaded(), 'tab'), {type: 'pane-lines', lines: 10, total: 10});
	const reading = press(pane, 'k', 'k');
	t.like(reading, {offset: 2, follow: false});
	// Five new lines, and the pane keeps only its newest 12: the cursor moves up with its line.
	t.like(dashboardReducer(reading, {type: 'pane-lines', lines: 12, total: 15}), {offset: 7});
	// Following, new lines are simply shown.
	t.like(dashboardReducer(pane, {type: 'pane-lines', lines: 12, total: 15}), {offset: 0, follow: true});
});

test('a damaged run can only be destroyed: enter and s say what is wrong and that x removes it; x asks as for any run', t => {
	const damaged: RunRow = {id: 'run_00000000000d', name: null, createdAt: '2026-11-22T11:30:00.000Z', state: 'damaged', damage: 'metadata.json is empty'};
	const state = loaded({selectedId: damaged.id}, [...runs, damaged]);
	for (const key of ['enter', 's']) {
		const pressed = press(state, key);
		t.deepEqual(pressed.effects, [], key);
		t.is(pressed.status, 'run_00000000000d is damaged (metadata.json is empty); x removes it.', key);
	}

	const asked = press(state, 'x');
	t.is(asked.confirmDestroy, damaged.id);
	t.deepEqual(press(asked, 'y').effects, [{kind: 'destroy', id: damaged.id}]);
	t.deepEqual(visibleRuns({runs: [...runs, damaged], filter: 'damaged'}).map(run => run.id), [damaged.id]);
});
