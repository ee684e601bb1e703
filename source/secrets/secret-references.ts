import {exitCodes, MoatError, usageError} from '../errors.js';
import {printable} from '../text/printable.js';

/**
 * Secrets are the values agent.yaml's `secrets:` hands the container as
 * environment variables (README: agent.yaml), read on the host when a run starts. This
 * file holds the decisions — what a reference means, which command reads it,
 * what a failure tells the user — with no I/O; secret-resolver.ts runs them.
 */

export const secretBackends = ['op', 'ssm', 'env'] as const;
export type SecretBackend = (typeof secretBackends)[number];

/** A secret read by running a CLI on the host: its stdout is the value. */
export type ProgramLookup = {backend: 'op' | 'ssm'; program: 'op' | 'aws'; args: readonly string[]};

/** A secret read from moat's own environment. */
export type VariableLookup = {backend: 'env'; variable: string};

export type SecretLookup = ProgramLookup | VariableLookup;

/** What went wrong reading a secret, as secretError() explains it. */
export type SecretProblem =
	/** The CLI is not on PATH (or cannot be run at all). */
	| {kind: 'program missing'; detail?: string}
	/** The CLI ran and exited non-zero (or was killed); `output` is what it said on stderr. */
	| {kind: 'program failed'; exitCode: number | null; signal?: string | null; output: string}
	| {kind: 'timed out'; seconds: number}
	| {kind: 'variable unset'}
	| {kind: 'unusable value'; reason: string};

// AWS's region names: us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1.
const awsRegionPattern = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;

const programNames = {
	op: 'the 1Password CLI (op)',
	aws: 'the AWS CLI (aws)',
} as const;

/**
 * What reading `reference` means. The config schema has already checked the
 * form; this also refuses what the form lets through but AWS would not take
 * (a region that is not one), naming the secret.
 */
export function secretLookup(name: string, reference: string): SecretLookup {
	if (/^op:\/\/[^/]+\/[^/]+\/.+$/.test(reference)) {
		// `op read` takes the reference as is, sections and ?attribute= included.
		return {backend: 'op', program: 'op', args: ['read', reference]};
	}

	const ssm = /^ssm:\/\/([^/]*)(\/.+)$/.exec(reference);
	if (ssm) {
		const [, region = '', parameter = ''] = ssm;
		if (region !== '' && !awsRegionPattern.test(region)) {
			throw usageError(
				`Secret ${name} (${printable(reference)}) names "${printable(region)}" as its region, which is not an AWS region.`,
				`Write ssm://us-east-1${printable(parameter)} for a region, or ssm://${printable(parameter)} for the AWS CLI's default one.`,
			);
		}

		return {
			backend: 'ssm',
			program: 'aws',
			args: [
				'ssm', 'get-parameter', '--name', parameter, '--with-decryption',
				'--query', 'Parameter.Value', '--output', 'text',
				...(region ? ['--region', region] : []),
			],
		};
	}

	const environment = /^env:\/\/([A-Za-z_]\w*)$/.exec(reference);
	if (environment) {
		return {backend: 'env', variable: environment[1]!};
	}

	throw usageError(
		`Secret ${name} has the reference "${printable(reference)}", which moat cannot read.`,
		'Write secrets as NAME: op://vault/item/field, ssm:///path, ssm://region/path or env://NAME.',
	);
}

/**
 * The value a CLI printed, as the container gets it: `op read` and the AWS
 * CLI end their output with one newline that is not part of the secret.
 * Only that one goes; a value's own trailing newlines stay.
 */
export function secretValueFromOutput(output: string): string {
	return output.replace(/\r?\n$/, '');
}

/** The most a value may hold: Linux's limit on one environment string (MAX_ARG_STRLEN), which the container's execve enforces. */
export const maximumValueBytes = 128 * 1024;

/** Why a value cannot travel as an environment variable, or undefined when it can. */
export function unusableValueReason(value: string): string | undefined {
	// execve takes NUL-terminated strings: the value would be cut short silently.
	if (value.includes('\0')) {
		return 'the value contains a NUL byte, which an environment variable cannot hold';
	}

	// Said here rather than as a container that fails to start with E2BIG.
	if (Buffer.byteLength(value) >= maximumValueBytes) {
		return `the value is ${Buffer.byteLength(value)} bytes, more than an environment variable can hold (${maximumValueBytes / 1024} KiB)`;
	}

	return undefined;
}

/** The command as a user would type it, to try by hand. */
export function commandLine(lookup: ProgramLookup): string {
	return [lookup.program, ...lookup.args].map(argument => shellWord(argument)).join(' ');
}

function shellWord(word: string): string {
	return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll('\'', String.raw`'\''`)}'`;
}

