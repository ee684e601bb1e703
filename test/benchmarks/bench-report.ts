/**
 * The figures a benchmark hands to `npm run bench` (all-benchmarks.ts): each
 * bench prints its own words as before, and also reports each figure here.
 * Outside `npm run bench` (no MOAT_BENCH_REPORT) reporting writes nothing.
 */
import {appendFileSync} from 'node:fs';
import process from 'node:process';

export type BenchFigure = {
	/** What was measured, as the issue names it. */
	figure: string;
	/** The figure as measured, with its unit and the ratio to its baseline or peer. */
	measured: string;
	/** The target, in words ("≤ 1.2× docker run"). */
	target: string;
	/** Whether the target was met; undefined when the figure has no target. */
	met?: boolean;
};

/** Where the figures go: a JSON line each, read back by all-benchmarks.ts. */
export const reportVariable = 'MOAT_BENCH_REPORT';

export function reportFigures(bench: string, figures: readonly BenchFigure[]): void {
	const file = process.env[reportVariable];
	if (!file) {
		return;
	}

	appendFileSync(file, figures.map(figure => JSON.stringify({bench, ...figure}) + '\n').join(''));
}

/** One table of rows, columns padded to their widest cell. */
export function formatTable(rows: ReadonlyArray<readonly string[]>): string {
	const columns = Math.max(...rows.map(row => row.length));
	const widths = Array.from({length: columns}, (_, column) => Math.max(...rows.map(row => (row[column] ?? '').length)));
	return rows.map(row => row.map((cell, column) => (column < columns - 1 ? cell.padEnd(widths[column]!) : cell)).join('  ').trimEnd()).join('\n');
}
