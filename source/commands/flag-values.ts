import {usageError} from '../errors.js';
import {printable} from '../text/printable.js';
import type {FlagDefinition} from './command.js';

/**
 * Refuses what the argument parser would quietly drop or misread, by the
 * words as typed: a flag that takes a value given none (`-m` at the end, or
 * followed by another flag, or `--mount=`; the parser drops an empty
 * repeatable flag and reads `-n -i` as an empty name), and a boolean flag
 * given a value it cannot read (`-i=maybe` reads as false), and a number
 * flag given a word that is not one (`-n abc` reads as NaN). Unknown flags
 * are left to the caller, which names them with a suggestion. Pure.
 */
export function checkFlagValues(argv: readonly string[], flags: Readonly<Record<string, FlagDefinition>>, commandName: string): void {
	const byName = new Map<string, FlagDefinition>();
	for (const [name, definition] of Object.entries(flags)) {
		byName.set(name, definition);
		byName.set(name.replaceAll(/[A-Z]/g, letter => `-${letter.toLowerCase()}`), definition);
		if (definition.shortFlag) {
			byName.set(definition.shortFlag, definition);
		}
	}

	const help = `See moat ${commandName} --help.`;
	const needsValue = (typed: string) => usageError(`${printable(typed)} needs a value.`, `Give it one, as in ${printable(typed)} VALUE. ${help}`);
	const checkBoolean = (typed: string, value: string) => {
		if (value !== 'true' && value !== 'false') {
			throw usageError(
				`${printable(typed)} is on or off and cannot be "${printable(value)}".`,
				`Write ${printable(typed)} to turn it on, or ${printable(typed)}=false to turn it off. ${help}`,
			);
		}
	};

	// The parser reads any word for a number flag, and "abc" becomes NaN.
	const checkNumber = (typed: string, definition: FlagDefinition, value: string) => {
		if (definition.type === 'number' && !/^-?\d+(\.\d+)?$/.test(value)) {
			throw usageError(`${printable(typed)} takes a number, not "${printable(value)}".`, `Give one, as in ${printable(typed)} 50. ${help}`);
		}
	};

	// A following word is the flag's value unless it is another flag; a lone
	// "-" and negative numbers are values, as the parser reads them.
	const isValue = (word: string | undefined) => word !== undefined && (!word.startsWith('-') || word === '-' || /^-\d/.test(word));

	for (let index = 0; index < argv.length; index++) {
		const word = argv[index]!;
		if (!word.startsWith('-') || word === '-') {
			continue;
		}

		const long = word.startsWith('--');
		const equals = word.indexOf('=');
		const typed = equals === -1 ? word : word.slice(0, equals);
		const inlineValue = equals === -1 ? undefined : word.slice(equals + 1);
		const names = long ? [typed.slice(2)] : [...typed.slice(1)];
		for (const [position, name] of names.entries()) {
			const last = position === names.length - 1;
			const shown = long ? typed : `-${name}`;
			const definition = byName.get(name);
			if (!definition && long && name.startsWith('no-')) {
				// --no-validate: the negation of a boolean, which takes no value at all.
				const negated = byName.get(name.slice(3));
				if (negated?.type === 'boolean' && inlineValue !== undefined) {
					throw usageError(`${printable(typed)} takes no value.`, `Write ${printable(typed)} alone. ${help}`);
				}

				continue;
			}

			if (!definition) {
				continue;
			}

			if (definition.type === 'boolean') {
				if (last && inlineValue !== undefined) {
					checkBoolean(shown, inlineValue);
				}

				continue;
			}

			// A flag that takes a value: inline (`--name=x`, `-n=x`), or the next word.
			if (definition.optionalValue) {
				if (last && inlineValue === undefined && isValue(argv[index + 1])) {
					index++;
				}

				continue;
			}

			if (!last) {
				// `-mi x`: the parser gives -m nothing and reads the rest as flags.
				throw needsValue(shown);
			}

			if (inlineValue !== undefined) {
				if (inlineValue === '') {
					throw needsValue(shown);
				}

				checkNumber(shown, definition, inlineValue);
				continue;
			}

			const next = argv[index + 1];
			if (!isValue(next) || next === '') {
				throw needsValue(shown);
			}

			checkNumber(shown, definition, next!);
			index++;
		}
	}
}

const counted = ['no', 'one', 'two', 'three'];

/**
 * Refuses words a command would quietly ignore (`moat list extra args`):
 * `operands` names what it takes, in order. Pure.
 */
export function checkOperands(input: readonly string[], operands: readonly string[] | undefined, commandName: string): void {
	if (operands === undefined || input.length <= operands.length) {
		return;
	}

	const takes = operands.length === 0
		? 'takes no arguments'
		: `takes at most ${counted[operands.length] ?? operands.length} (${operands.join(' ')})`;
	const extra = input.slice(operands.length);
	const one = extra.length === 1;
	throw usageError(
		`moat ${commandName} ${takes}; ${extra.map(word => `"${printable(word)}"`).join(' ')} ${one ? 'is' : 'are'} left over.`,
		`Leave ${one ? 'it' : 'them'} out, or quote a name with spaces. See moat ${commandName} --help.`,
	);
}
