/**
 * Follows the terminal modes an agent switches on in its output, so moat can
 * step aside while the agent uses the alternate screen and can undo every
 * mode when it lets go of the terminal. Pure: bytes in, modes out.
 */

export type TerminalModes = {
	alternateScreen: boolean;
	/** DEC private mouse modes currently on (1000, 1002, 1003, 1005, 1006, 1015). */
	mouse: ReadonlySet<number>;
	bracketedPaste: boolean;
	cursorHidden: boolean;
	focusEvents: boolean;
	/**
	 * Entries on the kitty keyboard protocol's stack of the current screen.
	 * The main and alternate screens keep separate stacks, so the other
	 * screen's depth is kept too and the two swap on a screen switch.
	 */
	kittyKeyboardDepth: number;
	kittyKeyboardDepthOtherScreen: number;
};

export const initialModes: TerminalModes = {
	alternateScreen: false,
	mouse: new Set(),
	bracketedPaste: false,
	cursorHidden: false,
	focusEvents: false,
	kittyKeyboardDepth: 0,
	kittyKeyboardDepthOtherScreen: 0,
};

const alternateScreenModes = new Set([47, 1047, 1049]);
const mouseModes = new Set([9, 1000, 1001, 1002, 1003, 1005, 1006, 1015, 1016]);

/** One piece of output, and whether the alternate screen is on after it. */
export type OutputPart = {bytes: Buffer; alternateScreen: boolean};

function applySequence(modes: TerminalModes, sequence: string): TerminalModes {
	const dec = /^\u001B\[\?([\d;]+)([hl])$/.exec(sequence);
	if (dec) {
		const on = dec[2] === 'h';
		let next = modes;
		for (const mode of dec[1]!.split(';').map(Number)) {
			if (alternateScreenModes.has(mode)) {
				next = on === next.alternateScreen
					? next
					: {
						...next,
						alternateScreen: on,
						kittyKeyboardDepth: next.kittyKeyboardDepthOtherScreen,
						kittyKeyboardDepthOtherScreen: next.kittyKeyboardDepth,
					};
			} else if (mouseModes.has(mode)) {
				const mouse = new Set(next.mouse);
				if (on) {
					mouse.add(mode);
				} else {
					mouse.delete(mode);
				}

				next = {...next, mouse};
			} else if (mode === 2004) {
				next = {...next, bracketedPaste: on};
			} else if (mode === 25) {
				next = {...next, cursorHidden: !on};
			} else if (mode === 1004) {
				next = {...next, focusEvents: on};
			}
		}

		return next;
	}

	// kitty keyboard protocol: CSI > flags u pushes, CSI < n u pops n.
	const push = /^\u001B\[>\d*u$/.test(sequence);
	if (push) {
		return {...modes, kittyKeyboardDepth: modes.kittyKeyboardDepth + 1};
	}

	const pop = /^\u001B\[<(\d*)u$/.exec(sequence);
	if (pop) {
		return {...modes, kittyKeyboardDepth: Math.max(0, modes.kittyKeyboardDepth - Number(pop[1] || 1))};
	}

	// RIS (full reset) turns everything off.
	if (sequence === '\u001Bc') {
		return initialModes;
	}

	return modes;
}

const csiOrReset = /\u001B\[[\d;?<>=]*[\u0020-\u002F]*[\u0040-\u007E]|\u001Bc/g;
/** An escape sequence cut off at the end of a chunk. */
const unfinishedTail = /\u001B(\[[\d;?<>=]*[\u0020-\u002F]*)?$/;

export type ModeTracker = {
	/** Splits output right after each alternate-screen switch. Bytes pass unchanged. */
	push(chunk: Buffer): OutputPart[];
	readonly modes: TerminalModes;
	/**
	 * Whether output since the last call erased the screen below the cursor
	 * (`clear`), changed the scroll region or reset the terminal: anything
	 * that wipes or unpins a footer drawn on the last row.
	 */
	takeFooterDamage(): boolean;
};

/** ED (erase in display, except "above the cursor"), DECSTBM, RIS. */
const footerDamaging = /^\u001B\[[023]?J$|^\u001B\[[\d;]*r$|^\u001Bc$/;

export function createModeTracker(start: TerminalModes = initialModes): ModeTracker {
	let modes = start;
	let tail = '';
	let footerDamage = false;
	return {
		push(chunk) {
			// latin1 maps bytes 1:1 to characters, so offsets are byte offsets.
			const text = tail + chunk.toString('latin1');
			const parts: OutputPart[] = [];
			let from = 0;
			for (const match of text.matchAll(csiOrReset)) {
				footerDamage ||= footerDamaging.test(match[0]);
				const before = modes.alternateScreen;
				modes = applySequence(modes, match[0]);
				if (modes.alternateScreen !== before) {
					const end = match.index + match[0].length - tail.length;
					parts.push({bytes: chunk.subarray(from, end), alternateScreen: modes.alternateScreen});
					from = end;
				}
			}

			if (from < chunk.length || parts.length === 0) {
				parts.push({bytes: chunk.subarray(from), alternateScreen: modes.alternateScreen});
			}

			tail = unfinishedTail.exec(text)?.[0] ?? '';
			return parts;
		},
		get modes() {
			return modes;
		},
		takeFooterDamage() {
			const damaged = footerDamage;
			footerDamage = false;
			return damaged;
		},
	};
}

/**
 * Everything needed to hand the terminal back in a sane state, whatever the
 * agent switched on. Each reset is harmless when the mode is already off,
 * except leaving the alternate screen, which restores a saved cursor and is
 * only sent when the agent is on it.
 */
export function restoreSequence(modes: TerminalModes): string {
	const popKitty = (depth: number) => (depth > 0 ? `\u001B[<${depth}u` : '');
	return [
		popKitty(modes.kittyKeyboardDepth),
		[...mouseModes].map(mode => `\u001B[?${mode}l`).join(''),
		'\u001B[?2004l',
		'\u001B[?1004l',
		// Leaving the alternate screen uncovers the main screen's own stack.
		modes.alternateScreen ? '\u001B[?1049l' + popKitty(modes.kittyKeyboardDepthOtherScreen) : '',
		'\u001B7\u001B[r\u001B8',
		'\u001B[0m',
		'\u001B[?25h',
	].join('');
}
