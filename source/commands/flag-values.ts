import {usageError} from '../errors.js';
import {printable} from '../text/printable.js';
import type {FlagDefinition} from './command.js';

/**
 * Refuses what the argument parser would quietly drop or misread, by the
 * words as typed: a flag that takes a value given none (`-m` at the end, or
 * followed by another flag, or `--mount=`; the parser drops an empty
 * repeatable flag and reads `-n -i` as an empty name), and a boolean flag
 * given a value it cannot read (`-i=maybe` reads as false). Unknown flags
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

				continue;
			}

			const next = argv[index + 1];
			if (!isValue(next) || next === '') {
				throw needsValue(shown);
			}

			index++;
		}
	}
}
