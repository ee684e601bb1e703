/**
 * Every key while attached to a run's terminal, in one table: the escape
 * parser, the footer and window title, `moat attach --help`, and the
 * dashboard's `?` overlay all read it, so they cannot disagree. Each key is
 * written out as data — what is typed, its byte and modifiers — so the table
 * says what the key is.
 */

/** A modifier as the kitty keyboard protocol counts it (its bit, plus one, is the reported number). */
export const modifierBits = {shift: 1, alt: 2, ctrl: 4} as const;
export type Modifier = keyof typeof modifierBits;

/** One key press. */
export type Key = {
	/** The character on the key ('/' for Ctrl-/); kitty reports it as this code point. */
	character: string;
	modifiers: readonly Modifier[];
	/** The one byte a legacy terminal sends for it (Ctrl-/ is 0x1F, as Ctrl-_ is). */
	byte: number;
};

/** The escape prefix: every attached key comes after it. */
export const attachedPrefix = {label: 'Ctrl-/', key: {character: '/', modifiers: ['ctrl'], byte: 0x1F}} as const satisfies {label: string; key: Key};

export const attachedActions = ['detach', 'stop', 'next', 'previous', 'jump', 'literal'] as const;
export type AttachedAction = (typeof attachedActions)[number];

/** Where the terminal was attached from: `moat attach` / `moat run -i`, or the dashboard. */
export type AttachedFrom = 'command' | 'dashboard';

/** A key after the prefix. */
export type AttachedKey = {
	action: AttachedAction;
	/** The keys that do it ('jump' has nine: the digit says which bottle). */
	keys: readonly Key[];
	/** What the user presses after the prefix, as shown. */
	label: string;
	/** The short word in the footer and the window title, if they show this key. */
	hint: string | undefined;
	/** What the key does, in full (the `?` overlay, `moat attach --help`). */
	description: string;
	/** Where the key works. */
	from: readonly AttachedFrom[];
};

const both = ['command', 'dashboard'] as const;

export const attachedKeys: readonly AttachedKey[] = [
	{action: 'detach', keys: [{character: 'd', modifiers: [], byte: 0x64}], label: 'd', hint: 'detach', description: 'detach; the run keeps going', from: ['command']},
	{action: 'detach', keys: [{character: 'd', modifiers: [], byte: 0x64}], label: 'd', hint: 'dashboard', description: 'back to the dashboard', from: ['dashboard']},
	{action: 'stop', keys: [{character: 'k', modifiers: [], byte: 0x6B}], label: 'k', hint: 'stop', description: 'stop the run', from: both},
	{action: 'next', keys: [{character: 'n', modifiers: [], byte: 0x6E}], label: 'n', hint: 'next', description: 'next running bottle', from: ['dashboard']},
	{action: 'previous', keys: [{character: 'p', modifiers: [], byte: 0x70}], label: 'p', hint: 'previous', description: 'previous running bottle', from: ['dashboard']},
	{
		action: 'jump',
		keys: [
			{character: '1', modifiers: [], byte: 0x31},
			{character: '2', modifiers: [], byte: 0x32},
			{character: '3', modifiers: [], byte: 0x33},
			{character: '4', modifiers: [], byte: 0x34},
			{character: '5', modifiers: [], byte: 0x35},
			{character: '6', modifiers: [], byte: 0x36},
			{character: '7', modifiers: [], byte: 0x37},
			{character: '8', modifiers: [], byte: 0x38},
			{character: '9', modifiers: [], byte: 0x39},
		],
		label: '1…9',
		hint: undefined,
		description: 'jump to the Nth running bottle',
		from: ['dashboard'],
	},
	// The prefix twice: the agent gets one, so programs that use Ctrl-/ still can.
	{action: 'literal', keys: [attachedPrefix.key], label: attachedPrefix.label, hint: undefined, description: `send ${attachedPrefix.label} to the agent`, from: both},
];

/** The keys that work when attached from `from`, in table order. */
export function attachedKeysFrom(from: AttachedFrom): AttachedKey[] {
	return attachedKeys.filter(binding => binding.from.includes(from));
}

/** A key as shown with the prefix: `Ctrl-/ d`. */
export function attachedLabel(binding: AttachedKey): string {
	return `${attachedPrefix.label} ${binding.label}`;
}

/** The short hint for the footer and the title: `Ctrl-/ d detach · k stop`. */
export function attachedHint(from: AttachedFrom): string {
	const shown = attachedKeysFrom(from).filter(binding => binding.hint !== undefined);
	return shown.map((binding, index) => `${index === 0 ? attachedLabel(binding) : binding.label} ${binding.hint!}`).join(' · ');
}
