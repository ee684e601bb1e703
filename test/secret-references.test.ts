import test from 'ava';
import {exitCodes, MoatError} from '../source/errors.js';
import {
	commandLine,
	maximumValueBytes,
	secretError,
	secretLookup,
	secretValueFromOutput,
	summarizeOutput,
	unusableValueReason,
	type ProgramLookup,
	type SecretLookup,
	type SecretProblem,
} from '../source/secrets/secret-references.js';

const ssmArguments = (name: string) => ['ssm', 'get-parameter', '--name', name, '--with-decryption', '--query', 'Parameter.Value', '--output', 'text'];

const lookups: Array<[string, SecretLookup]> = [
	['op://Dev/OpenAI/api-key', {backend: 'op', program: 'op', args: ['read', 'op://Dev/OpenAI/api-key']}],
	['op://Dev/OpenAI/section/field', {backend: 'op', program: 'op', args: ['read', 'op://Dev/OpenAI/section/field']}],
	['op://Dev/Login item/one-time password?attribute=otp', {backend: 'op', program: 'op', args: ['read', 'op://Dev/Login item/one-time password?attribute=otp']}],
	['ssm:///production/database/url', {backend: 'ssm', program: 'aws', args: ssmArguments('/production/database/url')}],
	['ssm:///token', {backend: 'ssm', program: 'aws', args: ssmArguments('/token')}],
	['ssm://us-east-1/production/database/url', {backend: 'ssm', program: 'aws', args: [...ssmArguments('/production/database/url'), '--region', 'us-east-1']}],
	['ssm://us-gov-west-1/x', {backend: 'ssm', program: 'aws', args: [...ssmArguments('/x'), '--region', 'us-gov-west-1']}],
	['ssm://cn-northwest-1/x', {backend: 'ssm', program: 'aws', args: [...ssmArguments('/x'), '--region', 'cn-northwest-1']}],
	['env://HOST_TOKEN', {backend: 'env', variable: 'HOST_TOKEN'}],
	['env://_private2', {backend: 'env', variable: '_private2'}],
];

for (const [reference, expected] of lookups) {
	test(`${reference} is read by ${expected.backend === 'env' ? `the variable ${expected.variable}` : `${expected.program} ${expected.args.join(' ')}`}`, t => {
		t.deepEqual(secretLookup('SECRET', reference), expected);
	});
}

const refused: Array<[string, RegExp]> = [
	['ssm://not a region/x', /names "not a region" as its region, which is not an AWS region/],
	['ssm://--endpoint-url=http:/x', /is not an AWS region/],
	['ssm://US-EAST-1/x', /is not an AWS region/],
	['op://vault/item', /which moat cannot read/],
	['ssm://', /which moat cannot read/],
	['env://1ABC', /which moat cannot read/],
	['vault://x/y', /which moat cannot read/],
];

