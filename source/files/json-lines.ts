/**
 * Reading files of JSON lines (logs.jsonl, network.jsonl) for showing them.
 * A line that does not parse, or parses into something that is not an
 * entry, is skipped and counted: one damaged line must not hide the rest
 * of the file or crash whoever shows it, and the count lets the command
 * say that something was left out. Pure.
 *
 * Not for the audit log's verification, which must fail on such a line.
 */

/** What a reader made of a file: the entries, and how many complete lines were not entries. */
export type JsonLines<T> = {entries: T[]; skipped: number};

/**
 * `accept` turns a parsed value into an entry, or undefined when it is not
 * one. A last line without its newline is a writer mid-append (or a crash
 * mid-write, which the next write repairs): used when it is whole, never
 * counted when it is not.
 */
export function parseJsonLines<T>(text: string, accept: (value: unknown) => T | undefined): JsonLines<T> {
	const entries: T[] = [];
	let skipped = 0;
	const lines = text.split('\n');
	const unfinished = lines.length - 1;
	for (const [index, line] of lines.entries()) {
		if (line.trim() === '') {
			continue;
		}

		const entry = parseJsonLine(line, accept);
		if (entry !== undefined) {
			entries.push(entry);
		} else if (index !== unfinished) {
			skipped++;
		}
	}

	return {entries, skipped};
}

/** One line as an entry, or undefined when it does not parse or is not one. */
export function parseJsonLine<T>(line: string, accept: (value: unknown) => T | undefined): T | undefined {
	let value: unknown;
	try {
		value = JSON.parse(line);
	} catch {
		return undefined;
	}

	return accept(value);
}

/** "skipped 2 unreadable lines in network.jsonl", for a note on stderr; undefined when none were. */
export function skippedNote(skipped: number, file: string): string | undefined {
	return skipped === 0 ? undefined : `skipped ${skipped} unreadable line${skipped === 1 ? '' : 's'} in ${file}`;
}
