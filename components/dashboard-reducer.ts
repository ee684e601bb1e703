import type {RunRow} from '../source/dashboard/dashboard-types.js';
import type {DamagedRun} from '../source/runs/run-metadata.js';
import {stateLabel} from '../source/runs/run-presentation.js';
import {printable} from '../source/text/printable.js';
import {actionFor, type KeyFocus, type KeyInfo} from './key-bindings.js';

/**
 * The dashboard's state and every key decision, as a pure reducer. Ink
 * re-subscribes input handlers after each frame, so keys that arrive
 * together can reach a stale handler; a reducer always sees the latest
 * state. What a key asks of the outside world (stop, attach, …) is queued
 * as an effect for the component to carry out.
 */

export const panes = ['preview', 'logs', 'network', 'audit'] as const;
export type Pane = (typeof panes)[number];
/** Each pane's name on its tab. */
export const paneTitles: Record<Pane, string> = {preview: 'Preview', logs: 'Logs', network: 'Network', audit: 'Audit'};

export type {RunRow} from '../source/dashboard/dashboard-types.js';

export type Effect =
	| {kind: 'stop'; id: string}
	| {kind: 'destroy'; id: string}
	| {kind: 'attach'; id: string}
	| {kind: 'allow'; id: string}
	| {kind: 'new'}
	| {kind: 'grants'}
	| {kind: 'quit'};

export type DashboardState = {
	runs: RunRow[];
	selectedId: string | undefined;
	/** Where the selection was, so a run that disappears hands it to its neighbour. */
	selectedIndex: number;
	filter: string;
	filtering: boolean;
	focus: KeyFocus;
	pane: Pane;
	/** The pane sticks to its newest line. */
	follow: boolean;
	/** Lines above the newest one where the pane's cursor is (0 = newest). */
	offset: number;
	/** How many lines the shown pane has, and has had in all (its file's lines), as last drawn. */
	paneLines: number;
	paneTotal: number;
	help: boolean;
	/** The help overlay's page shown, of the `helpPages` it took when last drawn (at the terminal's size). */
	helpPage: number;
	helpPages: number;
	confirmDestroy: string | undefined;
	status: string | undefined;
	/**
	 * Counts the status lines shown, so the one that was timed to go is the
	 * one that goes. A status that `lasts` (work in progress) stays until the
	 * next one; any other goes after a few seconds or at the next key.
	 */
	statusSerial: number;
	statusLasts: boolean;
	effects: Effect[];
};

export type DashboardEvent =
	| {type: 'runs'; runs: RunRow[]}
	| {type: 'key'; input: string; key: KeyInfo}
	| {type: 'status'; text: string | undefined; lasts?: boolean}
	/** The status line shown as number `serial` has been read long enough. */
	| {type: 'status-expired'; serial: number}
	/** Something other than a key asks for an effect (the new-bottle dialog asks for the grant wizard). */
	| {type: 'request'; effect: Effect}
	| {type: 'taken'; count: number}
	/** The shown pane's size: `lines` it holds now, `total` it has had (they grow apart once old lines are dropped). */
	| {type: 'pane-lines'; lines: number; total: number}
	/** How many pages the help overlay takes at the terminal's size. */
	| {type: 'help-pages'; count: number};

export function initialDashboardState(options: {selectedId?: string; status?: string; pane?: Pane} = {}): DashboardState {
	return {
		runs: [],
		selectedId: options.selectedId,
		selectedIndex: 0,
		filter: '',
		filtering: false,
		focus: 'table',
		pane: options.pane ?? 'preview',
		follow: true,
		offset: 0,
		paneLines: 0,
		paneTotal: 0,
		help: false,
		helpPage: 0,
		helpPages: 1,
		confirmDestroy: undefined,
		status: options.status,
		statusSerial: 0,
		statusLasts: false,
		effects: [],
	};
}

/** What the status line says when asked to act on a damaged run: nothing can be done with it but removing it. */
function damagedStatus(run: Pick<DamagedRun, 'id' | 'damage'>): string {
	return printable(`${run.id} is damaged (${run.damage}); x removes it.`);
}

/** The runs the filter lets through: by name, id, agent, state or grant. */
export function visibleRuns(state: Pick<DashboardState, 'runs' | 'filter'>): RunRow[] {
	const words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
	if (words.length === 0) {
		return state.runs;
	}

	return state.runs.filter(run => {
		const text = (run.state === 'damaged'
			? [run.name ?? '', run.id, stateLabel(run)]
			: [run.name, run.id, run.agent ?? 'shell', stateLabel(run), ...run.grants]).join(' ').toLowerCase();
		return words.every(word => text.includes(word));
	});
}

