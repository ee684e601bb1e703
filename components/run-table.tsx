import {Box, Text} from 'ink';
import type {RunRow} from './dashboard-reducer.js';
import {tableRows} from './run-table-text.js';

export {cellColor, shownRuns, tableColumnKeys, tableColumns, tableWindow, type TableColumn, type TableColumnKey} from './run-table-text.js';

/**
 * The runs as a selectable table: a glyph and a colour per state (the glyph
 * and the label carry it without colour), the proxy's request and blocked
 * counts, and a pointer on the selected row. Columns give way to a narrow
 * terminal by importance (tableColumns).
 */
export function RunTable({runs, selectedIndex, now, height = runs.length + 1, width = 120}: {runs: readonly RunRow[]; selectedIndex: number; now: Date; height?: number; width?: number}) {
	const {header, rows} = tableRows(runs, {selectedIndex, now, height, width});
	return (
		<Box flexDirection="column" width={width}>
			<Text bold wrap="truncate">{header}</Text>
			{rows.map(row => (
				<Text key={row.id} inverse={row.selected} wrap="truncate">
					{/* The pointer marks the selection without relying on colour. */}
					{row.selected ? '› ' : '  '}
					<Text color={row.glyph.color}>{row.glyph.text}</Text>
					{row.cells.map(cell => (
						<Text key={cell.key} color={cell.color}>{cell.text}</Text>
					))}
					{row.damage}
				</Text>
			))}
		</Box>
	);
}
