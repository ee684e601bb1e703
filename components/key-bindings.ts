import {attachedKeysFrom, attachedLabel} from '../source/terminal/attached-keys.js';

/** Attached from the dashboard, and how to come back: from the attached-keys table. */
const attachedFromDashboard = attachedKeysFrom('dashboard');
const comeBack = attachedLabel(attachedFromDashboard.find(binding => binding.action === 'detach')!);

/**
 * Every dashboard key in one table: the reducer, the hint bar and the `?`
 * overlay all read it, so they cannot disagree. A binding belongs to the
 * places (focus) where it works.
 */
export const dashboardActions = [
	'down', 'up', 'first', 'last', 'attach', 'new', 'stop', 'destroy', 'panes', 'back', 'filter', 'follow', 'allow', 'grants', 'help', 'quit',
	'keep-filter', 'clear-filter', 'erase-filter',
] as const;
export type DashboardAction = (typeof dashboardActions)[number];

/**
 * Where the keyboard is: the runs table, the selected run's detail pane, or
 * the filter being typed (where every other key is text).
 */
export type KeyFocus = 'table' | 'pane' | 'filter';

/** What Ink tells us about a key, reduced to what the table needs. */
export type KeyInfo = {upArrow?: boolean; downArrow?: boolean; leftArrow?: boolean; rightArrow?: boolean; escape?: boolean; return?: boolean; tab?: boolean; shift?: boolean; ctrl?: boolean; backspace?: boolean; delete?: boolean};

export type KeyBinding = {
	action: DashboardAction;
	/** What the user presses, as shown. */
	label: string;
	description: string;
	focus: readonly KeyFocus[];
	/** What the bottom hint bar says, if it shows this key (the overlay shows all, in full). */
	hint: string | undefined;
	matches(input: string, key: KeyInfo): boolean;
};

const both = ['table', 'pane'] as const;

export const keyBindings: readonly KeyBinding[] = [
	{action: 'down', label: 'j/↓', description: 'next run · scroll down in a pane', focus: both, hint: undefined, matches: (input, key) => input === 'j' || Boolean(key.downArrow)},
	{action: 'up', label: 'k/↑', description: 'previous run · scroll up in a pane', focus: both, hint: undefined, matches: (input, key) => input === 'k' || Boolean(key.upArrow)},
	{action: 'first', label: 'g', description: 'first run · top of a pane', focus: both, hint: undefined, matches: input => input === 'g'},
	{action: 'last', label: 'G', description: 'last run · bottom of a pane, following', focus: both, hint: undefined, matches: input => input === 'G'},
	{action: 'attach', label: 'enter', description: `attach (${comeBack} comes back)`, focus: ['table'], hint: 'attach', matches: (_input, key) => Boolean(key.return)},
	{action: 'new', label: 'n', description: 'new bottle: Claude, Codex or a shell', focus: ['table'], hint: 'new', matches: input => input === 'n'},
	{action: 'stop', label: 's', description: 'stop', focus: ['table'], hint: 'stop', matches: input => input === 's'},
	{action: 'destroy', label: 'x', description: 'destroy (asks first)', focus: ['table'], hint: 'destroy', matches: input => input === 'x'},
	{action: 'panes', label: 'tab', description: 'panes: Preview, Logs, Network, Audit', focus: both, hint: 'panes', matches: (_input, key) => Boolean(key.tab) && !key.shift},
	{action: 'back', label: 'esc', description: 'back to the runs', focus: ['pane'], hint: 'runs', matches: (_input, key) => Boolean(key.escape) || (Boolean(key.tab) && Boolean(key.shift))},
	{action: 'filter', label: '/', description: 'filter the runs (enter keeps, esc clears)', focus: ['table'], hint: 'filter', matches: input => input === '/'},
	{action: 'follow', label: 'f', description: 'follow on/off', focus: ['pane'], hint: 'follow', matches: input => input === 'f'},
	{action: 'allow', label: 'a', description: 'allow a blocked host (Network pane)', focus: ['pane'], hint: 'allow host', matches: input => input === 'a'},
	{action: 'grants', label: 'c', description: 'credentials: the grant wizard', focus: ['table'], hint: 'grants', matches: input => input === 'c'},
	{action: 'help', label: '?', description: 'help', focus: both, hint: 'help', matches: input => input === '?'},
	{action: 'quit', label: 'q', description: 'quit (runs keep going)', focus: both, hint: 'quit', matches: input => input === 'q'},
	// While a filter is typed, ? and q are letters of it: these are its only keys.
	{action: 'keep-filter', label: 'enter', description: 'keep the filter', focus: ['filter'], hint: 'keep the filter', matches: (_input, key) => Boolean(key.return)},
	{action: 'clear-filter', label: 'esc', description: 'clear the filter', focus: ['filter'], hint: 'clear it', matches: (_input, key) => Boolean(key.escape)},
	{action: 'erase-filter', label: 'Ctrl-U', description: 'erase what is typed', focus: ['filter'], hint: 'erase', matches: (input, key) => Boolean(key.ctrl) && input === 'u'},
];

/**
 * Which hints give way first when the hint bar is too narrow for all of
 * them; help and quit never do (? shows the rest).
 */
const hintsGiveWay: readonly DashboardAction[] = ['grants', 'destroy', 'follow', 'filter', 'panes', 'back', 'stop', 'new', 'allow', 'erase-filter', 'attach'];

/** The hint bar for `focus` in `width` columns: whole hints only, help and quit always among them. Pure. */
export function hintLine(focus: KeyFocus, width: number): string {
	let shown = keyBindings.filter(binding => binding.hint && binding.focus.includes(focus));
	const text = () => shown.map(binding => `${binding.label} ${binding.hint!}`).join(' · ');
	for (const action of hintsGiveWay) {
		if (text().length <= width) {
			break;
		}

		shown = shown.filter(binding => binding.action !== action);
	}

	return text();
}

/** The bindings the `?` overlay lists: the table's and the panes' (the filter's are in the / line). */
export const overlayBindings: readonly KeyBinding[] = keyBindings.filter(binding => !binding.focus.every(focus => focus === 'filter'));

export function actionFor(input: string, key: KeyInfo, focus: KeyFocus): DashboardAction | undefined {
	return keyBindings.find(binding => binding.focus.includes(focus) && binding.matches(input, key))?.action;
}

/** The keys while attached from the dashboard, as pressed after Ctrl-/, for the help overlay: the attached-keys table's. */
export const attachedKeys: ReadonlyArray<{label: string; description: string}> = attachedFromDashboard.map(binding => ({label: binding.label, description: binding.description}));
