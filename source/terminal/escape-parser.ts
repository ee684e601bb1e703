/**
 * The attach escape model (README: Interactive runs), as a pure parser over the user's key
 * bytes. The prefix and the keys after it come from the attached-keys table:
 * each key is recognised as its legacy byte (Ctrl-/ is 0x1F), or as
 * `CSI codepoint;modifiers u` when the agent has turned on the kitty keyboard
 * protocol (Ctrl-/ is `CSI 47;5u`). The prefix then a key of the table yields
 * that key's action; the 'literal' key (the prefix again) sends one prefix;
 * any other key after the prefix goes to the agent together with the prefix. Reads can split a sequence
 * anywhere, so an unfinished escape sequence is held until the next read (or
 * `flush()`, which the caller invokes after a short quiet period so a lone
 * Escape key is not held forever).
 */

import {attachedPrefix, modifierBits, type AttachedAction, type AttachedKey, type Key} from './attached-keys.js';

/** Bytes for the agent, or an attached key's action (`key` is its character: the digit of a jump). */
export type EscapeEvent = {kind: 'input'; bytes: Buffer} | {kind: 'command'; action: AttachedAction; key: string};

const escape = 0x1B;

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

/** kitty: modifiers are reported as 1 + their bit flags (Ctrl-/ is 47;5). */
function kittyModifiers(key: Key): number {
	let sum = 1;
	for (const modifier of key.modifiers) {
		sum += modifierBits[modifier];
	}

	return sum;
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

/** Whether a token is a press of `key`: its legacy byte, or its kitty form (press or repeat). */
function isPress(token: Token, key: Key): boolean {
	if (token.bytes.length === 1) {
		return token.bytes[0] === key.byte;
	}

	return token.key !== undefined && token.key.event !== 'release'
		&& token.key.codepoint === key.character.codePointAt(0) && token.key.modifiers === kittyModifiers(key);
}

function isPrefix(token: Token): boolean {
	return isPress(token, attachedPrefix.key);
}

export type EscapeParser = {
	push(chunk: Buffer): EscapeEvent[];
	/** Releases held bytes (an unfinished sequence, a lone prefix stays pending). */
	flush(): EscapeEvent[];
	/** Whether bytes are being held back. */
	readonly holding: boolean;
};

/** `bindings`: the keys that act after the prefix where the terminal is attached from (see `attachedKeysFrom`). */
export function createEscapeParser(bindings: readonly AttachedKey[]): EscapeParser {
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

			const binding = bindings.find(candidate => candidate.keys.some(key => isPress(token, key)));
			const key = binding?.keys.find(candidate => isPress(token, candidate));
			if (!binding || !key) {
				input.push(prefix, token.bytes);
			} else if (binding.action === 'literal') {
				// The second prefix, in whichever form it came, is what the agent gets.
				input.push(token.bytes);
			} else {
				emitInput();
				events.push({kind: 'command', action: binding.action, key: key.character});
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
