import serializeAddon from '@xterm/addon-serialize';
import xtermHeadless from '@xterm/headless';

/** A terminal screen kept in memory: feed it output, ask what it shows. */
export type HeadlessScreen = {
	write(bytes: Buffer): Promise<void>;
	/** Escape sequences that repaint the current screen (and its scrollback) on a real terminal. */
	serialize(): string;
	/** The visible screen as plain text, one string per row (trailing blanks trimmed). */
	lines(): string[];
	resize(size: {rows: number; columns: number}): void;
	readonly alternateScreen: boolean;
	/** The cursor's row on the visible screen, from 0. */
	readonly cursorRow: number;
	dispose(): void;
};

/** The only place moat touches @xterm/headless and its serialize addon. */
export function createHeadlessScreen(size: {rows: number; columns: number}, scrollback = 1000): HeadlessScreen {
	const terminal = new xtermHeadless.Terminal({rows: size.rows, cols: size.columns, scrollback, allowProposedApi: true});
	const serializer = new serializeAddon.SerializeAddon();
	terminal.loadAddon(serializer);
	return {
		async write(bytes) {
			await new Promise<void>(resolve => {
				terminal.write(bytes, resolve);
			});
		},
		serialize() {
			return serializer.serialize();
		},
		lines() {
			const buffer = terminal.buffer.active;
			const rows: string[] = [];
			for (let row = 0; row < terminal.rows; row++) {
				rows.push(buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '');
			}

			return rows;
		},
		resize({rows, columns}) {
			if (rows !== terminal.rows || columns !== terminal.cols) {
				terminal.resize(columns, rows);
			}
		},
		get alternateScreen() {
			return terminal.buffer.active.type === 'alternate';
		},
		get cursorRow() {
			return terminal.buffer.active.cursorY;
		},
		dispose() {
			terminal.dispose();
		},
	};
}

/**
 * A terminal's output as lines a person reads afterwards: played through a
 * headless terminal, so cursor moves, redraws and erases land where they did
 * on the screen, and read back as text. Lines that scrolled off the top can
 * no longer change and are handed out as they go; what is still on the
 * screen may change with more output.
 */
export type Transcript = {
	/** Plays output; resolves with the lines that left the screen since the last call. */
	write(text: string): Promise<string[]>;
	/** The lines still on the screen, trailing blank rows left out. */
	screen(): string[];
	dispose(): void;
};

/** Erase scrollback: what scrolled off is already handed out, so it cannot be taken back. */
const eraseScrollback = '\u001B[3J';

export function createTranscript(size: {rows: number; columns: number}): Transcript {
	const terminal = new xtermHeadless.Terminal({
		rows: size.rows,
		cols: size.columns,
		// Room for one write's worth of scrolling; it is emptied after each write.
		scrollback: 1_000_000,
		// `clear` pushes the screen into the scrollback, as a log would keep it, instead of dropping it.
		scrollOnEraseInDisplay: true,
		allowProposedApi: true,
	});
	const normal = terminal.buffer.normal;
	/** A line whose rows were read while it may still go on in the next row (a wrapped line). */
	let carry: string | undefined;
	/** Rows of the normal buffer's scrollback already read (it cannot be emptied while the alternate screen is on). */
	let taken = 0;
	const play = async (text: string) => new Promise<void>(resolve => {
		terminal.write(text, resolve);
	});

	/** Rows [from, to) of the normal buffer as whole lines, wrapped rows joined; the last may continue. */
	const read = (from: number, to: number, lines: string[]) => {
		for (let row = from; row < to; row++) {
			const line = normal.getLine(row);
			const continues = normal.getLine(row + 1)?.isWrapped ?? false;
			const text = line?.translateToString(!continues) ?? '';
			if (line?.isWrapped && carry !== undefined) {
				carry += text;
			} else {
				if (carry !== undefined) {
					lines.push(carry);
				}

				carry = text;
			}
		}
	};

	return {
		async write(text) {
			await play(text.replaceAll(eraseScrollback, ''));
			const lines: string[] = [];
			const base = normal.baseY;
			read(taken, base, lines);
			if (carry !== undefined && !normal.getLine(base)?.isWrapped) {
				lines.push(carry);
				carry = undefined;
			}

			if (terminal.buffer.active.type === 'normal') {
				await play(eraseScrollback);
				taken = 0;
			} else {
				taken = base;
			}

			return lines;
		},
		screen() {
			const saved = carry;
			const lines: string[] = [];
			read(normal.baseY, normal.baseY + terminal.rows, lines);
			if (carry !== undefined) {
				lines.push(carry);
			}

			carry = saved;
			if (terminal.buffer.active.type === 'alternate') {
				const alternate = terminal.buffer.active;
				for (let row = 0; row < terminal.rows; row++) {
					lines.push(alternate.getLine(row)?.translateToString(true) ?? '');
				}
			}

			while (lines.length > 0 && lines.at(-1)!.trim() === '') {
				lines.pop();
			}

			return lines;
		},
		dispose() {
			terminal.dispose();
		},
	};
}
