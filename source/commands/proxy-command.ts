import {ensureDaemon, findDaemon, stopDaemon} from '../daemon/daemon-client.js';
import type {DaemonStatus} from '../daemon/daemon-protocol.js';
import {daemonPaths} from '../daemon/daemon-protocol.js';
import {describeStorage} from '../daemon/storage-health.js';
import {usageError} from '../errors.js';
import {formatAge, formatJson} from '../output/format.js';
import {describeGateway} from '../gateway/gateway-words.js';
import type {Command, CommandContext} from './command.js';
import {printable} from '../text/printable.js';

const actions = ['start', 'stop', 'status', 'restart'] as const;

function describe(status: DaemonStatus, now: Date, moatHome: string): string[] {
	const storage = describeStorage(status.storage, moatHome);
	return [
		`Daemon    running (pid ${status.pid}, up ${formatAge(new Date(status.startedAt), now)}, moat ${printable(status.settings.version)})`,
		`Gateway   ${describeGateway(status.gateway)}`,
		`Router    ${status.router && 'port' in status.router ? `http(s)://SERVICE.RUN.localhost:${status.router.port}` : `not listening: ${printable(status.router?.error ?? 'unknown')}`}`,
		`Runs      ${status.registered.length} registered${status.registered.map(run => `\n          ${run.runId}  ${run.requests} request${run.requests === 1 ? '' : 's'}, ${run.blocked} blocked${run.grants.length > 0 ? `, grants ${printable(run.grants.join(', '))}` : ''}`).join('')}`,
		...storage ? [`Disk      ${printable(storage.message)}\n          ${storage.fix}`] : [],
	];
}

async function start(context: CommandContext): Promise<number> {
	const {engine} = await context.services();
	// An unreachable engine is exit 3 with the engine's own message, before any daemon is spawned.
	await engine.ping();
	const daemon = await ensureDaemon(context.environment, message => context.stderr.write(`${message}\n`));
	const status = await daemon.ready();
	if (context.flags.json) {
		context.stdout.write(formatJson(status));
	} else {
		context.stdout.write(describe(status, context.environment.now(), context.environment.moatHome).join('\n') + '\n');
	}

	return 0;
}

async function stop(context: CommandContext): Promise<number> {
	const running = await findDaemon(context.environment);
	const registered = running ? (await running.status()).registered.length : 0;
	const stopped = await stopDaemon(context.environment);
	context.stdout.write(stopped ? 'Stopped the moat daemon.\n' : 'The moat daemon was not running.\n');
	if (registered > 0) {
		context.stderr.write(`${registered} running run${registered === 1 ? '' : 's'} cannot reach the network until the daemon starts again (moat proxy start, or any run).\n`);
	}

	return 0;
}

export const proxyCommand: Command = {
	help: `
  Usage
    $ moat proxy start|stop|status|restart [--json]

  The daemon starts by itself when a run needs it and stops when it has been
  idle with no runs; these manage it explicitly.

  Flags
    --json   Print the status as JSON (start, status, restart)
`,
	flags: {json: {type: 'boolean'}},
	async run(context) {
		const [action, ...extra] = context.input;
		if (!action || !(actions as readonly string[]).includes(action) || extra.length > 0) {
			throw usageError(action ? `Unknown proxy action "${printable([action, ...extra].join(' '))}".` : 'moat proxy needs an action.', 'Use moat proxy start, stop, status or restart.');
		}

		switch (action) {
			case 'start': {
				return start(context);
			}

			case 'stop': {
				return stop(context);
			}

			case 'restart': {
				await stopDaemon(context.environment);
				return start(context);
			}

			default: {
				const daemon = await findDaemon(context.environment);
				if (!daemon) {
					if (context.flags.json) {
						context.stdout.write(JSON.stringify({running: false}) + '\n');
					} else {
						context.stdout.write(`Daemon    not running (it starts with the next run, or moat proxy start; log: ${daemonPaths(context.environment.moatHome).log})\n`);
					}

					return 1;
				}

				const status = await daemon.status();
				context.stdout.write(context.flags.json ? formatJson({running: true, ...status}) : describe(status, context.environment.now(), context.environment.moatHome).join('\n') + '\n');
				return 0;
			}
		}
	},
};

/** `moat _daemon`: the daemon itself, started detached by ensureDaemon. */
export const daemonCommand: Command = {
	help: `
  Usage
    $ moat _daemon

  Runs the daemon of MOAT_HOME in the foreground. moat starts it by itself.
`,
	flags: {},
	operands: [],
	async run(context) {
		// Loaded only here: the daemon pulls in the engine, the proxy and the certificate library.
		const {runDaemon} = await import('../daemon/daemon-server.js');
		return runDaemon(context.environment);
	},
};