/** The selected run among the visible ones (and its index), if any. */
export function selectedRun(state: DashboardState): {run: RunRow | undefined; index: number} {
	const runs = visibleRuns(state);
	const found = runs.findIndex(run => run.id === state.selectedId);
	const index = found === -1 ? Math.min(state.selectedIndex, runs.length - 1) : found;
	return {run: index >= 0 ? runs[index] : undefined, index: Math.max(0, index)};
}

function select(state: DashboardState, index: number): DashboardState {
	const runs = visibleRuns(state);
	const clamped = Math.max(0, Math.min(index, runs.length - 1));
	return {...state, selectedId: runs[clamped]?.id, selectedIndex: clamped, offset: 0, follow: true};
}

function withStatus(state: DashboardState, text: string | undefined, lasts = false): DashboardState {
	return {...state, status: text === undefined ? undefined : printable(text), statusSerial: state.statusSerial + 1, statusLasts: lasts};
}

function withEffect(state: DashboardState, effect: Effect): DashboardState {
	return {...state, effects: [...state.effects, effect]};
}

function onKey(previous: DashboardState, input: string, key: KeyInfo): DashboardState {
	// What the last action said goes with the next key (work still in progress keeps saying so).
	const state = previous.status === undefined || previous.statusLasts ? previous : {...previous, status: undefined};
	if (state.confirmDestroy !== undefined) {
		const id = state.confirmDestroy;
		return input === 'y'
			? withEffect({...state, confirmDestroy: undefined}, {kind: 'destroy', id})
			: withStatus({...state, confirmDestroy: undefined}, 'Nothing destroyed.');
	}

	if (state.filtering) {
		switch (actionFor(input, key, 'filter')) {
			case 'keep-filter':
			case 'clear-filter': {
				// Enter keeps the filter, Escape drops it.
				const next = {...state, filtering: false, filter: key.escape ? '' : state.filter};
				return select(next, selectedRun(next).index);
			}

			case 'erase-filter': {
				return select({...state, filter: ''}, 0);
			}

			default: {
				if (key.backspace || key.delete) {
					return select({...state, filter: state.filter.slice(0, -1)}, 0);
				}

				// Only text: a control character would move the cursor on the header line.
				return input && !key.ctrl && !/[\u0000-\u001F\u007F-\u009F]/.test(input) ? select({...state, filter: state.filter + input}, 0) : state;
			}
		}
	}

	if (state.help) {
		// Space shows the next page, the first after the last; any other key closes the overlay (q still quits).
		if (input === ' ' && state.helpPages > 1) {
			return {...state, helpPage: (state.helpPage + 1) % state.helpPages};
		}

		if (input === 'q') {
			return withEffect({...state, help: false}, {kind: 'quit'});
		}

		return {...state, help: false};
	}

	const {run, index} = selectedRun(state);
	const action = actionFor(input, key, state.focus);
	const lastLine = Math.max(0, state.paneLines - 1);
	const paneStep = (step: number) => {
		const offset = Math.max(0, Math.min(lastLine, state.offset + step));
		return {...state, offset, follow: offset === 0 && step < 0 ? true : state.follow && offset === 0};
	};

	switch (action) {
		case 'down': {
			return state.focus === 'pane' ? paneStep(-1) : select(state, index + 1);
		}

		case 'up': {
			return state.focus === 'pane' ? paneStep(1) : select(state, index - 1);
		}

		case 'first': {
			return state.focus === 'pane' ? {...state, offset: lastLine, follow: false} : select(state, 0);
		}

		case 'last': {
			return state.focus === 'pane' ? {...state, offset: 0, follow: true} : select(state, visibleRuns(state).length - 1);
		}

		case 'attach': {
			if (run?.state === 'damaged') {
				return withStatus(state, damagedStatus(run));
			}

			return run ? withEffect(state, {kind: 'attach', id: run.id}) : state;
		}

		case 'new': {
			return withEffect(state, {kind: 'new'});
		}

		case 'stop': {
			if (run?.state === 'damaged') {
				return withStatus(state, damagedStatus(run));
			}

			return run ? withEffect(state, {kind: 'stop', id: run.id}) : state;
		}

		case 'destroy': {
			return run ? {...state, confirmDestroy: run.id} : state;
		}

		case 'panes': {
			// From the table, tab opens the pane shown; in a pane, it moves to the next.
			const pane = state.focus === 'table' ? state.pane : panes[(panes.indexOf(state.pane) + 1) % panes.length]!;
			return {...state, focus: 'pane', pane, offset: 0, follow: true};
		}

		case 'back': {
			return {...state, focus: 'table'};
		}

		case 'filter': {
			return {...state, filtering: true};
		}

		case 'follow': {
			return {...state, follow: !state.follow, offset: state.follow ? state.offset : 0};
		}

		case 'allow': {
			return state.pane === 'network' && run ? withEffect(state, {kind: 'allow', id: run.id}) : state;
		}

		case 'grants': {
			return withEffect(state, {kind: 'grants'});
		}

		case 'help': {
			return {...state, help: true, helpPage: 0};
		}

		case 'quit': {
			return withEffect(state, {kind: 'quit'});
		}

		default: {
			if (key.escape && state.filter) {
				// The run the filter found stays selected once the others are back.
				const cleared = {...state, filter: ''};
				return select(cleared, selectedRun(cleared).index);
			}

			return state;
		}
	}
}

