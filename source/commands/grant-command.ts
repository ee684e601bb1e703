import process from 'node:process';
import type {Grant} from '../credentials/grant.js';
import {grantedLine, savedLine, summarize} from '../credentials/grant.js';
import {awsRegionProblem, awsRoleExample, awsRoleProblem, defaultAwsSessionDuration, parseDuration} from '../credentials/grant-checks.js';
import type {GrantService} from '../credentials/grant-service.js';
import type {CredentialProvider, DetectedCredential, TokenProvider} from '../credentials/providers/provider.js';
import {checkNotExpired, credentialProvider, credentialProviders, providerAliases, type RegisteredProvider} from '../credentials/providers/provider-list.js';
import {MoatError, usageError} from '../errors.js';
import {formatJson, formatTable} from '../output/format.js';
import {nearest} from '../text/nearest.js';
import {promptMasked} from '../terminal/masked-prompt.js';
import type {TerminalInput} from '../terminal/terminal-session.js';
import type {Command, CommandContext} from './command.js';
import {printable} from '../text/printable.js';

/** The first line of a piped stdin; empty when there is none. Never waits on a terminal. */
async function firstLineOfStdin(input: NodeJS.ReadableStream): Promise<string> {
	let text = '';
	for await (const chunk of input as AsyncIterable<Buffer | string>) {
		text += chunk.toString();
		if (text.includes('\n')) {
			break;
		}
	}

	return text.split('\n')[0]!.trim();
}

/** The providers as errors list them: "github, anthropic, claude, openai (or codex), aws, ssh". */
export function providerChoices(providers: readonly CredentialProvider[] = credentialProviders): string {
	return providers.map(provider => (provider.listedAlias ? `${provider.name} (or ${provider.listedAlias})` : provider.name)).join(', ');
}

/** "github (or anthropic, claude, openai, aws, ssh)", for a hint naming one command to run. */
export function providerExamples(providers: readonly CredentialProvider[] = credentialProviders): string {
	const [first, ...rest] = providers.map(provider => provider.name);
	return `${first!} (or ${rest.join(', ')})`;
}

/** The help's Providers lines: the usage, then where the credential is found in a column. */
export function providerHelpLines(providers: readonly CredentialProvider[] = credentialProviders): string[] {
	const column = 23;
	return providers.map(({help}) => {
		if (help.sources === undefined) {
			return help.usage;
		}

		// A usage too long for the column keeps a three-space gap instead.
		return help.usage.length < column ? `${help.usage.padEnd(column)}${help.sources}` : `${help.usage}   ${help.sources}`;
	});
}

export function parseProvider(name: string): RegisteredProvider {
	const canonical = providerAliases[name.toLowerCase()];
	if (!canonical) {
		const suggestion = nearest(name, Object.keys(providerAliases));
		throw usageError(
			`Unknown provider "${printable(name)}".`,
			`${suggestion ? `Did you mean ${suggestion}? ` : ''}Providers: ${providerChoices()}.`,
		);
	}

	return credentialProvider(canonical);
}

async function grantServices(context: CommandContext): Promise<GrantService> {
	const {createDefaultGrantService} = await import('../credentials/grant-service.js');
	return createDefaultGrantService(context.environment);
}

async function tokenFromUser(context: CommandContext, provider: TokenProvider): Promise<DetectedCredential> {
	if (context.stdinIsTTY && context.stdout.isTTY) {
		context.stderr.write(`No ${provider.title} credential found on this machine. ${provider.howToGet}\n`);
		const token = await promptMasked(`${provider.title} token: `, process.stdin as TerminalInput, process.stderr);
		if (token === undefined) {
			throw new MoatError('Cancelled; nothing was saved.', `Run moat grant ${provider.name} again when you have the token.`, 130);
		}

		return {source: 'the prompt', token, kind: provider.enteredKind};
	}

	const line = context.stdinIsTTY ? '' : await firstLineOfStdin(process.stdin);
	if (line === '') {
		throw usageError(
			`No ${provider.title} credential found, and there is no terminal to ask on.`,
			`Set ${provider.environment.join(' or ')}, or pipe the token on stdin (moat grant ${provider.name} < token.txt).`,
		);
	}

	return {source: 'standard input', token: line, kind: provider.enteredKind};
}

