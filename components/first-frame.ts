import {dashboardReducer, initialDashboardState, panes, paneTitles, selectedRun, type RunRow} from './dashboard-reducer.js';
import {dashboardLayout} from './dashboard-layout.js';
import {hintLine} from './key-bindings.js';
import {newestFirst} from '../source/runs/run-presentation.js';
import {tableRows} from './run-table-text.js';

/** A piece of a line and how it looks, as Ink (through chalk) writes it. */
type Piece = {text: string; bold?: boolean; dim?: boolean; inverse?: boolean; color?: string};

const colorCodes: Record<string, number> = {gray: 90, red: 31, green: 32, yellow: 33};

/**
 * One line from its pieces, cut as Ink's wrap="truncate" cuts it (an
 * ellipsis in the last column) when wider than `columns`. Pure.
 */
function line(pieces: readonly Piece[], columns: number): string {
	const width = pieces.reduce((total, piece) => total + piece.text.length, 0);
	let room = width > columns ? Math.max(0, columns - 1) : width;
	let output = '';
	for (const piece of pieces) {
		const text = piece.text.slice(0, room);
		room -= text.length;
		const on = [piece.bold ? 1 : undefined, piece.dim ? 2 : undefined, piece.inverse ? 7 : undefined, piece.color ? colorCodes[piece.color] : undefined].filter(code => code !== undefined);
		output += on.length > 0 && text ? `\u001B[${on.join(';')}m${text}\u001B[0m` : text;
	}

	return width > columns && columns > 0 ? `${output}…` : output;
}

/**
 * The dashboard's first frame, as its Ink components draw it before any pane
 * has loaded: the title with the runs counted, the table with the newest run
 * selected, the Preview tab waiting, and the hint bar. Drawn from the run
 * records alone, without Ink or React (about a second to load on a busy
 * machine): moat writes it first, then Ink, once loaded, draws the same frame
 * over it and carries on. Pure: the terminal's lines, each at most `columns`
 * wide, `rows` of them.
 */
export function firstFrame({runs, rows, columns, now}: {runs: readonly RunRow[]; rows: number; columns: number; now: Date}): string[] {
	const state = dashboardReducer(initialDashboardState(), {type: 'runs', runs: newestFirst(runs)});
	const {index: selectedIndex, run: selected} = selectedRun(state);
	const {tableHeight, paneHeight} = dashboardLayout({rows, problems: 0, error: false, runs: runs.length});
	const fill = (lines: string[], height: number) => [...lines, ...Array.from({length: Math.max(0, height - lines.length)}, () => '')].slice(0, height);
	const {header, rows: tableLines} = tableRows(state.runs, {selectedIndex, now, height: tableHeight, width: columns});
	const table = runs.length === 0
		? [line([{text: 'No runs yet. Press n to start a bottle, or run moat run -- COMMAND.'}], columns)]
		: [
			line([{text: header, bold: true}], columns),
			...tableLines.map(row => line([
				{text: row.selected ? '› ' : '  ', inverse: row.selected},
				{text: row.glyph.text, color: row.glyph.color, inverse: row.selected},
				...row.cells.map(cell => ({text: cell.text, color: cell.color, inverse: row.selected})),
				{text: row.damage ?? '', inverse: row.selected},
			], columns)),
		];
	const pane = selected
		? [
			line([...panes.map(name => (name === state.pane ? {text: ` ${paneTitles[name]} `, bold: true} : {text: ` ${paneTitles[name]} `, color: 'gray'})), {text: '  following', dim: true}], columns),
			line([{text: 'Loading…', dim: true}], columns),
		]
		: [];
	return [
		line([{text: `moat · ${runs.length} run${runs.length === 1 ? '' : 's'}`, bold: true}], columns),
		...fill(table, tableHeight),
		...fill(pane, paneHeight),
		'',
		line([{text: hintLine('table', columns), dim: true}], columns),
].slice(0, rows);
}

/**
 * What moat writes for the first frame: the alternate screen (Ink's, which
 * Ink enters again without a change), the cursor hidden, each line at its
 * row, and the cursor back home, where Ink starts drawing. Pure.
 */
export function firstFrameOutput(lines: readonly string[]): string {
	return `\u001B[?1049h\u001B[?25l${lines.map((line, index) => `\u001B[${index + 1};1H${line}\u001B[K`).join('')}\u001B[H`;
}

/** Leaves the alternate screen the first frame entered, when Ink never came to take it over. */
export const firstFrameLeave = '\u001B[?1049l\u001B[?25h';
