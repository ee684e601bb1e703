import {Box, Text} from 'ink';
import {formatAge} from '../source/output/format.js';
import {describeResources} from '../source/runs/resources.js';
import {printable} from '../source/text/printable.js';
import {stateAppearance, stateLabel} from '../source/runs/run-presentation.js';
import type {RunRow} from './dashboard-reducer.js';

const columns = [
	{title: 'NAME', width: 20},
	{title: 'AGENT', width: 7},
	// Wide enough for "stopped (143)": the exit code is the point of the label.
	{title: 'STATE', width: 14},
	{title: 'RUN ID', width: 17},
	{title: 'AGE', width: 5},
	{title: 'REQ', width: 6},
	{title: 'BLK', width: 5},
	{title: 'SERVICES', width: 14},
	{title: 'GRANTS', width: 24},
	{title: 'LIMITS', width: 26},
] as const;

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

/**
 * The runs as a selectable table: a glyph and a colour per state (the glyph
 * and the label carry it without colour), the proxy's request and blocked
 * counts, and a pointer on the selected row.
 */
export function RunTable({runs, selectedIndex, now, height = runs.length + 1, width = 120}: {runs: readonly RunRow[]; selectedIndex: number; now: Date; height?: number; width?: number}) {
	const {start, shown} = shownRuns(runs, height, selectedIndex);
	return (
		<Box flexDirection="column" width={width}>
			<Text bold wrap="truncate">{'    ' + columns.map(column => cell(column.title, column.width)).join('')}</Text>
			{shown.map((run, offset) => {
				const index = start + offset;
				const waiting = stateLabel(run) === 'waiting';
				const appearance = waiting ? {glyph: '◐', color: 'yellow'} : stateAppearance[run.state];
				const selected = index === selectedIndex;
				const values = run.state === 'damaged'
					? [run.name ?? '-', '-', stateLabel(run), run.id, formatAge(new Date(run.createdAt), now), count(run.requests), count(run.blocked)]
					: [
						run.name, run.agent ?? '-', stateLabel(run), run.id, formatAge(new Date(run.createdAt), now),
						count(run.requests), count(run.blocked), Object.keys(run.ports).sort().join(',') || '-', run.grants.join(',') || '-',
						run.resources ? describeResources(run.resources) : '-',
					];
				return (
					<Text key={run.id} inverse={selected} wrap="truncate">
						{/* The pointer marks the selection without relying on colour. */}
						{selected ? '› ' : '  '}
						<Text color={appearance.color}>{appearance.glyph} </Text>
						{values.slice(0, 5).map((value, column) => cell(value, columns[column]!.width)).join('')}
						<Text color={run.blocked ? 'red' : undefined}>{cell(values[5]!, columns[5].width)}{cell(values[6]!, columns[6].width)}</Text>
						{run.state === 'damaged'
							// What is wrong takes the columns a damaged run has nothing for.
							? cell(`${run.damage} (x removes it)`, columns[7].width + columns[8].width + columns[9].width)
							: `${cell(values[7]!, columns[7].width)}${cell(values[8]!, columns[8].width)}${cell(values[9]!, columns[9].width)}`}
					</Text>
				);
			})}
		</Box>
	);
}
