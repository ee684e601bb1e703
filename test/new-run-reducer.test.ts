import test from 'ava';
import type {KeyInfo} from '../components/key-bindings.js';
import {
	commonPrefix,
	fields,
	initialNewRunState,
	missingGrant,
	newRunReducer,
	newRunRequest,
	type Field,
	type NewRunEvent,
	type NewRunState,
} from '../components/new-run-reducer.js';

const namedKeys: Record<string, {input: string; key: KeyInfo}> = {
	enter: {input: '', key: {return: true}},
	esc: {input: '', key: {escape: true}},
	tab: {input: '', key: {tab: true}},
	'shift-tab': {input: '', key: {tab: true, shift: true}},
	backspace: {input: '', key: {backspace: true}},
	delete: {input: '', key: {delete: true}},
	down: {input: '', key: {downArrow: true}},
	up: {input: '', key: {upArrow: true}},
	left: {input: '', key: {leftArrow: true}},
	right: {input: '', key: {rightArrow: true}},
	space: {input: ' ', key: {}},
	'ctrl-u': {input: 'u', key: {ctrl: true}},
	'ctrl-g': {input: 'g', key: {ctrl: true}},
};

function key(name: string): NewRunEvent {
	return {type: 'key', ...(namedKeys[name] ?? {input: name, key: {}})};
}

function press(state: NewRunState, ...names: string[]): NewRunState {
	return names.map(name => key(name)).reduce(newRunReducer, state);
}

const at = (field: Field, state: NewRunState = initialNewRunState('/home/u/project')): NewRunState => ({...state, field: fields.indexOf(field)});
const fieldOf = (state: NewRunState) => fields[state.field];

function withGrants(names: string[], state: NewRunState = initialNewRunState('/home/u/project')): NewRunState {
	return newRunReducer(state, {type: 'grants', names});
}

test('the dialog starts on the agent field: Claude on the folder given, attached, no name, no prompt', t => {
	const state = initialNewRunState('/home/u/project');
	t.deepEqual(
		{field: fieldOf(state), agent: state.agent, workspace: state.workspace, name: state.name, prompt: state.prompt, attached: state.attached, chosen: state.chosen},
		{field: 'agent', agent: 'claude', workspace: '/home/u/project', name: '', prompt: '', attached: true, chosen: []},
	);
});

test('↑/↓, tab and shift-tab move between fields and stop at the ends; tab in the workspace completes instead', t => {
	const cases: Array<[Field, string, Field]> = [
		['agent', 'down', 'workspace'],
		['agent', 'up', 'agent'],
		['agent', 'tab', 'workspace'],
		['agent', 'shift-tab', 'agent'],
		['workspace', 'down', 'name'],
		['workspace', 'up', 'agent'],
		['workspace', 'tab', 'workspace'],
		['workspace', 'shift-tab', 'agent'],
		['name', 'tab', 'grants'],
		['name', 'shift-tab', 'workspace'],
		['grants', 'down', 'prompt'],
		['prompt', 'down', 'attached'],
		['attached', 'down', 'attached'],
		['attached', 'tab', 'attached'],
		['attached', 'up', 'prompt'],
	];
	for (const [from, name, to] of cases) {
		t.is(fieldOf(press(at(from), name)), to, `${name} from ${from}`);
	}

	t.true(press(at('workspace'), 'tab').completing);
	t.false(press(at('name'), 'tab').completing);
});

test('←/→ and space cycle the agent through Claude, Codex and Shell, wrapping both ways', t => {
	const agentsAfter = (...names: string[]) => {
		const seen: string[] = [];
		let state = initialNewRunState('/w');
		for (const name of names) {
			state = press(state, name);
			seen.push(state.agent);
		}

		return seen;
	};

	t.deepEqual(agentsAfter('right', 'right', 'right'), ['codex', 'shell', 'claude']);
	t.deepEqual(agentsAfter('space', 'space'), ['codex', 'shell']);
	t.deepEqual(agentsAfter('left', 'left'), ['shell', 'codex']);
	t.deepEqual(agentsAfter('x', 'down'), ['claude', 'claude'], 'other keys do not change the agent');
	t.is(press(at('name'), 'right').agent, 'claude', '→ elsewhere leaves the agent alone');
});

test('granted names choose the agent\'s own grant: claude before anthropic for Claude, openai for Codex', t => {
	const cases: Array<[string[], string[]]> = [
		[['github', 'claude', 'openai'], ['claude']],
		[['anthropic', 'github'], ['anthropic']],
		[['anthropic', 'claude'], ['claude']],
		[['github', 'openai'], []],
		[[], []],
	];
	for (const [names, chosen] of cases) {
		const state = withGrants(names);
		t.deepEqual(state.chosen, chosen, names.join(','));
		t.deepEqual(state.available, names);
	}
});

