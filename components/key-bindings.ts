/**
 * Every dashboard key in one table: the input handler, the hint bar and the
 * `?` overlay all read it, so they cannot disagree.
 */
export const dashboardActions = ['down', 'up', 'first', 'last', 'stop', 'destroy', 'help', 'quit'] as const;
export type DashboardAction = (typeof dashboardActions)[number];

export type KeyBinding = {
	action: DashboardAction;
	/** What the user presses, as shown. */
	label: string;
	description: string;
	/** Whether the bottom hint bar shows it (the overlay shows all). */
	hint: boolean;
	matches(input: string, key: {upArrow: boolean; downArrow: boolean; escape: boolean}): boolean;
};

export const keyBindings: readonly KeyBinding[] = [
	{action: 'down', label: 'j/↓', description: 'next', hint: true, matches: (input, key) => input === 'j' || key.downArrow},
	{action: 'up', label: 'k/↑', description: 'previous', hint: true, matches: (input, key) => input === 'k' || key.upArrow},
	{action: 'first', label: 'g', description: 'first run', hint: false, matches: input => input === 'g'},
	{action: 'last', label: 'G', description: 'last run', hint: false, matches: input => input === 'G'},
	{action: 'stop', label: 's', description: 'stop', hint: true, matches: input => input === 's'},
	{action: 'destroy', label: 'x', description: 'destroy (asks first)', hint: true, matches: input => input === 'x'},
	{action: 'help', label: '?', description: 'help', hint: true, matches: input => input === '?'},
	{action: 'quit', label: 'q', description: 'quit', hint: true, matches: input => input === 'q'},
];

export function actionFor(input: string, key: {upArrow: boolean; downArrow: boolean; escape: boolean}): DashboardAction | undefined {
	return keyBindings.find(binding => binding.matches(input, key))?.action;
}
