/**
 * While the footer is shown the agent's terminal is one row shorter than
 * the user's (footer.ts: agentSize), but the user's terminal would still let
 * the agent's absolute moves reach the footer's row: `top` leaves by moving
 * to the row below its screen and printing a line feed there, and a program
 * that resets the scroll region (`CSI r`) lets its output scroll the footer
 * up into its own. Either way the footer is gone, and the shell's prompt
 * lands on its row. This rewrites those sequences the way a terminal of the
 * agent's size takes them: a row past its last is its last. Pure: bytes in,
 * bytes out.
 */

/** CUP (H, f), VPA (d) and DECSTBM (r), without private markers or intermediates. */
const rowSequence = /\u001B\[([\d;]*)([Hfdr])/g;
/** An escape sequence cut off at the end of a chunk. */
const unfinishedTail = /\u001B(\[[\d;?<>=]*[\u0020-\u002F]*)?$/;

function limited(sequence: string, parameters: string, final: string, rows: number): string {
	const values = parameters.split(';').map(value => (value === '' ? 0 : Number(value)));
	if (final === 'r') {
		// No bottom (or 0) is the whole screen: for the agent, its rows.
		const top = Math.max(values[0] ?? 0, 1);
		const bottom = values[1] ?? 0;
		return bottom === 0 || bottom > rows ? (top < rows ? `\u001B[${top};${rows}r` : sequence) : sequence;
	}

	const row = Math.max(values[0] ?? 0, 1);
	if (row <= rows) {
		return sequence;
	}

	return final === 'd' ? `\u001B[${rows}d` : `\u001B[${[rows, ...parameters.split(';').slice(1)].join(';')}${final}`;
}

export type RowLimit = {
	/**
	 * The chunk with rows past `rows` brought back to `rows` (undefined: no
	 * limit, the agent has the whole screen). A sequence cut off at the end
	 * waits for the rest in the next chunk.
	 */
	push(chunk: Buffer, rows: number | undefined): Buffer;
};

export function createRowLimit(): RowLimit {
	let held = '';
	return {
		push(chunk, rows) {
			if (held === '' && !chunk.includes(0x1B)) {
				return chunk;
			}

			// latin1 maps bytes 1:1 to characters, so multi-byte text passes through untouched.
			let text = held + chunk.toString('latin1');
			const tail = unfinishedTail.exec(text);
			held = tail ? tail[0] : '';
			text = tail ? text.slice(0, tail.index) : text;
			if (rows !== undefined) {
				text = text.replaceAll(rowSequence, (sequence, parameters: string, final: string) => limited(sequence, parameters, final, rows));
			}

			return Buffer.from(text, 'latin1');
		},
	};
}