test('changing the agent swaps its grant for the new agent\'s and keeps the other grants chosen', t => {
	const claude = press({...withGrants(['claude', 'github', 'openai']), field: fields.indexOf('grants'), grantCursor: 1}, 'space', 'up', 'up', 'up');
	t.deepEqual([fieldOf(claude), claude.chosen], ['agent', ['claude', 'github']]);
	const codex = press(claude, 'right');
	t.deepEqual([codex.agent, codex.chosen], ['codex', ['openai', 'github']]);
	const shell = press(codex, 'right');
	t.deepEqual([shell.agent, shell.chosen], ['shell', ['github']]);
	const back = press(shell, 'right');
	t.deepEqual([back.agent, back.chosen], ['claude', ['claude', 'github']]);
	const withoutOpenai = press(withGrants(['anthropic']), 'right');
	t.deepEqual([withoutOpenai.agent, withoutOpenai.chosen], ['codex', []], 'Codex does not take Claude\'s grant when openai is not granted');
	t.deepEqual(newRunReducer({...withGrants(['openai', 'claude']), agent: 'codex'}, {type: 'grants', names: ['openai', 'claude']}).chosen, ['openai']);
});

test('in the grants field ←/→ move the cursor within the granted names and space toggles the one under it', t => {
	const start = at('grants', withGrants(['claude', 'github', 'openai']));
	t.deepEqual(start.chosen, ['claude']);
	t.is(press(start, 'left').grantCursor, 0);
	t.is(press(start, 'right', 'right', 'right').grantCursor, 2);
	const toggled = press(start, 'right', 'space');
	t.deepEqual(toggled.chosen, ['claude', 'github']);
	t.deepEqual(press(toggled, 'space').chosen, ['claude']);
	t.deepEqual(press(start, 'space').chosen, [], 'the agent\'s own grant can be turned off');
	t.deepEqual(press(at('grants'), 'space').chosen, [], 'nothing to toggle with no grants');
	t.deepEqual(press(start, 'x').chosen, ['claude'], 'letters do nothing here');
});

test('attached toggles with space, ← or →, and nothing else', t => {
	const start = at('attached');
	t.false(press(start, 'space').attached);
	t.false(press(start, 'left').attached);
	t.true(press(start, 'right', 'right').attached);
	t.true(press(start, 'a').attached);
});

test('text fields take typing and pastes without control characters; backspace, delete and ctrl-u edit', t => {
	const named = press(at('name'), 'd', 'e', 'm', 'o', 'x', 'backspace');
	t.is(named.name, 'demo');
	t.is(press(named, 'delete').name, 'dem');
	t.is(press(named, 'ctrl-u').name, '');
	t.is(newRunReducer(at('prompt'), {type: 'key', input: 'fix\u0007 the\u001B tests\u007F', key: {}}).prompt, 'fix the tests');
	const workspace = press(at('workspace'), 'ctrl-u', '/', 't', 'm', 'p');
	t.is(workspace.workspace, '/tmp');
	t.is(newRunReducer(named, {type: 'key', input: 'a', key: {ctrl: true}}).name, 'demo', 'ctrl keys are not text');
});

test('a key clears the error shown', t => {
	const failed = newRunReducer(at('name'), {type: 'error', text: 'There is no folder at /nope.'});
	t.is(failed.error, 'There is no folder at /nope.');
	t.is(press(failed, 'a').error, undefined);
	t.is(press(failed, 'down').error, undefined);
});

test('tab completion: one match completes it, several complete their common start, none says so', t => {
	const typed = {...at('workspace'), workspace: '/home/u/pr', completing: true};
	const cases: Array<{names: string[]; workspace: string; error: string | undefined}> = [
		{names: ['/home/u/project/'], workspace: '/home/u/project/', error: undefined},
		{names: ['/home/u/proj-a/', '/home/u/proj-b/'], workspace: '/home/u/proj-', error: undefined},
		{names: ['/home/u/pra/', '/home/u/prb/'], workspace: '/home/u/pr', error: '/home/u/pra/  /home/u/prb/'},
		{names: [], workspace: '/home/u/pr', error: 'No folder starts with that.'},
	];
	for (const {names, workspace, error} of cases) {
		const next = newRunReducer(typed, {type: 'completions', partial: '/home/u/pr', names});
		t.deepEqual({workspace: next.workspace, error: next.error, completing: next.completing}, {workspace, error, completing: false}, names.join(' '));
	}
});

test('completions for what was typed before are dropped once the user typed on', t => {
	const typed = {...at('workspace'), workspace: '/home/u/pro', completing: true};
	const next = newRunReducer(typed, {type: 'completions', partial: '/home/u/pr', names: ['/home/u/other/']});
	t.deepEqual([next.workspace, next.completing, next.error], ['/home/u/pro', false, undefined]);
});

