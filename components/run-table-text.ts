import {formatAge} from '../source/output/format.js';
import {describeResources} from '../source/runs/resources.js';
import {printable} from '../source/text/printable.js';
import {stateAppearance, stateLabel} from '../source/runs/run-presentation.js';
import type {RunRow} from './dashboard-reducer.js';

/**
 * The runs table as text: its columns and what each row's cells say. Pure,
 * and without Ink, so that the dashboard's first frame (first-frame.ts) is
 * drawn from the same words before Ink has loaded; RunTable draws them with Ink.
 */
export const tableColumnKeys = ['name', 'agent', 'state', 'id', 'age', 'requests', 'blocked', 'services', 'grants', 'limits'] as const;
export type TableColumnKey = (typeof tableColumnKeys)[number];

type ColumnSpec = {key: TableColumnKey; title: string; width: number; minimum: number};

/** The columns in the order they are shown, each at its preferred width and at the least it can do with. */
const columnSpecs: readonly ColumnSpec[] = [
	{key: 'name', title: 'NAME', width: 20, minimum: 16},
	{key: 'agent', title: 'AGENT', width: 7, minimum: 7},
	// Wide enough for "stopped (143)": the exit code is the point of the label.
	{key: 'state', title: 'STATE', width: 14, minimum: 14},
	{key: 'id', title: 'RUN ID', width: 17, minimum: 17},
	{key: 'age', title: 'AGE', width: 5, minimum: 5},
	{key: 'requests', title: 'REQ', width: 6, minimum: 6},
	{key: 'blocked', title: 'BLK', width: 5, minimum: 5},
	{key: 'services', title: 'SERVICES', width: 14, minimum: 10},
	{key: 'grants', title: 'GRANTS', width: 24, minimum: 10},
	{key: 'limits', title: 'LIMITS', width: 26, minimum: 12},
];

/**
 * Which columns give way last: a run is told apart by its name, state and
 * age, then its id; what it asked of the network (blocked before all
 * requests) comes before what it was given.
 */
const importance: readonly TableColumnKey[] = ['name', 'state', 'age', 'id', 'agent', 'blocked', 'requests', 'grants', 'services', 'limits'];

/** The pointer and the state glyph before the first column. */
const leadWidth = 4;

export type TableColumn = {key: TableColumnKey; title: string; width: number};

/**
 * The columns a table `width` wide shows, in order, and how wide each is.
 * Pure. Columns are taken by importance while they fit at their least
 * width (no title is ever cut), and the room left widens them by
 * importance up to what they would like.
 */
export function tableColumns(width: number): TableColumn[] {
	const budget = width - leadWidth;
	const chosen = new Map<TableColumnKey, number>();
	let used = 0;
	for (const key of importance) {
		const spec = columnSpecs.find(candidate => candidate.key === key)!;
		if (used + spec.minimum <= budget) {
			chosen.set(key, spec.minimum);
			used += spec.minimum;
		}
	}

	for (const key of importance) {
		const spec = columnSpecs.find(candidate => candidate.key === key)!;
		const current = chosen.get(key);
		if (current !== undefined) {
			const grown = Math.min(spec.width, current + Math.max(0, budget - used));
			used += grown - current;
			chosen.set(key, grown);
		}
	}

	return columnSpecs.filter(spec => chosen.has(spec.key)).map(spec => ({key: spec.key, title: spec.title, width: chosen.get(spec.key)!}));
}

/** One column's text: names, grants and ports come from runs' metadata, so they are made printable here. */
function cell(raw: string, width: number): string {
	const text = printable(raw);
	return text.length > width - 1 ? `${text.slice(0, width - 2)}… ` : text.padEnd(width);
}

/** Which rows fit in `height` (one is the header) with the selected one in view. Pure. */
export function tableWindow(total: number, height: number, selected: number): number {
	const rows = Math.max(1, height - 1);
	return Math.max(0, Math.min(selected - Math.floor(rows / 2), total - rows));
}

/** The runs a table of `height` rows shows, and the index of the first. Pure. */
export function shownRuns<T>(runs: readonly T[], height: number, selected: number): {start: number; shown: T[]} {
	const start = tableWindow(runs.length, height, selected);
	return {start, shown: runs.slice(start, start + Math.max(1, height - 1))};
}

const count = (value: number | undefined) => (value === undefined ? '-' : String(value));

/** What the columns say about a run that is not damaged. */
function valuesOf(run: Exclude<RunRow, {state: 'damaged'}>, now: Date): Record<TableColumnKey, string> {
	return {
		name: run.name,
		agent: run.agent ?? '-',
		state: stateLabel(run),
		id: run.id,
		age: formatAge(new Date(run.createdAt), now),
		requests: count(run.requests),
		blocked: count(run.blocked),
		services: Object.keys(run.ports).sort().join(',') || '-',
		grants: run.grants.join(',') || '-',
		limits: run.resources ? describeResources(run.resources) : '-',
	};
}

/** A cell's colour: only the blocked count is an alarm, not the requests beside it. Pure. */
export function cellColor(key: TableColumnKey, run: Pick<RunRow, 'blocked'>): 'red' | undefined {
	return key === 'blocked' && run.blocked ? 'red' : undefined;
}

/** A damaged run has nothing for the columns after its counts: what is wrong takes their room, and whatever is left. */
const damageColumns: ReadonlySet<TableColumnKey> = new Set(['services', 'grants', 'limits']);

/** One row of the table: its pointer, state glyph and cells, each with its colour. Pure. */
export type TableRow = {
	id: string;
	selected: boolean;
	glyph: {text: string; color: string};
	cells: Array<{key: TableColumnKey; text: string; color: 'red' | undefined}>;
	/** What is wrong with a damaged run, in the room its missing columns leave. */
	damage?: string;
};

/** The rows of a table `width` wide and `height` high (the header is one), the selected one in view. Pure. */
export function tableRows(runs: readonly RunRow[], {selectedIndex, now, height, width}: {selectedIndex: number; now: Date; height: number; width: number}): {header: string; rows: TableRow[]} {
	const {start, shown} = shownRuns(runs, height, selectedIndex);
	const columns = tableColumns(width);
	const common = columns.filter(column => !damageColumns.has(column.key));
	const damageWidth = width - leadWidth - common.reduce((total, column) => total + column.width, 0);
	return {
		header: ' '.repeat(leadWidth) + columns.map(column => cell(column.title, column.width)).join(''),
		rows: shown.map((run, offset) => {
			const waiting = stateLabel(run) === 'waiting';
			const appearance = waiting ? {glyph: '◐', color: 'yellow'} : stateAppearance[run.state];
			const values: Record<TableColumnKey, string> = run.state === 'damaged'
				? {name: run.name ?? '-', agent: '-', state: stateLabel(run), id: run.id, age: formatAge(new Date(run.createdAt), now), requests: count(run.requests), blocked: count(run.blocked), services: '', grants: '', limits: ''}
				: valuesOf(run, now);
			return {
				id: run.id,
				selected: start + offset === selectedIndex,
				glyph: {text: `${appearance.glyph} `, color: appearance.color},
				cells: (run.state === 'damaged' ? common : columns).map(column => ({key: column.key, text: cell(values[column.key], column.width), color: cellColor(column.key, run)})),
				...run.state === 'damaged' && damageWidth > 1 ? {damage: cell(`${run.damage} (x removes it)`, damageWidth)} : {},
			};
		}),
	};
}
