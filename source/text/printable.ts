/**
 * Characters that must never reach a terminal as they are when moat quotes
 * text it did not write (a config's keys and values, names, paths, hosts,
 * an engine's or a CLI's words): C0 controls (ESC starts the sequences that
 * set the clipboard and the title), DEL, the C1 controls U+0080–U+009F (U+009B
 * is a one-character CSI to many terminals), the bidirectional overrides,
 * embeddings, isolates and marks that can make text read as something else,
 * and the line and paragraph separators.
 */
const unprintable = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;

/** The same, less line feed and tab: for whole messages of several lines that moat wrote. */
const unprintableInLines = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;

const named: Readonly<Record<string, string>> = {'\n': String.raw`\n`, '\r': String.raw`\r`, '\t': String.raw`\t`};

function escape(character: string): string {
	const code = character.codePointAt(0)!;
	return named[character] ?? (code <= 0xFF ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/**
 * Text moat did not write, made safe to show on a terminal: every control,
 * bidi or separator character becomes a visible escape (`\x1b`, `\n`,
 * `\u202e`), so the reader sees that it was there and nothing acts on it.
 * With `lineBreaks`, line feeds and tabs stay: for a whole message that moat
 * put together itself, as the last defence before the terminal.
 */
export function printable(text: string, options: {lineBreaks?: boolean} = {}): string {
	return text.replaceAll(options.lineBreaks ? unprintableInLines : unprintable, escape);
}

/**
 * A value as `--json` prints it: JSON.stringify escapes C0 already, but
 * leaves DEL, C1 and the bidi controls raw; those are written as JSON's own
 * `\u` escapes, so the text is the same value and still safe on a terminal.
 */
export function printableJson(value: unknown): string {
	// Raw line feeds in the output are the indentation's; inside strings, JSON.stringify escaped them.
	return JSON.stringify(value, undefined, 2).replaceAll(unprintableInLines, character => `\\u${character.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
