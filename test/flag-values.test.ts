import test from 'ava';
import {checkFlagValues, checkOperands} from '../source/commands/flag-values.js';
import type {FlagDefinition} from '../source/commands/command.js';
import {MoatError} from '../source/errors.js';

const flags: Record<string, FlagDefinition> = {
	verbose: {type: 'boolean', shortFlag: 'v'},
	name: {type: 'string', shortFlag: 'n'},
	mount: {type: 'string', shortFlag: 'm', isMultiple: true},
	grant: {type: 'string', shortFlag: 'g', isMultiple: true},
	interactive: {type: 'boolean', shortFlag: 'i'},
	tty: {type: 'boolean', shortFlag: 't'},
	validate: {type: 'boolean'},
	hostPort: {type: 'string', isMultiple: true},
	lines: {type: 'number', shortFlag: 'l'},
	resume: {type: 'string', shortFlag: 'r', optionalValue: true},
};

const accepted: Array<[string, string[]]> = [
	['a value as the next word', ['-m', '/a:/b', '--name', 'web']],
	['a value after =', ['--name=web', '-n=web', '--mount=/a:/b']],
	['a value that holds =', ['--name=a=b', '-e', 'X=1']],
	['booleans alone, grouped and set to true or false', ['-i', '-it', '-vi', '-i=false', '--interactive=true', '--tty=false']],
	['a negated boolean', ['--no-validate', '--no-interactive']],
	['a value-taking flag last in a group, with its value next', ['-im', '/a:/b']],
	['a negative number and a lone dash as values', ['-l', '-5', '-n', '-']],
	['numbers for a number flag', ['-l', '50', '--lines=2.5']],
	['an optional value left out, at the end or before another flag', ['-r', '-i', '--resume']],
	['an optional value given', ['-r', 'abc', '--resume=abc']],
	['positional words', ['.', 'workspace', '-i', 'more']],
	['flags it does not know (the caller names those)', ['--detatch', '-x', '--no-such=1']],
	['the dashed spelling of a camel-case flag', ['--host-port', '5432']],
];

for (const [title, argv] of accepted) {
	test(`checkFlagValues accepts ${title}`, t => {
		t.notThrows(() => {
			checkFlagValues(argv, flags, 'run');
		});
	});
}

const refused: Array<[string, string[], RegExp]> = [
	['-m at the end', ['.', '-m'], /^-m needs a value\.$/],
	['-g at the end', ['-g'], /^-g needs a value\.$/],
	['--mount followed by another flag', ['--mount', '-i'], /^--mount needs a value\.$/],
	['-n followed by another flag', ['-n', '-i', '.'], /^-n needs a value\.$/],
	['--name= with nothing after it', ['--name='], /^--name needs a value\.$/],
	['-n= with nothing after it', ['-n='], /^-n needs a value\.$/],
	['an empty word as the value', ['-n', ''], /^-n needs a value\.$/],
	['a value-taking flag inside a group', ['-mi', '/a:/b'], /^-m needs a value\.$/],
	['a number flag without its number', ['-l'], /^-l needs a value\.$/],
	['a number flag given a word', ['-l', 'abc'], /^-l takes a number, not "abc"\.$/],
	['a number flag given a word after =', ['--lines=ten'], /^--lines takes a number, not "ten"\.$/],
	['a number flag given a number with a tail', ['-l', '5x'], /^-l takes a number, not "5x"\.$/],
	['--host-port at the end', ['--host-port'], /^--host-port needs a value\.$/],
	['-i=maybe', ['-i=maybe'], /^-i is on or off and cannot be "maybe"\.$/],
	['--interactive=yes', ['--interactive=yes'], /^--interactive is on or off and cannot be "yes"\.$/],
	['-i=1', ['-i=1'], /^-i is on or off and cannot be "1"\.$/],
	['-it=0, the value going to the last of the group', ['-it=0'], /^-t is on or off and cannot be "0"\.$/],
	['-v= with nothing after it', ['-v='], /^-v is on or off and cannot be ""\.$/],
	['a negated boolean given a value', ['--no-validate=false'], /^--no-validate takes no value\.$/],
	['a value with control characters, shown escaped', ['-i=\u001B]0;x\u0007'], /^-i is on or off and cannot be "\\x1b\]0;x\\x07"\.$/],
];

for (const [title, argv, message] of refused) {
	test(`checkFlagValues refuses ${title} with a usage error naming the flag`, t => {
		const error = t.throws(() => {
			checkFlagValues(argv, flags, 'run');
		}, {instanceOf: MoatError});
		t.is(error?.exitCode, 2);
		t.regex(error?.message ?? '', message);
		t.regex(error?.hint ?? '', /See moat run --help\.$/);
	});
}

const operandCases: Array<[string, string[], readonly string[] | undefined, RegExp | undefined]> = [
	['no words for a command that takes none', [], [], undefined],
	['a run for a command that takes one', ['web'], ['run'], undefined],
	['words for a command that checks its own', ['a', 'b', 'c'], undefined, undefined],
	['words for a command that takes none', ['extra', 'args'], [], /^moat list takes no arguments; "extra" "args" are left over\.$/],
	['a second run', ['web', 'api'], ['run'], /^moat list takes at most one \(run\); "api" is left over\.$/],
];

for (const [title, input, operands, message] of operandCases) {
	test(`checkOperands: ${title}`, t => {
		if (message === undefined) {
			t.notThrows(() => {
				checkOperands(input, operands, 'list');
			});
			return;
		}

		const error = t.throws(() => {
			checkOperands(input, operands, 'list');
		}, {instanceOf: MoatError});
		t.is(error?.exitCode, 2);
		t.regex(error?.message ?? '', message);
		t.regex(error?.hint ?? '', /See moat list --help\.$/);
	});
}