/**
 * A CLI's stderr, made fit for one line of moat's error: control characters
 * (colour codes included) removed, lines joined, and cut short. It is the
 * CLI's own explanation (not signed in, ParameterNotFound), which the user
 * needs; the secret itself is only ever on stdout, which is never shown.
 */
export function summarizeOutput(output: string, limit = 300): string {
	const text = output
		.replaceAll(/\u001B\[[\d;?]*[ -/]*[@-~]/g, '')
		.replaceAll(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '')
		.split('\n')
		.map(line => line.trim())
		.filter(Boolean)
		.join(' ');
	return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

const opSignInPattern = /not (?:currently )?signed in|sign ?in|session (?:has )?expired|unauthori[sz]ed|authoriz|no accounts? (?:configured|found)|account is not|locked/i;
const awsCredentialsPattern = /credentials|ExpiredToken|InvalidClientTokenId|UnrecognizedClient|AccessDenied|security token|SSO|token has expired/i;
const awsRegionMissingPattern = /must specify a region|NoRegion/i;

/**
 * The error for a secret that could not be read: what went wrong, naming the
 * secret and its reference (never a value), and how to fix it.
 */
export function secretError(name: string, reference: string, lookup: SecretLookup, problem: SecretProblem): MoatError {
	// The reference is agent.yaml's and `what` a CLI's words; the hint may repeat the reference in a command to try.
	const fail = (what: string, hint: string) => new MoatError(`Secret ${name} (${printable(reference)}) cannot be read: ${printable(what)}.`, printable(hint), exitCodes.failure);

	if (lookup.backend === 'env') {
		if (problem.kind === 'unusable value') {
			return fail(`${lookup.variable} is set, but ${problem.reason}`, `Set ${lookup.variable} to a value without one, or remove ${name} from secrets in agent.yaml.`);
		}

		return fail(
			`${lookup.variable} is not set in moat's environment`,
			`Set ${lookup.variable} in the shell that runs moat (export ${lookup.variable}=…), or remove ${name} from secrets in agent.yaml.`,
		);
	}

	const program = programNames[lookup.program];
	const tryIt = commandLine(lookup);
	switch (problem.kind) {
		case 'program missing': {
			const why = problem.detail ? `${program} cannot be run (${problem.detail})` : `${program} is not installed, or not on PATH`;
			return fail(why, lookup.program === 'op'
				? 'Install the 1Password CLI (https://developer.1password.com/docs/cli/get-started/), sign in with op signin, and run again.'
				: 'Install the AWS CLI (https://aws.amazon.com/cli/), configure it with aws configure (or aws sso login), and run again.');
		}

		case 'timed out': {
			return fail(`${lookup.program} did not answer within ${problem.seconds} s`, lookup.program === 'op'
				? 'Sign in with op signin (and approve the request if the 1Password app asks), then run again.'
				: `Check the network and the AWS CLI's configuration (try ${tryIt}), then run again.`);
		}

		case 'unusable value': {
			return fail(problem.reason, `Store a value without one, or remove ${name} from secrets in agent.yaml.`);
		}

		case 'program failed': {
			const said = summarizeOutput(problem.output);
			const ended = problem.exitCode === null ? `was stopped by ${problem.signal ?? 'a signal'}` : `exited with code ${problem.exitCode}`;
			const what = `${lookup.program} ${ended}${said ? `: ${said}` : ''}`;
			return fail(what, lookup.program === 'op' ? opHint(said, tryIt) : awsHint(said, tryIt));
		}

		case 'variable unset': {
			// Only environment lookups are unset; a program lookup never gets here.
			return fail('it was not found', `Check it with ${tryIt}.`);
		}
	}
}

function opHint(said: string, tryIt: string): string {
	if (opSignInPattern.test(said)) {
		return 'Sign in to 1Password with op signin (eval "$(op signin)" in this shell, or set OP_SERVICE_ACCOUNT_TOKEN), then run again.';
	}

	return `Check that the vault, item and field exist and that your account can read them: ${tryIt}.`;
}

function awsHint(said: string, tryIt: string): string {
	if (/ParameterNotFound/i.test(said)) {
		return `Check the parameter's name and region (ssm://REGION/path picks one): ${tryIt}.`;
	}

	if (awsCredentialsPattern.test(said)) {
		return `Give the AWS CLI credentials that may read the parameter (aws configure, or aws sso login), then check: ${tryIt}.`;
	}

	if (awsRegionMissingPattern.test(said)) {
		return 'Name the region in the reference (ssm://us-east-1/path), or set AWS_REGION, then run again.';
	}

	return `Run ${tryIt} to see why, fix that, and run again.`;
}
