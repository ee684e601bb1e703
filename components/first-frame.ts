import {dashboardReducer, initialDashboardState, panes, paneTitles, selectedRun, type RunRow} from './dashboard-reducer.js';
import {dashboardLayout} from './dashboard-layout.js';
import {hintLine} from './key-bindings.js';
import {newestFirst} from '../source/runs/run-presentation.js';
import {tableRows} from './run-table-text.js';

/** The few SGR sequences the frame uses, as Ink (through chalk) writes them. */
const style = {
	bold: (text: string) => `\u001B[1m${text}\u001B[22m`,
	dim: (text: string) => `\u001B[2m${text}\u001B[22m`,
	inverse: (text: string) => `\u001B[7m${text}\u001B[27m`,
	color: (name: string | undefined, text: string) => {
		const code = name === undefined ? undefined : {gray: 90, red: 31, green: 32, yellow: 33}[name];
		return code === undefined ? text : `\u001B[${code}m${text}\u001B[39m`;
	},
};

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
	const cut = (text: string) => (text.length > columns ? `${text.slice(0, Math.max(0, columns - 1))}…` : text);
	const fill = (lines: string[], height: number) => [...lines, ...Array.from({length: Math.max(0, height - lines.length)}, () => '')].slice(0, height);

	const table = runs.length === 0
		? [cut('No runs yet. Press n to start a bottle, or run moat run -- COMMAND.')]
		: (() => {
			const {header, rows: tableLines} = tableRows(state.runs, {selectedIndex, now, height: tableHeight, width: columns});
			return [
				style.bold(cut(header)),
				...tableLines.map(row => {
					const text = `${row.selected ? '› ' : '  '}${style.color(row.glyph.color, row.glyph.text)}${row.cells.map(cell => style.color(cell.color, cell.text)).join('')}${row.damage ?? ''}`;
					return row.selected ? style.inverse(text) : text;
				}),
			];
		})();
	const pane = selected
		? [
			panes.map(name => (name === state.pane ? style.bold(` ${paneTitles[name]} `) : style.color('gray', ` ${paneTitles[name]} `))).join('') + style.dim('  following'),
			style.dim('Loading…'),
		]
		: [];
	return [
		style.bold(cut(`moat · ${runs.length} run${runs.length === 1 ? '' : 's'}`)),
		...fill(table, tableHeight),
		...fill(pane, paneHeight),
		'',
		style.dim(cut(hintLine('table', columns))),
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
