/**
 * The `?` overlay laid out at a terminal's size, as pages of rows. Pure.
 * Everything is wrapped here, at known widths, so that no row is ever
 * wider than the terminal (Ink would cut it with …) and no page taller
 * than the rows the overlay has (the rest would be hidden): what does not
 * fit goes on the next page, which space shows.
 */

export type HelpEntry = {label: string; description: string};
export type HelpList = {title: string; entries: readonly HelpEntry[]};
/** A piece of a row; a row's pieces side by side are never wider than the overlay. */
export type HelpSpan = {text: string; bold?: boolean};
export type HelpRow = HelpSpan[];
export type HelpPage = {
	rows: HelpRow[];
	/** The last line: how to close, and how to page when there is more than one. Empty when the overlay has a single row. */
	hint: string;
};

/** Between the two lists when they stand side by side. */
export const helpGap = 3;
/** A description column narrower than this reads as a stack of fragments: the lists go one under the other instead. */
const minimumDescriptionWidth = 12;
/** Narrower than this, a description goes under its label rather than beside it. */
const besideLabelMinimum = 8;

const widthOf = (text: string) => [...text].length;

function padded(text: string, width: number): string {
	return text + ' '.repeat(Math.max(0, width - widthOf(text)));
}

/** `text` in lines of at most `width` characters, broken between words (a word longer than a line is broken inside). */
export function wrapText(text: string, width: number): string[] {
	const room = Math.max(1, width);
	const lines: string[] = [];
	let line = '';
	for (const word of text.split(/\s+/).filter(Boolean)) {
		let rest = [...word];
		if (line && widthOf(line) + 1 + rest.length <= room) {
			line += ` ${word}`;
			continue;
		}

		if (line) {
			lines.push(line);
		}

		while (rest.length > room) {
			lines.push(rest.slice(0, room).join(''));
			rest = rest.slice(room);
		}

		line = rest.join('');
	}

	lines.push(line);
	return lines;
}

const labelWidthOf = (list: HelpList) => Math.max(0, ...list.entries.map(entry => widthOf(entry.label))) + 2;
const naturalWidthOf = (list: HelpList) => labelWidthOf(list) + Math.max(0, ...list.entries.map(entry => widthOf(entry.description)));

/**
 * A list in blocks of rows exactly `width` wide: its title (kept with the
 * first entry, so a page never ends on a title), then one block per key.
 */
function listBlocks(list: HelpList, width: number): HelpRow[][] {
	const labelWidth = labelWidthOf(list);
	const descriptionWidth = width - labelWidth;
	const rowOf = (text: string, bold = false): HelpRow => [{text: padded(text, width), bold}];
	const entryBlocks = list.entries.map(entry => {
		if (descriptionWidth >= besideLabelMinimum) {
			// The description wraps under itself, one column past the longest label.
			return wrapText(entry.description, descriptionWidth).map((line, index) => rowOf(padded(index === 0 ? entry.label : '', labelWidth) + line));
		}

		return [...wrapText(entry.label, width), ...wrapText(entry.description, width - 2).map(line => `  ${line}`)].map(line => rowOf(line));
	});
	const title = wrapText(list.title, width).map(line => rowOf(line, true));
	return entryBlocks.length === 0 ? [title] : [[...title, ...entryBlocks[0]!], ...entryBlocks.slice(1)];
}

/** The two lists side by side, at most 40% of the room to the second when both cannot have what they would like; undefined when either would be too narrow. */
function sideBySide(first: HelpList, second: HelpList, width: number): HelpRow[] | undefined {
	const room = width - helpGap;
	const secondWidth = Math.min(naturalWidthOf(second), Math.max(room - naturalWidthOf(first), Math.floor(room * 0.4)));
	const firstWidth = room - secondWidth;
	if (firstWidth - labelWidthOf(first) < minimumDescriptionWidth || secondWidth - labelWidthOf(second) < minimumDescriptionWidth) {
		return undefined;
	}

	const left = listBlocks(first, firstWidth).flat();
	const right = listBlocks(second, secondWidth).flat();
	const blank = (columns: number): HelpRow => [{text: ' '.repeat(columns)}];
	return Array.from({length: Math.max(left.length, right.length)}, (_, index) => [
		...(left[index] ?? blank(firstWidth)),
		{text: ' '.repeat(helpGap)},
		...(right[index] ?? blank(secondWidth)),
	]);
}

/** Blocks onto pages of `size` rows: a block that fits on a page is not split; one taller than a page fills pages whole. */
function paginate(lists: HelpRow[][][], size: number, width: number): HelpRow[][] {
	const pages: HelpRow[][] = [[]];
	const current = () => pages.at(-1)!;
	for (const [listIndex, blocks] of lists.entries()) {
		for (const [blockIndex, block] of blocks.entries()) {
			// A blank row before each list after the first, unless that list starts a page.
			const rows = listIndex > 0 && blockIndex === 0 && current().length > 0 ? [[{text: ' '.repeat(width)}], ...block] : block;
			if (current().length > 0 && current().length + rows.length > size) {
				pages.push([]);
				if (rows !== block) {
					rows.shift();
				}
			}

			for (const row of rows) {
				if (current().length === size) {
					pages.push([]);
				}

				current().push(row);
			}
		}
	}

	return pages;
}

/** The first of `candidates` that fits in `width`, else the last one cut to it. */
function fitting(candidates: readonly string[], width: number): string {
	return candidates.find(candidate => widthOf(candidate) <= width) ?? [...candidates.at(-1)!].slice(0, Math.max(0, width)).join('');
}

function hintOf(page: number, pages: number, width: number): string {
	if (pages === 1) {
		return fitting(['Any key closes this.', 'any key closes'], width);
	}

	const where = `${page + 1}/${pages}`;
	const space = page === pages - 1 ? 'space: first page' : 'space: more';
	return fitting([`${space} (${where}) · any other key closes`, `${space} (${where}) · other keys close`, `${space} (${where})`, `space ${where}`, where], width);
}

/**
 * The overlay in `width` columns and `height` rows: the two lists side by
 * side when that fits on one page, else one under the other at the whole
 * width (fewer rows wrap), as many pages as that takes. Each page's rows and
 * its hint line together are never taller than `height`.
 */
export function helpPages(lists: readonly [HelpList, HelpList], {width, height}: {width: number; height: number}): HelpPage[] {
	const columns = Math.max(1, width);
	// The hint line takes a row when there are two to share.
	const size = height >= 2 ? height - 1 : 1;
	const together = sideBySide(lists[0], lists[1], columns);
	const pages = together && together.length <= size
		? [together]
		: paginate(lists.map(list => listBlocks(list, columns)), size, columns);
	// What pads a row at its end is not needed on screen (a blank row keeps a space, so that it is drawn).
	const trimmed = (row: HelpRow): HelpRow => {
		const last = row.at(-1)!;
		const text = last.text.trimEnd();
		return [...row.slice(0, -1), {...last, text: row.length === 1 && text === '' ? ' ' : text}];
	};

	return pages.map((rows, page) => ({rows: rows.map(row => trimmed(row)), hint: height >= 2 ? hintOf(page, pages.length, columns) : ''}));
}
