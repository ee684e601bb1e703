/**
 * The one-line footer shown while attached, kept below a scroll region so
 * the agent's output never scrolls it away. Pure: returns the sequences to
 * write. Every sequence saves and restores the cursor (ESC 7 / ESC 8) so the
 * agent's cursor is where the agent left it.
 */

import {attachedHint, type AttachedFrom} from './attached-keys.js';

export type TerminalSize = {rows: number; columns: number};

const saveCursor = '\u001B7';
const restoreCursor = '\u001B8';

/** The agent's terminal while the footer is shown: one row shorter. */
export function agentSize(size: TerminalSize, footerShown: boolean): TerminalSize {
	return footerShown && size.rows > 2 ? {rows: size.rows - 1, columns: size.columns} : size;
}

function fit(text: string, columns: number): string {
	return text.length > columns ? text.slice(0, Math.max(0, columns - 1)) + '…' : text.padEnd(columns);
}

/** Sets the scroll region above the footer and draws it. */
export function showFooter(size: TerminalSize, text: string): string {
	if (size.rows <= 2) {
		return '';
	}

	return [
		saveCursor,
		`\u001B[1;${size.rows - 1}r`,
		`\u001B[${size.rows};1H\u001B[2K\u001B[7m${fit(text, size.columns)}\u001B[0m`,
		restoreCursor,
	].join('');
}

/** Gives the whole screen back: no scroll region, footer line cleared. */
export function hideFooter(size: TerminalSize): string {
	return [saveCursor, '\u001B[r', `\u001B[${size.rows};1H\u001B[2K`, restoreCursor].join('');
}

/**
 * Where moat writes once it lets go of the terminal: the start of the first
 * row below everything on the screen and below the cursor, so its message
 * neither lands on a line the agent drew (Claude Code keeps its cursor in
 * its input box, above a separator and a status line) nor leaves the shell's
 * prompt to overwrite one. `lines` are the screen's rows, `cursorRow` the
 * cursor's, from 0. Pure.
 */
export function belowDrawn(lines: readonly string[], cursorRow: number): string {
	let lastDrawn = lines.length - 1;
	while (lastDrawn >= 0 && lines[lastDrawn]!.trim() === '') {
		lastDrawn--;
	}

	const below = Math.max(lastDrawn, cursorRow) + 1;
	// On the last row already: a line feed there scrolls up to make room.
	return below < lines.length ? `\u001B[${below + 1};1H` : `\u001B[${lines.length};1H\r\n`;
}

/** The window title, where the hint goes while the agent owns the screen. */
export function setTitle(text: string): string {
	return `\u001B]2;${text.replaceAll(/[\u0000-\u001F\u007F-\u009F]/g, '')}\u0007`;
}

/** The footer: the run, then the attached keys that have a hint (attached-keys.ts). */
export function footerText(runName: string, runId: string, from: AttachedFrom): string {
	return ` moat · ${runName} (${runId}) · ${attachedHint(from)}`;
}

/** The window title while the agent is on the alternate screen: the same hint as the footer. */
export function titleText(runName: string, from: AttachedFrom): string {
	return `moat · ${runName} · ${attachedHint(from)}`;
}
