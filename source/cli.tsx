#!/usr/bin/env node
import process from 'node:process';
import readline from 'node:readline/promises';
import meow from 'meow';
import {findCommand, commands} from './commands/index.js';
import type {Command, CommandContext} from './commands/command.js';
import {createEnvironment} from './environment.js';
import {exitCodes, isMoatError, usageError} from './errors.js';
import type {GrantWizardServices} from '../components/grant-wizard.js';
import type {GrantService} from './credentials/grant-service.js';
import type {DetectedCredential} from './credentials/providers.js';
import type {Reporter} from './runs/run-service.js';
import type {RunRegistration} from './daemon/daemon-protocol.js';
import {createRunStore} from './runs/run-store.js';
import {nearest} from './text/nearest.js';

const globalFlags = {
	verbose: {type: 'boolean', shortFlag: 'v'},
	help: {type: 'boolean', shortFlag: 'h'},
	version: {type: 'boolean'},
} as const;

function mainHelp(): string {
	const listed = commands.filter(command => !command.hidden);
	const width = Math.max(...listed.map(command => [command.name, ...(command.aliases ?? [])].join(', ').length));
	const list = listed
		.map(command => `    ${[command.name, ...(command.aliases ?? [])].join(', ').padEnd(width)}  ${command.summary}`)
		.join('\n');
	return `
  Run AI coding agents in sealed containers.

  Usage
    $ moat <command> [flags]

  Commands
${list}

  Global flags
    -v, --verbose   Debug output on stderr
    -h, --help      Help for moat or a command
        --version   Print the version

  Run moat <command> --help for a command's flags.
`;
}

/** Splits argv at the first `--`: what follows belongs to the container. */
function splitArguments(argv: readonly string[]): {own: string[]; rest: string[]} {
	const separator = argv.indexOf('--');
	return separator === -1
		? {own: [...argv], rest: []}
		: {own: argv.slice(0, separator), rest: argv.slice(separator + 1)};
}

function parseCommandLine(command: Command, argv: string[]) {
	const flags = {...globalFlags, ...command.flags};
	const cli = meow(command.help, {
		importMeta: import.meta,
		argv,
		flags,
		allowUnknownFlags: true,
		booleanDefault: undefined,
		autoHelp: false,
		autoVersion: false,
	});

	const known = new Set(Object.entries(flags).flatMap(([name, flag]) => [
		name,
		name.replaceAll(/[A-Z]/g, letter => `-${letter.toLowerCase()}`),
		...('shortFlag' in flag && flag.shortFlag ? [flag.shortFlag] : []),
	]));
	for (const flag of Object.keys(cli.unnormalizedFlags)) {
		if (!known.has(flag)) {
			const dashed = flag.length === 1 ? `-${flag}` : `--${flag}`;
			const suggestion = nearest(flag, [...known].filter(name => name.length > 1));
			throw usageError(
				`Unknown flag ${dashed} for moat ${command.name}.`,
				suggestion ? `Did you mean --${suggestion}? See moat ${command.name} --help.` : `See moat ${command.name} --help.`,
			);
		}
	}

	for (const [name, definition] of Object.entries(command.flags)) {
		const value = cli.flags[name];
		if (definition.type === 'string' && !definition.optionalValue && (value === '' || (Array.isArray(value) && value.includes('')))) {
			throw usageError(`--${name} needs a value.`, `See moat ${command.name} --help.`);
		}
	}

	return cli;
}