export const grantCommand: Command = {
	help: `
  Usage
    $ moat grant [provider] [flags]
    $ moat grant list [--json]

  Stores a credential, encrypted, for runs to use by name (--grant NAME).
  Sources, in order: an existing CLI login (gh, Claude Code, Codex), the
  environment, then a masked prompt (or, without a terminal, the first line
  of stdin). With no provider on a terminal, a wizard walks you through it.

  Providers
${providerHelpLines().map(line => `    ${line}`).join('\n')}

  Flags
    --no-validate   Store without asking the provider whether the token works
    --json          (grant list) print JSON
`,
	flags: {
		validate: {type: 'boolean'},
		json: {type: 'boolean'},
		host: {type: 'string'},
		key: {type: 'string'},
		role: {type: 'string'},
		region: {type: 'string'},
		sessionDuration: {type: 'string'},
		externalId: {type: 'string'},
	},
	async run(context) {
		const [name, ...extra] = context.input;
		if (extra.length > 0) {
			throw usageError(`moat grant takes one provider, got ${printable(context.input.join(' '))}.`, 'See moat grant --help.');
		}

		if (name === 'list') {
			return listGrants(context);
		}

		if (name === undefined) {
			if (!(context.stdinIsTTY && context.stdout.isTTY)) {
				throw usageError('Name a provider: there is no terminal for the grant wizard.', `Run moat grant ${providerExamples()}.`);
			}

			return context.openGrantWizard(await grantServices(context));
		}

		const provider = parseProvider(name);
		const service = await grantServices(context);
		const validate = context.flags.validate !== false;
		let grant: Grant;
		if (provider.grantWith === 'ssh-agent-key') {
			const host = context.flags.host as string | undefined;
			if (!host) {
				throw usageError('moat grant ssh needs --host.', 'Name the host the key is for, as in moat grant ssh --host github.com.');
			}

			grant = await service.grantSsh(host, context.flags.key as string | undefined);
		} else if (provider.grantWith === 'aws-role') {
			grant = await grantAws(context, service);
		} else {
			// An imported login that has expired is passed over for the next
			// source (a long-lived token in the environment, say), with a note.
			const now = context.environment.now();
			const found = await service.sources(provider);
			const isExpired = (source: DetectedCredential) => source.expiresAt !== undefined && new Date(source.expiresAt) <= now;
			const sources = found.filter(source => !isExpired(source));
			const expired = found.filter(source => isExpired(source));
			if (sources.length === 0 && expired.length > 0 && !(context.stdinIsTTY && context.stdout.isTTY)) {
				// Nothing else to fall back on: say what expired and how to fix it.
				checkNotExpired(expired[0]!, provider, now);
			}

			for (const source of expired) {
				context.stderr.write(`moat: note: the ${provider.title} credential from ${printable(source.source)} expired at ${printable(String(source.expiresAt))}; skipping it.\n`);
			}

			const credential = sources[0] ?? (await tokenFromUser(context, provider));
			if (sources[0]) {
				context.stderr.write(`Using the ${provider.title} credential from ${printable(credential.source)}.\n`);
			}

			if (credential.warning) {
				context.stderr.write(`moat: note: ${printable(credential.warning)}\n`);
			}

			grant = await service.grantToken(provider, credential, {validate});
		}

		context.stdout.write(`${printable(grantedLine(grant))}\n`);
		context.stderr.write(`${printable(savedLine(service.store.fileFor(grant.provider), service.keyringBackend, {notValidated: !validate && grant.provider !== 'ssh'}))}\n`);
		return 0;
	},
};

async function grantAws(context: CommandContext, service: GrantService): Promise<Grant> {
	const role = context.flags.role as string | undefined;
	const roleProblem = role ? awsRoleProblem(role) : 'moat grant aws needs --role.';
	if (roleProblem) {
		throw usageError(roleProblem, `Pass --role ${awsRoleExample}.`);
	}

	const region = (context.flags.region as string | undefined) ?? service.defaultAwsRegion();
	const regionProblem = awsRegionProblem(region);
	if (regionProblem) {
		throw usageError(regionProblem, 'Pass --region such as us-east-1.');
	}

	const durationText = (context.flags.sessionDuration as string | undefined) ?? defaultAwsSessionDuration;
	const seconds = parseDuration(durationText);
	if (seconds === undefined || seconds < 900 || seconds > 43_200) {
		throw usageError(`Session duration "${printable(durationText)}" is out of range.`, 'Use 15m to 12h, as in --session-duration 1h.');
	}

	return service.grantAws(
		{roleArn: role!, region, sessionDurationSeconds: seconds, externalId: context.flags.externalId as string | undefined},
		{validate: context.flags.validate !== false},
	);
}

async function listGrants(context: CommandContext): Promise<number> {
	const grants = (await (await grantServices(context)).list()).map(grant => summarize(grant));
	if (context.flags.json) {
		context.stdout.write(formatJson(grants));
		return 0;
	}

	if (grants.length === 0) {
		context.stdout.write(`No grants. Add one with moat grant ${providerExamples()}.\n`);
		return 0;
	}

	context.stdout.write(formatTable(
		['NAME', 'PROVIDER', 'SOURCE', 'LOGIN', 'SCOPES', 'EXPIRES'],
		grants.map(grant => [grant.name, grant.provider, grant.source, grant.login ?? '-', grant.scopes.join(',') || '-', grant.expiresAt ?? '-']),
	));
	return 0;
}

export const revokeCommand: Command = {
	help: `
  Usage
    $ moat revoke <provider | ssh:HOST>

  Deletes the stored grant. Runs started afterwards cannot use it.
`,
	flags: {},
	operands: ['provider'],
	async run(context) {
		const [name] = context.input;
		if (!name) {
			throw usageError('Name the grant to revoke.', 'See moat grant list, then run moat revoke NAME.');
		}

		const canonical = name.startsWith('ssh:') ? name.toLowerCase() : providerAliases[name.toLowerCase()];
		if (!canonical) {
			parseProvider(name);
		}

		await (await grantServices(context)).revoke(canonical!);
		context.stdout.write(`Revoked ${canonical}.\n`);
		return 0;
	},
};
