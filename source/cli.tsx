#!/usr/bin/env node
import process from 'node:process';
import {inspect} from 'node:util';
import {findCommand, commands} from './commands/index.js';
import type {Bottles} from './bottles/bottles.js';
import type {Command, CommandContext, CommandEntry} from './commands/command.js';
import {createEnvironment, environmentVariables} from './environment.js';
import {exitCodes, isMoatError, usageError} from './errors.js';
import {diskFullError, isDiskFull} from './files/disk-full.js';
import type {Reporter} from './runs/run-service.js';
import type {RunRegistration} from './daemon/daemon-protocol.js';
import {checkFlagValues, checkOperands} from './commands/flag-values.js';
import {createInterrupts, type Interrupts} from './terminal/interrupts.js';
import {nearest} from './text/nearest.js';
import {printable} from './text/printable.js';

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
    $ moat                  On a terminal: the dashboard, every run live
    $ moat <command> [flags]

  moat alone opens the dashboard: every run with its state, logs, network
  and audit, live; attach to a run, start a bottle, stop one or grant a
  credential from there. Press ? in it for its keys.

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

async function parseCommandLine(entry: CommandEntry, command: Command, argv: string[]) {
	const flags = {...globalFlags, ...command.flags};
	const {default: meow} = await import('meow');
	const cli = meow(command.help, {
		importMeta: import.meta,
		argv,
		flags,
		allowUnknownFlags: true,
		booleanDefault: undefined,
		autoHelp: false,
		autoVersion: false,
	});

	// First, by the words as typed: the parser's reading of `-n=` or `--no-x=1` names flags nobody typed.
	checkFlagValues(argv, flags, entry.name);
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
				`Unknown flag ${printable(dashed)} for moat ${entry.name}.`,
				suggestion ? `Did you mean --${suggestion}? See moat ${entry.name} --help.` : `See moat ${entry.name} --help.`,
			);
		}
	}

	return cli;
}

async function main(argv: string[]): Promise<number> {
	const environment = createEnvironment();
	const {own, rest} = splitArguments(argv);
	const verbose = own.includes('-v') || own.includes('--verbose');
	// Progress and warnings quote paths, names and the engine's words: the same last defence as errors.
	const say = (text: string) => process.stderr.write(printable(text, {lineBreaks: true}));
	const reporter: Reporter = {
		info: message => say(`${message}\n`),
		warn: message => say(`moat: warning: ${message}\n`),
		debug: message => verbose && say(`moat: ${message}\n`),
	};
	let interrupts: Interrupts | undefined;

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
			throw usageError(`Unknown flag ${printable(name)}.`, 'Put the command first, as in moat run --help; see moat --help.');
		}

		if (name === '--version') {
			const {moatVersion} = await import('./version.js');
			process.stdout.write(`${moatVersion()}\n`);
			return exitCodes.success;
		}

		const entry = findCommand(name);
		if (!entry) {
			const suggestion = nearest(name, commands.flatMap(candidate => [candidate.name, ...(candidate.aliases ?? [])]));
			throw usageError(`Unknown command "${printable(name)}".`, suggestion ? `Did you mean moat ${suggestion}? See moat --help.` : 'See moat --help for the commands.');
		}

		// Only now is the command itself loaded, and only this one.
		const command = await entry.load();
		const cli = await parseCommandLine(entry, command, tail);
		if (cli.flags.help) {
			process.stdout.write(command.help);
			return exitCodes.success;
		}

		checkOperands(cli.input, command.operands, entry.name);

		let services: Awaited<ReturnType<CommandContext['services']>> | undefined;
		interrupts = createInterrupts(process.stdin, process);
		const {next: nextInterrupt} = interrupts;
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
			nextInterrupt,
			async openGrantWizard(service) {
				return (await import('./credentials/open-grant-wizard.js')).openGrantWizard(service);
			},
			confirm: confirmOnTerminal,
		};

		return await command.run(context);
	} catch (thrown) {
		// A full disk met where no folder was named: most of what moat writes is under MOAT_HOME.
		const error = isDiskFull(thrown) && !isMoatError(thrown) ? diskFullError(environment.moatHome, thrown) : thrown;
		if (isMoatError(error)) {
			// Messages carry text moat did not write (the engine's, a config's): no control bytes reach the terminal.
			process.stderr.write(printable(`moat: ${error.message}\n${error.hint}\n`, {lineBreaks: true}));
			if (verbose && error.cause) {
				process.stderr.write(printable(`${(error.cause as Error).stack ?? inspect(error.cause)}\n`, {lineBreaks: true}));
			}

			return error.exitCode;
		}

		process.stderr.write(printable(`moat: ${(error as Error).message ?? String(error)}\n`, {lineBreaks: true}));
		process.stderr.write(verbose ? printable(`${(error as Error).stack}\n`, {lineBreaks: true}) : 'Run again with -v for details.\n');
		return exitCodes.failure;
	} finally {
		interrupts?.close();
	}
}