async function main(argv: string[]): Promise<number> {
	const environment = createEnvironment();
	const {own, rest} = splitArguments(argv);
	const verbose = own.includes('-v') || own.includes('--verbose');
	const reporter: Reporter = {
		info: message => process.stderr.write(`${message}\n`),
		warn: message => process.stderr.write(`moat: warning: ${message}\n`),
		debug: message => verbose && process.stderr.write(`moat: ${message}\n`),
	};

	try {
		// Global flags may come before the command (moat -v run …).
		const commandIndex = own.findIndex(argument => argument !== '-v' && argument !== '--verbose');
		const name = commandIndex === -1 ? undefined : own[commandIndex];
		const tail = commandIndex === -1 ? [] : own.filter((_, index) => index !== commandIndex);
		if (name === undefined && process.stdin.isTTY && process.stdout.isTTY) {
			return await openDashboard(environment, reporter);
		}

		if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
			process.stdout.write(mainHelp());
			return exitCodes.success;
		}

		if (name.startsWith('-') && name !== '--version') {
			throw usageError(`Unknown flag ${name}.`, 'Put the command first, as in moat run --help; see moat --help.');
		}

		if (name === '--version') {
			const {readFile} = await import('node:fs/promises');
			const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string};
			process.stdout.write(`${manifest.version}\n`);
			return exitCodes.success;
		}

		const command = findCommand(name);
		if (!command) {
			const suggestion = nearest(name, commands.flatMap(candidate => [candidate.name, ...(candidate.aliases ?? [])]));
			throw usageError(`Unknown command "${name}".`, suggestion ? `Did you mean moat ${suggestion}? See moat --help.` : 'See moat --help for the commands.');
		}

		const cli = parseCommandLine(command, tail);
		if (cli.flags.help) {
			process.stdout.write(command.help);
			return exitCodes.success;
		}

		let services: Awaited<ReturnType<CommandContext['services']>> | undefined;
		const interrupts = createInterruptQueue();
		const context: CommandContext = {
			input: cli.input,
			rest,
			flags: cli.flags,
			environment,
			stdout: process.stdout,
			stderr: process.stderr,
			stdinIsTTY: Boolean(process.stdin.isTTY),
			cwd: process.cwd(),
			reporter,
			async services() {
				services ??= await createServices(environment, reporter);
				return services;
			},
			nextInterrupt: interrupts.next,
			openGrantWizard: async service => openGrantWizard(service),
			confirm: confirmOnTerminal,
		};

		return await command.run(context);
	} catch (error) {
		if (isMoatError(error)) {
			process.stderr.write(`moat: ${error.message}\n${error.hint}\n`);
			if (verbose && error.cause) {
				process.stderr.write(`${(error.cause as Error).stack ?? String(error.cause)}\n`);
			}

			return error.exitCode;
		}

		process.stderr.write(`moat: ${(error as Error).message ?? String(error)}\n`);
		process.stderr.write(verbose ? `${(error as Error).stack}\n` : 'Run again with -v for details.\n');
		return exitCodes.failure;
	}
}

async function confirmOnTerminal(question: string): Promise<boolean> {
	const prompt = readline.createInterface({input: process.stdin, output: process.stderr});
	try {
		return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
	} finally {
		prompt.close();
	}
}

/**
 * The real services, built the same way for every command and for the
 * dashboard: an engine, the run store, the audit log and the grant lookup.
 * Loaded on demand: dockerode alone costs about 100 ms of startup.
 */
async function createServices(environment: ReturnType<typeof createEnvironment>, reporter: Reporter) {
	const [{createDockerEngine}, {createRunService}, {createAuditLog}] = await Promise.all([
		import('./engine/docker-engine.js'),
		import('./runs/run-service.js'),
		import('./audit/audit-log.js'),
	]);
	const engine = createDockerEngine(environment.variables);
	const store = createRunStore(environment.moatHome);
	const audit = createAuditLog(environment.moatHome, environment.now);
	let grants: Awaited<ReturnType<typeof import('./credentials/grant-service.js').createDefaultGrantService>> | undefined;
	const grantExists = async (name: string) => {
		const {createDefaultGrantService} = await import('./credentials/grant-service.js');
		grants ??= await createDefaultGrantService(environment);
		// Only the grant asked for is decrypted: another, unreadable grant
		// must not stop a run. A scoped name (github:repo) is satisfied by
		// the provider's grant.
		return (await grants.store.get(name)) !== undefined
			|| (!name.startsWith('ssh:') && name.includes(':') && (await grants.store.get(name.split(':')[0]!)) !== undefined);
	};

	const {createWorkspaceTrust} = await import('./workspace/workspace-trust.js');
	const trust = createWorkspaceTrust(environment.moatHome);
	const {ensureDaemon, findDaemon, createRoutedAudit} = await import('./daemon/daemon-client.js');
	const network = {
		async register(registration: RunRegistration) {
			return (await ensureDaemon(environment, message => {
				reporter.info(message);
			})).register(registration);
		},
		async release(runId: string) {
			// Never started just to revoke: a daemon that is not running holds no tokens.
			await (await findDaemon(environment))?.unregister(runId);
		},
	};
	return {engine, store, runs: createRunService({engine, store, environment, reporter, grantExists, audit: createRoutedAudit(environment, audit), trust, network, confirm: async question => confirmOnTerminal(question)})};
}

/**
 * Ink stops drawing frames when it thinks it runs in CI (it reads CI and
 * CONTINUOUS_INTEGRATION once, when first imported). The interactive UIs
 * only ever open on a real terminal, so there someone is watching: hide
 * those variables from Ink before it loads.
 */
async function loadInk(): Promise<typeof import('ink')> {
	if (process.stdout.isTTY && process.stdin.isTTY) {
		delete process.env.CI;
		delete process.env.CONTINUOUS_INTEGRATION;
	}

	return import('ink');
}