/**
 * A chunk that opens or feeds the filter, typed key by key: a quick typist,
 * a paste or a loaded machine hands Ink `/name` and its enter in one read
 * (Ink splits only escape sequences and backspaces). Enter ends the filter
 * and whatever follows it is dropped, so a chunk never goes on to act.
 */
function typeIntoFilter(state: DashboardState, input: string): DashboardState | undefined {
	const opened = state.filtering ? state : onKey(state, '/', {});
	if (!opened.filtering) {
		return undefined;
	}

	let current = opened;
	for (const character of state.filtering ? input : input.slice(1)) {
		if (!current.filtering) {
			break;
		}

		current = onKey(current, character, character === '\r' || character === '\n' ? {return: true} : {});
	}

	return current;
}

export function dashboardReducer(state: DashboardState, event: DashboardEvent): DashboardState {
	switch (event.type) {
		case 'runs': {
			const next = {...state, runs: event.runs};
			const {index} = selectedRun(next);
			const visible = visibleRuns(next);
			// Keep the selected run; if it is gone, its neighbour takes its place.
			return visible.some(run => run.id === state.selectedId)
				? {...next, selectedIndex: index}
				: {...next, selectedId: visible[Math.min(index, visible.length - 1)]?.id, selectedIndex: Math.max(0, Math.min(index, visible.length - 1))};
		}

		case 'key': {
			// Ink hands over keys that arrive in one read as one string ("jj" from a
			// held key). Moves are split and applied one by one; anything else
			// stays whole, so pasted text can never run a chain of actions.
			if (!state.filtering && event.input.length > 1 && /^[jk]+$/.test(event.input)) {
				return [...event.input].reduce((current, input) => onKey(current, input, event.key), state);
			}

			const typed = event.input.length > 1 && (state.filtering || event.input.startsWith('/')) ? typeIntoFilter(state, event.input) : undefined;
			if (typed) {
				return typed;
			}

			return onKey(state, event.input, event.key);
		}

		case 'status': {
			// Status lines quote errors from the engine and the daemon (withStatus makes them printable).
			return withStatus(state, event.text, event.lasts);
		}

		case 'status-expired': {
			return event.serial === state.statusSerial && !state.statusLasts && state.status !== undefined ? {...state, status: undefined} : state;
		}

		case 'request': {
			return withEffect(state, event.effect);
		}

		case 'pane-lines': {
			// With follow off, the cursor stays on the line it was on while new ones arrive below.
			const grown = state.follow ? 0 : Math.max(0, event.total - state.paneTotal);
			return {...state, paneLines: event.lines, paneTotal: event.total, offset: Math.min(Math.max(0, event.lines - 1), state.offset + grown)};
		}

		case 'help-pages': {
			// A resize can leave fewer pages than the one shown: the last one stands in for it.
			const count = Math.max(1, event.count);
			return count === state.helpPages && state.helpPage < count ? state : {...state, helpPages: count, helpPage: Math.min(state.helpPage, count - 1)};
		}

		case 'taken': {
			return {...state, effects: state.effects.slice(event.count)};
		}
	}
}
