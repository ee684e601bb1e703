import test from 'ava';
import {helpPages, wrapText, type HelpList, type HelpPage} from '../components/help-pages.js';
import {attachedKeys, overlayBindings} from '../components/key-bindings.js';

const lists: readonly [HelpList, HelpList] = [
	{title: 'Keys', entries: overlayBindings},
	{title: 'After Ctrl-/ (attached)', entries: attachedKeys},
];

const widthOf = (text: string) => [...text].length;
const rowText = (row: HelpPage['rows'][number]) => row.map(span => span.text).join('');
const collapsed = (text: string) => text.split(/\s+/).filter(Boolean).join(' ');

/**
 * What the pages say, list by list, as a reader goes through them in order:
 * a row of three pieces is the two lists side by side (first, gap, second).
 */
function readBack(pages: HelpPage[]): string[] {
	const streams: string[][] = [[], []];
	let list = 0;
	for (const row of pages.flatMap(page => page.rows)) {
		if (row.length === 3) {
			streams[0]!.push(row[0]!.text);
			streams[1]!.push(row[2]!.text);
			continue;
		}

		const text = rowText(row);
		// The second list's title (perhaps wrapped): only a title starts a row with a word.
		if (text.startsWith('After ')) {
			list = 1;
		}

		streams[list]!.push(text);
	}

	return streams.map(stream => collapsed(stream.join(' ')));
}

const expected = lists.map(list => collapsed([list.title, ...list.entries.map(entry => `${entry.label} ${entry.description}`)].join(' ')));

const sizes: Array<{width: number; height: number}> = [];
for (let width = 20; width <= 160; width += 7) {
	for (let height = 2; height <= 45; height += 3) {
		sizes.push({width, height});
	}
}

test('helpPages: at every size, each page with its hint fits the rows and columns given, and every key is there whole, in order', t => {
	for (const size of sizes) {
		const pages = helpPages(lists, size);
		const where = `${size.width}×${size.height}`;
		t.true(pages.length > 0, where);
		for (const page of pages) {
			t.true(page.rows.length > 0, `${where}: no empty page`);
			t.true(page.rows.length + 1 <= size.height, `${where}: ${page.rows.length} rows and a hint`);
			t.true(page.rows.every(row => widthOf(rowText(row)) <= size.width), `${where}: rows within the width`);
			t.true(widthOf(page.hint) <= size.width && page.hint.length > 0, `${where}: hint "${page.hint}"`);
		}

		t.deepEqual(readBack(pages), expected, where);
	}
});

test('helpPages: more than one page says which, and that space shows more (the last: the first page again)', t => {
	const pages = helpPages(lists, {width: 60, height: 12});
	t.true(pages.length > 1);
	for (const [index, page] of pages.entries()) {
		const more = index === pages.length - 1 ? 'space: first page' : 'space: more';
		t.is(page.hint, `${more} (${index + 1}/${pages.length}) · any other key closes`);
	}
});

test('helpPages: when the two lists fit side by side on one page they stand so, and any key closes it', t => {
	for (const size of [{width: 80, height: 21}, {width: 100, height: 21}, {width: 120, height: 37}]) {
		const pages = helpPages(lists, size);
		t.is(pages.length, 1, `${size.width}×${size.height}`);
		t.is(pages[0]!.hint, 'Any key closes this.');
		t.regex(rowText(pages[0]!.rows[0]!), /^Keys +After Ctrl-\/ \(attached\)$/);
	}
});

test('helpPages: a list title never ends a page, and a key whose lines fit on a page is not split across two', t => {
	// With fewer rows a title and its first key cannot share a page.
	for (const size of sizes.filter(candidate => candidate.height >= 6)) {
		const pages = helpPages(lists, size);
		for (const page of pages.slice(0, -1)) {
			const last = rowText(page.rows.at(-1)!).trim();
			t.false(lists.some(list => list.title === last), `${size.width}×${size.height}: ${last}`);
		}

		if (pages.length > 1) {
			// A page starts with a title, a key's label or the blank row between the lists, never the rest of a description.
			for (const page of pages.slice(1)) {
				t.notRegex(rowText(page.rows[0]!), /^ {2}/, `${size.width}×${size.height}`);
			}
		}
	}
});

test('helpPages: even a few rows and columns show everything, a row at a time', t => {
	const pages = helpPages(lists, {width: 10, height: 3});
	t.true(pages.every(page => page.rows.length <= 2 && page.rows.every(row => widthOf(rowText(row)) <= 10)));
	const words = pages.flatMap(page => page.rows).map(row => rowText(row)).join('').replaceAll(/\s/g, '');
	for (const entry of lists.flatMap(list => list.entries)) {
		t.true(words.includes(entry.description.replaceAll(/\s/g, '')), entry.label);
	}

	t.is(helpPages(lists, {width: 10, height: 1})[0]!.hint, '', 'no row for a hint');
});

test('wrapText: breaks between words, and inside a word only when it is longer than a line', t => {
	t.deepEqual(wrapText('allow a blocked host (Network pane)', 15), ['allow a blocked', 'host (Network', 'pane)']);
	t.deepEqual(wrapText('credentials', 5), ['crede', 'ntial', 's']);
	t.deepEqual(wrapText('', 5), ['']);
});
