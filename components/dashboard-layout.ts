/**
 * How the dashboard's rows are shared out. Pure. The frame is exactly the
 * terminal's height, never more: Ink clears the whole screen (and the
 * scrollback) before every frame taller than the terminal.
 */
export type DashboardLayout = {
	/** How many of the problems get their two lines (the rest wait for room). */
	problems: number;
	tableHeight: number;
	paneHeight: number;
};

/** The title, the status line and the hint bar. */
const fixedRows = 3;

export function dashboardLayout({rows, problems, error, runs}: {rows: number; problems: number; error: boolean; runs: number}): DashboardLayout {
	const fixed = fixedRows + (error ? 1 : 0);
	// Problems are shown while the table and the pane keep two rows each.
	const shownProblems = Math.max(0, Math.min(problems, Math.floor((rows - fixed - 4) / 2)));
	const available = Math.max(0, rows - fixed - (shownProblems * 2));
	// The table gets about 40%: its header and its runs (an empty one says how to start, on up to two lines).
	const wanted = Math.min(Math.max(1, runs) + 1, Math.max(2, Math.floor(available * 0.4)));
	const tableHeight = Math.min(wanted, available < 4 ? available : available - 2);
	return {problems: shownProblems, tableHeight, paneHeight: available - tableHeight};
}
