import type {TerminalInput} from './terminal-session.js';

/** The state of a masked line being typed. */
export type MaskedLine = {text: string; done: boolean; cancelled: boolean};

const graphemes = new Intl.Segmenter(undefined, {granularity: 'grapheme'});

/** Deletes what a person sees as the last character (a whole emoji, not half of one). */
export function withoutLastCharacter(text: string): string {
	const segments = [...graphemes.segment(text)];
	return segments.slice(0, -1).map(segment => segment.segment).join('');
}

/**
 * One key's effect on a masked line. Pure. Enter finishes, Ctrl+C and
 * Ctrl+D (on an empty line) cancel, backspace deletes, Ctrl+U clears;
 * other control characters are ignored so a stray escape sequence does
 * not end up in a token.
 */
export function typeIntoMaskedLine(line: MaskedLine, character: string): MaskedLine {
	if (line.done || line.cancelled) {
		return line;
	}

	switch (character) {
		case '\r':
		case '\n': {
			return {...line, done: true};
		}

		case '\u0003': {
			return {...line, cancelled: true};
		}

		case '\u0004': {
			return line.text === '' ? {...line, cancelled: true} : line;
		}

		case '\u007F':
		case '\b': {
			return {...line, text: withoutLastCharacter(line.text)};
		}

		case '\u0015': {
			return {...line, text: ''};
		}

		default: {
			return character < ' ' ? line : {...line, text: line.text + character};
		}
	}
}

/** Asks for a secret on the terminal, echoing one * per character. Undefined when cancelled. */
export async function promptMasked(question: string, input: TerminalInput, output: NodeJS.WritableStream): Promise<string | undefined> {
	output.write(question);
	let line: MaskedLine = {text: '', done: false, cancelled: false};
	input.setRawMode?.(true);
	input.resume();
	try {
		return await new Promise<string | undefined>(resolve => {
			const onData = (chunk: Buffer | string) => {
				// Escape sequences (arrow keys, pastes' bracket markers) are not token text.
				const text = chunk.toString().replaceAll(/\u001B\[[\d;?]*[\u0020-\u002F]*[\u0040-\u007E]|\u001B./g, '');
				for (const character of text) {
					const before = [...line.text].length;
					line = typeIntoMaskedLine(line, character);
					const after = [...line.text].length;
					output.write(after > before ? '*'.repeat(after - before) : '\b \b'.repeat(before - after));
					if (line.done || line.cancelled) {
						input.off('data', onData);
						output.write('\n');
						resolve(line.cancelled ? undefined : line.text);
						return;
					}
				}
			};

			input.on('data', onData);
		});
	} finally {
		input.setRawMode?.(false);
		input.pause();
	}
}
