import {bottleKinds, type RecipeName} from '../source/bottles/bottle-kinds.js';
import type {KeyInfo} from './key-bindings.js';
import type {NewRunRequest} from './services-context.js';

/**
 * The new-bottle dialog as a pure reducer: which agent, where, what name,
 * which grants, an optional first prompt, attached or not. ↑/↓ move between
 * fields, tab completes the workspace path, space or ←/→ change choices,
 * enter starts, esc cancels.
 */

/** The kinds of bottle the dialog offers: every recipe moat has. */
export const agents = Object.keys(bottleKinds) as RecipeName[];
export const fields = ['agent', 'workspace', 'name', 'grants', 'prompt', 'attached'] as const;
export type Field = (typeof fields)[number];

/** The grant each agent signs in with, chosen for the user when it is granted. */
const agentGrants = (agent: RecipeName): readonly string[] => bottleKinds[agent].signInGrants;

export type NewRunState = {
	field: number;
	agent: NewRunRequest['agent'];
	workspace: string;
	name: string;
	available: string[];
	chosen: string[];
	grantCursor: number;
	prompt: string;
	attached: boolean;
	error: string | undefined;
	/** The dialog asked for completions of the workspace path. */
	completing: boolean;
	/** Enter was pressed: the component checks and starts the run. */
	submitted: boolean;
	cancelled: boolean;
	/** Ctrl-G: the user wants the grant wizard for a credential that is missing. */
	wantsWizard: boolean;
};

export type NewRunEvent =
	| {type: 'key'; input: string; key: KeyInfo}
	| {type: 'grants'; names: string[]}
	| {type: 'completions'; partial: string; names: string[]}
	| {type: 'error'; text: string};

export function initialNewRunState(workspace: string): NewRunState {
	return {
		field: 0, agent: 'claude', workspace, name: '', available: [], chosen: [], grantCursor: 0, prompt: '', attached: true,
		error: undefined, completing: false, submitted: false, cancelled: false, wantsWizard: false,
	};
}

/** The agent's own grant, if granted, goes first; another agent's is dropped. */
function defaultGrants(state: NewRunState, agent: NewRunRequest['agent']): string[] {
	const own = agentGrants(agent).find(name => state.available.includes(name));
	const others = new Set<string>(Object.values(bottleKinds).flatMap(kind => kind.signInGrants));
	return [...new Set([...(own ? [own] : []), ...state.chosen.filter(name => !others.has(name))])];
}

function edit(text: string, input: string, key: KeyInfo): string {
	if (key.backspace || key.delete) {
		return text.slice(0, -1);
	}

	if (key.ctrl && input === 'u') {
		return '';
	}

	// Typed or pasted text; control characters are not part of a field.
	return key.ctrl || key.return || key.escape || key.tab ? text : text + input.replaceAll(/[\u0000-\u001F\u007F]/g, '');
}

/** The longest common start of several names (what tab completes to). */
export function commonPrefix(names: readonly string[]): string {
	if (names.length === 0) {
		return '';
	}

	let prefix = names[0]!;
	for (const name of names.slice(1)) {
		while (!name.startsWith(prefix)) {
			prefix = prefix.slice(0, -1);
		}
	}

	return prefix;
}

/** What the chosen agent signs in with when none of its grants exists yet ("claude or anthropic"), else undefined. */
export function missingGrant(state: Pick<NewRunState, 'agent' | 'available'>): string | undefined {
	const needed = agentGrants(state.agent);
	return needed.length > 0 && !needed.some(name => state.available.includes(name)) ? needed.join(' or ') : undefined;
}

export function newRunRequest(state: NewRunState): NewRunRequest {
	return {
		agent: state.agent,
		workspace: state.workspace.trim(),
		...(state.name.trim() ? {name: state.name.trim()} : {}),
		grants: state.chosen,
		...(state.prompt.trim() && state.agent !== 'shell' ? {prompt: state.prompt.trim()} : {}),
		attached: state.attached,
	};
}

/** Run names as `moat run -n` takes them. */
const namePattern = /^[a-z\d][\w.-]{0,62}$/i;

function onKey(state: NewRunState, input: string, key: KeyInfo): NewRunState {
	const field = fields[state.field]!;
	const cleared = {...state, error: undefined};
	if (key.escape) {
		return {...state, cancelled: true};
	}

	if (key.ctrl && input === 'g') {
		return {...state, wantsWizard: true};
	}

	if (key.return) {
		if (state.workspace.trim() === '') {
			return {...cleared, field: fields.indexOf('workspace'), error: 'Name the workspace folder.'};
		}

		if (state.name.trim() && !namePattern.test(state.name.trim())) {
			return {...cleared, field: fields.indexOf('name'), error: 'A name is letters, digits, ., _ and -, starting with a letter or digit.'};
		}

		return {...cleared, submitted: true};
	}

	if (key.upArrow || (key.tab && key.shift)) {
		return {...cleared, field: Math.max(0, state.field - 1)};
	}

	if (key.downArrow || (key.tab && field !== 'workspace')) {
		return {...cleared, field: Math.min(fields.length - 1, state.field + 1)};
	}

	switch (field) {
		case 'agent': {
			const step = key.leftArrow ? -1 : (key.rightArrow || input === ' ' ? 1 : 0);
			if (step === 0) {
				return state;
			}

			const agent = agents[(agents.indexOf(state.agent) + step + agents.length) % agents.length]!;
			return {...cleared, agent, chosen: defaultGrants(state, agent)};
		}

		case 'workspace': {
			return key.tab ? {...cleared, completing: true} : {...cleared, workspace: edit(state.workspace, input, key)};
		}

		case 'name': {
			return {...cleared, name: edit(state.name, input, key)};
		}

		case 'prompt': {
			return {...cleared, prompt: edit(state.prompt, input, key)};
		}

		case 'grants': {
			if (key.leftArrow || key.rightArrow) {
				const cursor = state.grantCursor + (key.leftArrow ? -1 : 1);
				return {...cleared, grantCursor: Math.max(0, Math.min(cursor, state.available.length - 1))};
			}

			const name = state.available[state.grantCursor];
			if (input === ' ' && name) {
				return {...cleared, chosen: state.chosen.includes(name) ? state.chosen.filter(chosen => chosen !== name) : [...state.chosen, name]};
			}

			return state;
		}

		case 'attached': {
			return input === ' ' || key.leftArrow || key.rightArrow ? {...cleared, attached: !state.attached} : state;
		}
	}
}

export function newRunReducer(state: NewRunState, event: NewRunEvent): NewRunState {
	switch (event.type) {
		case 'key': {
			return onKey(state, event.input, event.key);
		}

		case 'grants': {
			const next = {...state, available: event.names};
			return {...next, chosen: defaultGrants(next, state.agent)};
		}

		case 'completions': {
			if (event.partial !== state.workspace) {
				// The user typed on meanwhile.
				return {...state, completing: false};
			}

			const completed = commonPrefix(event.names);
			return {
				...state,
				completing: false,
				workspace: completed.length > state.workspace.length ? completed : state.workspace,
				error: event.names.length === 0 ? 'No folder starts with that.' : (event.names.length > 1 && completed === state.workspace ? event.names.slice(0, 6).join('  ') : undefined),
			};
		}

		case 'error': {
			return {...state, submitted: false, error: event.text};
		}
	}
}