/** The grant wizard, inline below the prompt (not full screen). */
async function openGrantWizard(service: GrantService): Promise<number> {
	const [{render}, {GrantWizard, GrantWizardContext}, {tokenProviders}] = await Promise.all([
		loadInk(),
		import('../components/grant-wizard.js'),
		import('./credentials/providers.js'),
	]);
	const found = new Map<string, DetectedCredential[]>();
	const providerNamed = (name: string) => tokenProviders.find(provider => provider.name === name)!;
	const services: GrantWizardServices = {
		providers: tokenProviders.map(provider => ({name: provider.name, title: provider.title})),
		async detect(name) {
			const sources = await service.sources(providerNamed(name));
			found.set(name, sources);
			return sources.map(source => ({source: source.source, warning: source.warning, expiresAt: source.expiresAt}));
		},
		async grant(name, choice) {
			const provider = providerNamed(name);
			const credential = 'token' in choice
				? {source: 'entered token', token: choice.token, kind: provider.name === 'claude' ? 'oauth' : 'api-key'}
				: found.get(name)![choice.index]!;
			const grant = await service.grantToken(provider, credential, {validate: true});
			return {name: grant.name, login: grant.login, scopes: grant.scopes, expiresAt: grant.expiresAt, source: grant.source, file: service.store.fileFor(grant.provider)};
		},
		explain: error => (isMoatError(error) ? {message: error.message, hint: error.hint} : {message: String((error as Error).message ?? error), hint: 'Run moat grant again with -v for details.'}),
	};

	let granted = false;
	const app = render(
		<GrantWizardContext.Provider value={services}>
			<GrantWizard onDone={result => {
				granted = result !== undefined;
			}} />
		</GrantWizardContext.Provider>,
	);
	await app.waitUntilExit();
	return granted ? exitCodes.success : exitCodes.failure;
}

/** Terminal modes the dashboard changes, and the sequences that undo them. */
const alternateScreen = {enter: '\u001B[?1049h\u001B[H', leave: '\u001B[?1049l\u001B[?25h'} as const;

/**
 * The full-screen dashboard. The alternate screen keeps the user's
 * scrollback intact, and it is left on every way out: quitting, an error, or
 * a signal.
 */
async function openDashboard(environment: ReturnType<typeof createEnvironment>, reporter: Reporter): Promise<number> {
	const [{render}, {Dashboard}, {ServicesContext}] = await Promise.all([
		loadInk(),
		import('../components/dashboard.js'),
		import('../components/services-context.js'),
	]);
	// Quiet: the dashboard owns the screen, so nothing may print under it.
	const {runs} = await createServices(environment, {...reporter, info() {}, warn() {}});
	const services = {
		listRuns: runs.list,
		async stopRun(id: string) {
			await runs.stop(await runs.find(id));
		},
		async destroyRun(id: string) {
			await runs.destroy(await runs.find(id), true);
		},
		now: environment.now,
	};

	let restored = false;
	const restore = () => {
		if (!restored) {
			restored = true;
			process.stdout.write(alternateScreen.leave);
		}
	};

	const onSignal = (signal: NodeJS.Signals) => {
		restore();
		process.exit(signal === 'SIGTERM' ? 143 : 129);
	};

	process.once('SIGTERM', onSignal);
	process.once('SIGHUP', onSignal);
	process.once('exit', restore);
	process.stdout.write(alternateScreen.enter);
	try {
		const app = render(
			<ServicesContext.Provider value={services}>
				<Dashboard />
			</ServicesContext.Provider>,
			{exitOnCtrlC: true},
		);
		await app.waitUntilExit();
	} finally {
		restore();
	}

	return exitCodes.success;
}

/**
 * Ctrl+C handling for commands that stream: once a command asks for
 * interrupts, SIGINT no longer kills moat; each signal resolves the waiters.
 * Before any command asks, SIGINT keeps its default (exit 130).
 */
function createInterruptQueue(): {next: () => Promise<void>} {
	let waiters: Array<() => void> = [];
	let installed = false;
	return {
		async next() {
			if (!installed) {
				installed = true;
				process.on('SIGINT', () => {
					const current = waiters;
					waiters = [];
					for (const wake of current) {
						wake();
					}
				});
			}

			return new Promise<void>(resolve => {
				waiters.push(resolve);
			});
		},
	};
}

const code = await main(process.argv.slice(2));
// Flush before exiting: on some platforms pipes are asynchronous, and
// process.exit would cut the output short.
await new Promise<void>(resolve => {
	process.stdout.write('', () => {
		resolve();
	});
});
process.exit(code);