test('at most six candidates are listed', t => {
	const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(letter => `/x/${letter}/`);
	const next = newRunReducer({...at('workspace'), workspace: '/x/', completing: true}, {type: 'completions', partial: '/x/', names});
	t.is(next.error, names.slice(0, 6).join('  '));
});

test('commonPrefix is the longest start every name shares', t => {
	const cases: Array<[string[], string]> = [
		[[], ''],
		[['abc'], 'abc'],
		[['abc', 'abd'], 'ab'],
		[['abc', 'xyz'], ''],
		[['ab', 'abc', 'abcd'], 'ab'],
		[['/w/src/', '/w/src/'], '/w/src/'],
	];
	for (const [names, prefix] of cases) {
		t.is(commonPrefix(names), prefix, names.join(','));
	}
});

test('enter checks the workspace and the name before starting, and points at the field that is wrong', t => {
	const noWorkspace = press(at('attached'), 'up', 'up', 'up', 'up', 'ctrl-u', ' ', ' ', 'enter');
	t.deepEqual([fieldOf(noWorkspace), noWorkspace.submitted, noWorkspace.error], ['workspace', false, 'Name the workspace folder.']);
	const badNames = ['my run', '-x', '.hidden', 'a'.repeat(64), 'ünïcode'];
	for (const name of badNames) {
		const state = press({...at('prompt'), name}, 'enter');
		t.deepEqual([fieldOf(state), state.submitted], ['name', false], name);
		t.regex(state.error ?? '', /letters, digits/, name);
	}

	for (const name of ['', 'demo', 'a', 'fix-tests_2.1', 'a'.repeat(63), '  demo  ']) {
		const state = press({...at('prompt'), name, error: 'old'}, 'enter');
		t.deepEqual([state.submitted, state.error, fieldOf(state)], [true, undefined, 'prompt'], JSON.stringify(name));
	}
});

test('an error after submitting (workspace check, start failure) re-opens the dialog with it', t => {
	const submitted = press(at('name'), 'enter');
	t.true(submitted.submitted);
	const failed = newRunReducer(submitted, {type: 'error', text: 'Docker is not running.'});
	t.deepEqual([failed.submitted, failed.error], [false, 'Docker is not running.']);
});

test('missingGrant names the grants the agent could sign in with when none is granted', t => {
	const cases: Array<[NewRunState['agent'], string[], string | undefined]> = [
		['claude', [], 'claude or anthropic'],
		['claude', ['github', 'openai'], 'claude or anthropic'],
		['claude', ['anthropic'], undefined],
		['claude', ['claude'], undefined],
		['codex', ['claude', 'anthropic'], 'openai'],
		['codex', ['openai'], undefined],
		['shell', [], undefined],
	];
	for (const [agent, available, missing] of cases) {
		t.is(missingGrant({agent, available}), missing, `${agent} with ${available.join(',') || 'nothing'}`);
	}
});

test('ctrl-g asks for the grant wizard from any field without typing a g', t => {
	for (const field of fields) {
		const state = press({...at(field), name: 'demo'}, 'ctrl-g');
		t.true(state.wantsWizard, field);
		t.deepEqual([state.name, state.prompt, state.workspace, state.cancelled], ['demo', '', '/home/u/project', false], field);
	}

	t.false(press(at('name'), 'g').wantsWizard);
});

test('esc cancels from any field', t => {
	for (const field of fields) {
		t.true(press(at(field), 'esc').cancelled, field);
	}

	t.false(press(at('name'), 'q').cancelled);
});

test('newRunRequest trims, leaves out an empty name and prompt, and never gives a shell a prompt', t => {
	const base = {...withGrants(['claude', 'github']), workspace: '  /home/u/project ', name: ' demo ', prompt: '  fix the tests '};
	t.deepEqual(newRunRequest(base), {agent: 'claude', workspace: '/home/u/project', name: 'demo', grants: ['claude'], prompt: 'fix the tests', attached: true});
	t.deepEqual(newRunRequest({...base, agent: 'codex', chosen: ['openai'], attached: false}), {agent: 'codex', workspace: '/home/u/project', name: 'demo', grants: ['openai'], prompt: 'fix the tests', attached: false});
	t.deepEqual(newRunRequest({...base, agent: 'shell', chosen: []}), {agent: 'shell', workspace: '/home/u/project', name: 'demo', grants: [], attached: true});
	t.deepEqual(newRunRequest({...base, name: '  ', prompt: ' '}), {agent: 'claude', workspace: '/home/u/project', grants: ['claude'], attached: true});
});
