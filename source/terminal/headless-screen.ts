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
		dispose() {
			terminal.dispose();
		},
	};
}
