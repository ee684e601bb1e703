import {printable, printableJson} from '../text/printable.js';

/**
 * Plain-text column layout for command output; widths from the content.
 * Cells hold names, paths and errors moat did not write, so each is made
 * printable here, for every table at once.
 */
export function formatTable(headers: readonly string[], rawRows: ReadonlyArray<readonly string[]>): string {
	const rows = rawRows.map(row => row.map(cell => printable(cell)));
	const widths = headers.map((header, column) => Math.max(header.length, ...rows.map(row => (row[column] ?? '').length)));
	const render = (cells: readonly string[]) =>
		cells
			.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
			.join('  ')
			.trimEnd();
	return [render(headers), ...rows.map(row => render(row))].join('\n') + '\n';
}

/** "1 entry", "2 entries", "0 signed checkpoints": a count with its noun in the number it takes. */
export function counted(count: number, singular: string, plural = `${singular}s`): string {
	return `${count} ${count === 1 ? singular : plural}`;
}

/** "5s", "3m", "2h", "4d": how long ago, coarse like docker ps. */
export function formatAge(since: Date, now: Date): string {
	const seconds = Math.max(0, Math.floor((now.getTime() - since.getTime()) / 1000));
	if (seconds < 60) {
		return `${seconds}s`;
	}

	if (seconds < 3600) {
		return `${Math.floor(seconds / 60)}m`;
	}

	if (seconds < 86_400) {
		return `${Math.floor(seconds / 3600)}h`;
	}

	return `${Math.floor(seconds / 86_400)}d`;
}

export function formatBytes(bytes: number): string {
	const units = ['B', 'kB', 'MB', 'GB', 'TB'];
	let unit = 0;
	// Choose the unit by the value as it will be shown: 999 999 B rounds to
	// 1000 kB, which reads better as 1.0 MB.
	while (unit < units.length - 1 && Math.round(bytes / 1000 ** unit) >= 1000) {
		unit++;
	}

	const value = bytes / 1000 ** unit;
	if (unit === 0) {
		return `${value} B`;
	}

	const oneDecimal = Math.round(value * 10) / 10;
	return `${oneDecimal < 10 ? oneDecimal.toFixed(1) : Math.round(value).toFixed(0)} ${units[unit]}`;
}

/** What `--json` prints: the value, indented, safe on a terminal (see printableJson). */
export function formatJson(value: unknown): string {
	return printableJson(value) + '\n';
}