async function confirmOnTerminal(question: string): Promise<boolean> {
	const {default: readline} = await import('node:readline/promises');
	const prompt = readline.createInterface({input: process.stdin, output: process.stderr});
	try {
		// The question quotes agent.yaml (what it asks for, the workspace path): the last defence, as for errors.
		return /^y(es)?$/i.test((await prompt.question(`${printable(question)} [y/N] `)).trim());
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
	const [{createDockerEngine}, {createRunService}, {createAuditLog}, {createRunStore}] = await Promise.all([
		import('./engine/docker-engine.js'),
		import('./runs/run-service.js'),
		import('./audit/audit-log.js'),
		import('./runs/run-store.js'),
	]);
	const engine = createDockerEngine(environment.variables, environment.userHome);
	const store = createRunStore(environment.moatHome);
	const audit = createAuditLog(environment.moatHome, environment.now);
	let grants: Awaited<ReturnType<typeof import('./credentials/grant-service.js').createDefaultGrantService>> | undefined;
	const loadGrant = async (name: string) => {
		const {createDefaultGrantService} = await import('./credentials/grant-service.js');
		grants ??= await createDefaultGrantService(environment);
		return grants.store.get(name);
	};

	// Only the grant asked for is decrypted: another, unreadable grant must
	// not stop a run. A scoped name (github:repo) is satisfied by the
	// provider's grant.
	const grantExists = async (name: string) => (await loadGrant(name)) !== undefined
		|| (!name.startsWith('ssh:') && name.includes(':') && (await loadGrant(name.split(':')[0]!)) !== undefined);

	const {createWorkspaceTrust} = await import('./workspace/workspace-trust.js');
	const trust = createWorkspaceTrust(environment.moatHome);
	const {ensureDaemon, findDaemon, createRoutedAudit} = await import('./daemon/daemon-client.js');
	const network = {
		async nextRunId() {
			return (await ensureDaemon(environment, message => {
				reporter.info(message);
			})).nextRunId();
		},
		async register(registration: RunRegistration) {
			return (await ensureDaemon(environment, message => {
				reporter.info(message);
			})).register(registration);
		},
		async release(runId: string) {
			// Never started just to revoke: a daemon that is not running holds no tokens.
			await (await findDaemon(environment))?.unregister(runId);
		},
		async starting(runId: string) {
			await (await findDaemon(environment))?.starting(runId);
		},
	};
	const routedAudit = createRoutedAudit(environment, audit);
	const runs = createRunService({engine, store, environment, reporter, audit: routedAudit, network});
	// Loaded when a bottle starts: listing, attaching and the dashboard's first paint do without it.
	let loaded: Bottles | undefined;
	const bottles: Bottles = {
		async start(request, beforeStart) {
			const {createBottles} = await import('./bottles/bottles.js');
			loaded ??= createBottles({
				engine, store, environment, reporter, runs, grantExists, loadGrant, audit: routedAudit, trust, network,
				confirm: async question => confirmOnTerminal(question),
			});
			return loaded.start(request, beforeStart);
		},
	};
	return {engine, store, runs, bottles};
}

/**
 * The full-screen dashboard (components/dashboard-app.tsx) on the real
 * services: runs, their files and kept screens, the daemon, the grants.
 */
async function openDashboard(environment: ReturnType<typeof createEnvironment>, reporter: Reporter): Promise<number> {
	// The first frame, from the run records alone, before Ink, React, the panes
	// and the engine load (together, a second or more on a busy machine): Ink
	// draws the same frame over it once it is up, and keys pressed meanwhile
	// wait for it (raw mode: not echoed over the frame).
	const [{createRunStore}, {createRunRows}, {createRunCounter}, {firstFrame, firstFrameOutput, firstFrameLeave}] = await Promise.all([
		import('./runs/run-store.js'),
		import('./dashboard/run-rows.js'),
		import('./dashboard/run-counts.js'),
		import('../components/first-frame.js'),
	]);
	const store = createRunStore(environment.moatHome);
	const counter = createRunCounter();
	const rows = createRunRows(store, counter);
	// Unreadable, the runs are the dashboard's to say so: it reads them again.
	const firstRuns = await rows.list({atOnce: true}).catch(() => undefined);
	let drawn = false;
	if (firstRuns) {
		process.stdin.setRawMode?.(true);
		process.stdout.write(firstFrameOutput(firstFrame({runs: firstRuns, rows: process.stdout.rows ?? 24, columns: process.stdout.columns ?? 80, now: environment.now()})));
		drawn = true;
	}

	// React's development build (what it loads when NODE_ENV is unset) checks and
	// records every render, several times the work; it is for developing React apps.
	process.env[environmentVariables.nodeEnvironment] ??= 'production';
	let modules;
	try {
		// Quiet: the dashboard owns the screen, so nothing may print under it. The
		// engine (dockerode is slow to load) loads after the first frame, not before it.
		modules = await Promise.all([
			import('../components/dashboard-app.js'),
			import('./dashboard/dashboard-services.js'),
			import('./dashboard/screen-keeper.js'),
			import('./dashboard/attach-loop.js'),
			import('./terminal/footer.js'),
			import('./daemon/daemon-client.js'),
			import('./runs/run-presentation.js'),
			import('./runs/run-metadata.js'),
		]);
	} catch (error) {
		if (drawn) {
			process.stdin.setRawMode?.(false);
			process.stdout.write(firstFrameLeave);
		}

		throw error;
	}

	const [{runDashboardApp}, {createDashboardServices}, {createScreenKeeper}, {attachFromDashboard}, {agentSize}, daemonClient, {newestFirst}, {isActive}] = modules;
	const size = () => agentSize({rows: process.stdout.rows ?? 24, columns: process.stdout.columns ?? 80}, true);
	// The engine is loaded once the first frame has its runs (drawn from their records alone).
	let loaded: ReturnType<typeof loadEngineParts> | undefined;
	const loadEngineParts = async () => {
		const {engine, runs, bottles} = await createServices(environment, {...reporter, info() {}, warn() {}});
		return {engine, runs, bottles, keeper: createScreenKeeper(engine, size())};
	};

	const engineParts = async () => {
		loaded ??= loadEngineParts();
		return loaded;
	};

	const onResize = () => {
		void loaded?.then(({keeper}) => {
			keeper.resize(size());
		}, () => undefined);
	};

	process.stdout.on('resize', onResize);
	const grantService = async () => (await import('./credentials/grant-service.js')).createDefaultGrantService(environment);
	const services = createDashboardServices({
		environment,
		store,
		engineParts,
		table: {rows, counter},
		async grantNames() {
			return (await (await grantService()).store.list()).map(grant => grant.name);
		},
		async allowHost(runId, host) {
			await daemonClient.allowHostForRun(environment, runId, host);
		},
		async grantWizard() {
			const [{grantWizardServices}, {credentialProviders}] = await Promise.all([import('./credentials/grant-wizard-services.js'), import('./credentials/providers/provider-list.js')]);
			return grantWizardServices(await grantService(), credentialProviders);
		},
		async daemon() {
			return (await daemonClient.findDaemon(environment))?.hello;
		},
	});
	try {
		return await runDashboardApp(services, async runId => {
			const {engine, runs, keeper} = await engineParts();
			return attachFromDashboard({
				engine,
				runs,
				keeper,
				input: process.stdin,
				output: process.stdout,
				signals: process,
				order: async () => newestFirst(await store.list()).filter(run => isActive(run) && run.interactive && run.containerId),
			}, runId);
		}, firstRuns);
	} finally {
		process.stdout.off('resize', onResize);
		await loaded?.then(({keeper}) => {
			keeper.close();
		}, () => undefined);
	}
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
