import {Box, Text} from 'ink';
import {formatAge} from '../source/output/format.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';
import {stateAppearance, stateLabel} from '../source/runs/run-presentation.js';

const columns = [
	{title: 'NAME', width: 20},
	{title: 'AGENT', width: 7},
	{title: 'STATE', width: 14},
	{title: 'RUN ID', width: 17},
	{title: 'AGE', width: 5},
	{title: 'GRANTS', width: 20},
] as const;

function cell(text: string, width: number): string {
	return text.length > width - 1 ? `${text.slice(0, width - 2)}… ` : text.padEnd(width);
}

/** The runs as a selectable table: a glyph and a colour per state. */
export function RunTable({runs, selectedIndex, now}: {runs: readonly RunMetadata[]; selectedIndex: number; now: Date}) {
	return (
		<Box flexDirection="column">
			<Text bold>{'    ' + columns.map(column => cell(column.title, column.width)).join('')}</Text>
			{runs.map((run, index) => {
				const appearance = stateAppearance[run.state];
				const selected = index === selectedIndex;
				const values = [run.name, run.agent ?? '-', stateLabel(run), run.id, formatAge(new Date(run.createdAt), now), run.grants.join(',') || '-'];
				return (
					<Text key={run.id} inverse={selected}>
						{/* The pointer marks the selection without relying on colour. */}
						{selected ? '› ' : '  '}
						<Text color={appearance.color}>{appearance.glyph} </Text>
						{values.map((value, column) => cell(value, columns[column]!.width)).join('')}
					</Text>
				);
			})}
		</Box>
	);
}