for (const [reference, message] of refused) {
	test(`${reference} is refused as a usage error that names the secret`, t => {
		const error = t.throws(() => secretLookup('DATABASE_URL', reference), {instanceOf: MoatError});
		t.is(error.exitCode, exitCodes.usage);
		t.regex(error.message, message);
		t.true(error.message.startsWith('Secret DATABASE_URL '));
		t.regex(error.hint, /ssm:\/\//);
	});
}

const outputs: Array<[string, string, string]> = [
	['one trailing newline goes', 'value\n', 'value'],
	['a CRLF counts as one newline', 'value\r\n', 'value'],
	['only one newline goes', 'value\n\n', 'value\n'],
	['no newline keeps the value', 'value', 'value'],
	['inner newlines stay', 'line one\nline two\n', 'line one\nline two'],
	['leading and trailing spaces stay', '  spaced  \n', '  spaced  '],
	['an empty value stays empty', '\n', ''],
];

for (const [what, output, value] of outputs) {
	test(`a CLI's output becomes the value: ${what}`, t => {
		t.is(secretValueFromOutput(output), value);
	});
}

test('a value with a NUL byte or over the environment limit cannot travel; anything else can', t => {
	t.is(unusableValueReason('ordinary \'quoted\' $value\nwith a newline'), undefined);
	t.is(unusableValueReason(''), undefined);
	t.regex(unusableValueReason('a\0b') ?? '', /NUL byte/);
	t.regex(unusableValueReason('x'.repeat(maximumValueBytes)) ?? '', /more than an environment variable can hold/);
	t.is(unusableValueReason('x'.repeat(maximumValueBytes - 1)), undefined);
});

test('the command to try by hand is quoted for a shell where it needs to be', t => {
	t.is(commandLine(secretLookup('A', 'ssm://eu-west-1/prod/db') as ProgramLookup), 'aws ssm get-parameter --name /prod/db --with-decryption --query Parameter.Value --output text --region eu-west-1');
	t.is(commandLine(secretLookup('A', 'op://Dev/My item/it\'s') as ProgramLookup), String.raw`op read 'op://Dev/My item/it'\''s'`);
});

test('a CLI\'s stderr becomes one clean line: colours and control characters gone, lines joined, long text cut', t => {
	t.is(summarizeOutput('\nAn error occurred (ParameterNotFound) when calling the GetParameter operation: \n'), 'An error occurred (ParameterNotFound) when calling the GetParameter operation:');
	t.is(summarizeOutput('\u001B[31m[ERROR]\u001B[0m not signed in\r\n\u0007'), '[ERROR] not signed in');
	t.is(summarizeOutput(''), '');
	const long = summarizeOutput('x'.repeat(1000));
	t.is(long.length, 300);
	t.true(long.endsWith('…'));
});

type ErrorCase = {
	what: string;
	reference: string;
	problem: SecretProblem;
	message: RegExp;
	hint: RegExp;
};

const errorCases: ErrorCase[] = [
	{
		what: 'op missing from PATH: install it and sign in',
		reference: 'op://Dev/OpenAI/api-key',
		problem: {kind: 'program missing'},
		message: /the 1Password CLI \(op\) is not installed, or not on PATH\.$/,
		hint: /^Install the 1Password CLI .*sign in with op signin/,
	},
	{
		what: 'op not runnable: says why',
		reference: 'op://Dev/OpenAI/api-key',
		problem: {kind: 'program missing', detail: 'EACCES'},
		message: /the 1Password CLI \(op\) cannot be run \(EACCES\)\.$/,
		hint: /^Install the 1Password CLI/,
	},
	{
		what: 'op not signed in: sign in',
		reference: 'op://Dev/OpenAI/api-key',
		problem: {kind: 'program failed', exitCode: 1, output: '[ERROR] 2024/05/01 10:00:00 You are not currently signed in. Please run `op signin --help` for instructions\n'},
		message: /op exited with code 1: \[ERROR\] 2024\/05\/01 10:00:00 You are not currently signed in\./,
		hint: /^Sign in to 1Password with op signin/,
	},
	{
		what: 'op with a wrong item: check vault, item and field, with the command to try',
		reference: 'op://Dev/Nope/api-key',
		problem: {kind: 'program failed', exitCode: 1, output: '[ERROR] could not read secret: "Nope" isn\'t an item in the "Dev" vault\n'},
		message: /isn't an item in the "Dev" vault\.$/,
		hint: /vault, item and field exist.*: op read op:\/\/Dev\/Nope\/api-key\.$/,
	},
	{
		what: 'op killed by a signal: says so',
		reference: 'op://Dev/OpenAI/api-key',
		problem: {kind: 'program failed', exitCode: null, signal: 'SIGSEGV', output: ''},
		message: /op was stopped by SIGSEGV\.$/,
		hint: /op read op:\/\/Dev\/OpenAI\/api-key/,
	},
	{
		what: 'op timing out: sign in and approve',
		reference: 'op://Dev/OpenAI/api-key',
		problem: {kind: 'timed out', seconds: 120},
		message: /op did not answer within 120 s\.$/,
		hint: /op signin.*approve/,
	},
	{
		what: 'aws missing from PATH: install and configure it',
		reference: 'ssm:///prod/db',
		problem: {kind: 'program missing'},
		message: /the AWS CLI \(aws\) is not installed, or not on PATH\.$/,
		hint: /^Install the AWS CLI .*aws configure/,
	},
	{
		what: 'aws ParameterNotFound: check the name and region',
		reference: 'ssm://eu-west-1/prod/db',
		problem: {kind: 'program failed', exitCode: 254, output: '\nAn error occurred (ParameterNotFound) when calling the GetParameter operation: \n'},
		message: /aws exited with code 254: An error occurred \(ParameterNotFound\)/,
		hint: /name and region.*aws ssm get-parameter --name \/prod\/db .*--region eu-west-1\.$/,
	},
	{
		what: 'aws without credentials: configure them',
		reference: 'ssm:///prod/db',
		problem: {kind: 'program failed', exitCode: 253, output: '\nUnable to locate credentials. You can configure credentials by running "aws configure".\n'},
		message: /Unable to locate credentials/,
		hint: /credentials that may read the parameter \(aws configure, or aws sso login\)/,
	},
	{
		what: 'aws without a region: name one',
		reference: 'ssm:///prod/db',
		problem: {kind: 'program failed', exitCode: 253, output: '\nYou must specify a region. You can also configure your region by running "aws configure".\n'},
		message: /You must specify a region/,
		hint: /ssm:\/\/us-east-1\/path\), or set AWS_REGION/,
	},
	{
		what: 'aws failing otherwise: the command to see why',
		reference: 'ssm:///prod/db',
		problem: {kind: 'program failed', exitCode: 255, output: 'Could not connect to the endpoint URL\n'},
		message: /aws exited with code 255: Could not connect to the endpoint URL\.$/,
		hint: /^Run aws ssm get-parameter --name \/prod\/db .* to see why/,
	},
	{
		what: 'an unset variable: set it or drop the secret',
		reference: 'env://HOST_TOKEN',
		problem: {kind: 'variable unset'},
		message: /HOST_TOKEN is not set in moat's environment\.$/,
		hint: /^Set HOST_TOKEN in the shell that runs moat \(export HOST_TOKEN=…\), or remove API_TOKEN from secrets in agent\.yaml\.$/,
	},
	{
		what: 'an unusable value from a CLI: says why, without the value',
		reference: 'op://Dev/OpenAI/api-key',
		problem: {kind: 'unusable value', reason: 'the value contains a NUL byte, which an environment variable cannot hold'},
		message: /NUL byte/,
		hint: /remove API_TOKEN from secrets/,
	},
];

for (const {what, reference, problem, message, hint} of errorCases) {
	test(`a secret that cannot be read fails the run naming the secret and the fix: ${what}`, t => {
		const error = secretError('API_TOKEN', reference, secretLookup('API_TOKEN', reference), problem);
		t.is(error.exitCode, exitCodes.failure);
		t.true(error.message.startsWith(`Secret API_TOKEN (${reference}) cannot be read: `), error.message);
		t.regex(error.message, message);
		t.regex(error.hint, hint);
		t.false(error.message.includes('\n'), 'one line');
		t.false(error.hint.includes('\n'), 'one line');
	});
}
