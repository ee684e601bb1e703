/**
 * The attach escape model (SPEC §5), as a pure parser over the user's key
 * bytes. The prefix is Ctrl-/ — byte 0x1F, or `CSI 47;5u` when the agent has
 * turned on the kitty keyboard protocol — followed by a command key. The
 * prefix twice sends one literal prefix; any other key after the prefix goes
 * to the agent together with the prefix. Reads can split a sequence
 * anywhere, so an unfinished escape sequence is held until the next read (or
 * `flush()`, which the caller invokes after a short quiet period so a lone
 * Escape key is not held forever).
 */

export type EscapeEvent = {kind: 'input'; bytes: Buffer} | {kind: 'command'; key: string};

const escape = 0x1B;
const prefixByte = 0x1F;

type Token = {bytes: Buffer; key?: KeyPress};

/** A key as the kitty protocol reports it. */
type KeyPress = {codepoint: number; modifiers: number; event: 'press' | 'repeat' | 'release'};

/** `CSI codepoint[:alternates] [; modifiers[:event]] u` */
function decodeKitty(sequence: string): KeyPress | undefined {
	const match = /^\u001B\[(\d+)(?::[\d:]*)?(?:;(\d*)(?::(\d))?)?(?:;[\d:]*)?u$/.exec(sequence);
	if (!match) {
		return undefined;
	}

	const event = match[3] === '3' ? 'release' : match[3] === '2' ? 'repeat' : 'press';
	return {codepoint: Number(match[1]), modifiers: match[2] ? Number(match[2]) : 1, event};
}

/** kitty: modifiers are 1 + bit flags; 5 = 1 + ctrl(4). Code 47 is "/". */
function isKittyPrefix(key: KeyPress | undefined): boolean {
	return key?.codepoint === 47 && key.modifiers === 5 && key.event !== 'release';
}

/**
 * Splits input into tokens: one CSI sequence, an ESC with the byte after
 * it, or one plain byte. Returns the unfinished tail separately.
 */
function tokenize(input: Buffer): {tokens: Token[]; rest: Buffer} {
	const tokens: Token[] = [];
	let index = 0;
	while (index < input.length) {
		const byte = input[index]!;
		if (byte !== escape) {
			tokens.push({bytes: input.subarray(index, index + 1)});
			index++;
			continue;
		}

		if (index + 1 >= input.length) {
			return {tokens, rest: input.subarray(index)};
		}

		if (input[index + 1] !== 0x5B) {
			tokens.push({bytes: input.subarray(index, index + 2)});
			index += 2;
			continue;
		}

		// CSI: parameters and intermediates, then one final byte 0x40–0x7E.
		let end = index + 2;
		while (end < input.length && (input[end]! < 0x40 || input[end]! > 0x7E)) {
			end++;
		}

		if (end >= input.length) {
			return {tokens, rest: input.subarray(index)};
		}

		const bytes = input.subarray(index, end + 1);
		tokens.push({bytes, key: decodeKitty(bytes.toString('latin1'))});
		index = end + 1;
	}

	return {tokens, rest: Buffer.alloc(0)};
}

function isPrefix(token: Token): boolean {
	return (token.bytes.length === 1 && token.bytes[0] === prefixByte) || isKittyPrefix(token.key);
}

/** The plain key a token stands for, if it is one unmodified key press. */
function plainKey(token: Token): string | undefined {
	if (token.bytes.length === 1 && token.bytes[0]! >= 0x20 && token.bytes[0]! < 0x7F) {
		return String.fromCodePoint(token.bytes[0]!);
	}

	if (token.key?.modifiers === 1 && token.key.event !== 'release' && token.key.codepoint >= 0x20 && token.key.codepoint <= 0x10_FF_FF) {
		return String.fromCodePoint(token.key.codepoint);
	}

	return undefined;
}

export type EscapeParser = {
	push(chunk: Buffer): EscapeEvent[];
	/** Releases held bytes (an unfinished sequence, a lone prefix stays pending). */
	flush(): EscapeEvent[];
	/** Whether bytes are being held back. */
	readonly holding: boolean;
};

/** `commands`: the keys that act after the prefix (d, k; the dashboard adds more). */
export function createEscapeParser(commands: ReadonlySet<string>): EscapeParser {
	let held: Buffer = Buffer.alloc(0);
	let prefix: Buffer | undefined;

	const run = (tokens: Token[]): EscapeEvent[] => {
		const events: EscapeEvent[] = [];
		let input: Buffer[] = [];
		const emitInput = () => {
			if (input.length > 0) {
				events.push({kind: 'input', bytes: Buffer.concat(input)});
				input = [];
			}
		};

		for (const token of tokens) {
			if (!prefix) {
				if (isPrefix(token)) {
					prefix = Buffer.from(token.bytes);
				} else {
					input.push(token.bytes);
				}

				continue;
			}

			// The terminal reports releasing Ctrl-/ when the agent asked for
			// key events; the agent never saw the press, so it gets neither.
			if (token.key?.event === 'release') {
				continue;
			}

			if (isPrefix(token)) {
				input.push(token.bytes);
				prefix = undefined;
				continue;
			}

			const key = plainKey(token);
			if (key !== undefined && commands.has(key)) {
				emitInput();
				events.push({kind: 'command', key});
			} else {
				input.push(prefix, token.bytes);
			}

			prefix = undefined;
		}

		emitInput();
		return events;
	};

	return {
		push(chunk) {
			const {tokens, rest} = tokenize(held.length === 0 ? chunk : Buffer.concat([held, chunk]));
			held = Buffer.from(rest);
			return run(tokens);
		},
		flush() {
			if (held.length === 0) {
				return [];
			}

			// A held ESC (or ESC [ …) that never completed is ordinary input.
			const bytes = held;
			held = Buffer.alloc(0);
			return run([...bytes].map((_, index) => ({bytes: bytes.subarray(index, index + 1)})));
		},
		get holding() {
			return held.length > 0;
		},
	};
}
