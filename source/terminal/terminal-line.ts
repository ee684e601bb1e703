/**
 * One line of a terminal's output as text, for places that show output a
 * line at a time as it comes (following a run, the dashboard's Logs pane).
 * Pure. A whole log is better played through a headless terminal
 * (headless-screen.ts: createTranscript), which also follows moves between
 * lines; a single line can only honour what stays on it.
 */

const tabWidth = 8;

/** Parameters of a CSI sequence: the first, with its default when absent or 0. */
function firstParameter(parameters: string, fallback: number): number {
	const value = Number(parameters.split(';')[0] || fallback);
	return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** ESC [ (parameters) (intermediates) final */
const csi = /^\u001B\[([\d;:<=>?]*)[\u0020-\u002F]*([\u0040-\u007E])/;
/** OSC, DCS, SOS, PM and APC strings run to BEL or ST (ESC \). */
const controlString = /^\u001B[\]PX^_][^\u0007\u001B]*(?:\u0007|\u001B\\|$)/;
/** ESC with intermediates (a character set: ESC ( B) and a final byte, or ESC and one byte. */
const shortEscape = /^\u001B[\u0020-\u002F]*[\u0030-\u007E]?/;

/**
 * The line as a terminal would show it: each character written where the
 * cursor is (a carriage return redraws from the start, cursor left, right
 * and to-column moves skip without writing, erases blank), read back with
 * trailing blanks left out. Colours, titles, moves to other lines and other
 * controls show nothing.
 */
export function plainTerminalLine(line: string): string {
	// Most lines have nothing to interpret.
	if (!/[\u0000-\u001F\u007F-\u009F]/.test(line)) {
		return line;
	}

	/** undefined: never written, or erased. */
	const cells: Array<string | undefined> = [];
	let column = 0;
	let index = 0;
	while (index < line.length) {
		if (line[index] === '\u001B') {
			const rest = line.slice(index, index + 256);
			const sequence = csi.exec(rest);
			if (sequence) {
				index += sequence[0].length;
				const [, parameters = '', final] = sequence;
				if (parameters.startsWith('?') || parameters.startsWith('>') || parameters.startsWith('<') || parameters.startsWith('=')) {
					continue;
				}

				switch (final) {
					case 'C': {
						column += firstParameter(parameters, 1);
						break;
					}

					case 'D': {
						column = Math.max(0, column - firstParameter(parameters, 1));
						break;
					}

					case 'G':
					case '`': {
						column = firstParameter(parameters, 1) - 1;
						break;
					}

					case 'K': {
						const mode = Number(parameters.split(';')[0] || 0);
						if (mode === 0) {
							cells.length = Math.min(cells.length, column);
						} else if (mode === 1) {
							cells.fill(undefined, 0, Math.min(cells.length, column + 1));
						} else if (mode === 2) {
							cells.length = 0;
						}

						break;
					}

					case 'X': {
						cells.fill(undefined, column, Math.min(cells.length, column + firstParameter(parameters, 1)));
						break;
					}

					case 'P': {
						cells.splice(column, firstParameter(parameters, 1));
						break;
					}

					case '@': {
						if (column < cells.length) {
							cells.splice(column, 0, ...Array.from({length: firstParameter(parameters, 1)}, () => undefined));
						}

						break;
					}

					default:
				}

				continue;
			}

			index += (controlString.exec(rest) ?? shortEscape.exec(rest))![0].length;
			continue;
		}

		// Whole code points: an emoji is one character, not two halves.
		const character = String.fromCodePoint(line.codePointAt(index)!);
		index += character.length;
		if (character === '\r') {
			column = 0;
		} else if (character === '\b') {
			column = Math.max(0, column - 1);
		} else if (character === '\t') {
			column += tabWidth - (column % tabWidth);
		} else if (!/[\u0000-\u001F\u007F-\u009F]/.test(character)) {
			cells[column] = character;
			column++;
		}
	}

	let end = cells.length;
	while (end > 0 && cells[end - 1] === undefined) {
		end--;
	}

	let text = '';
	for (let cell = 0; cell < end; cell++) {
		text += cells[cell] ?? ' ';
	}

	return text;
}
