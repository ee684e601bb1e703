import type {Attachment} from '../engine/engine.js';
import type {BottleRequest} from '../bottles/bottles.js';
import {exitCodes, usageError} from '../errors.js';
import {printable} from '../text/printable.js';
import {bufferOutput, type BufferedOutput} from '../engine/buffered-output.js';
import {attachOutput} from './attached-output.js';
import type {Command, CommandContext} from './command.js';

export const runFlags = {
	name: {type: 'string', shortFlag: 'n'},
	env: {type: 'string', shortFlag: 'e', isMultiple: true},
	grant: {type: 'string', shortFlag: 'g', isMultiple: true},
	mount: {type: 'string', shortFlag: 'm', isMultiple: true},
	detach: {type: 'boolean', shortFlag: 'd'},
	interactive: {type: 'boolean', shortFlag: 'i'},
	tty: {type: 'boolean', shortFlag: 't'},
	rebuild: {type: 'boolean'},
	keep: {type: 'boolean'},
	hostPort: {type: 'string', isMultiple: true},
	memory: {type: 'string'},
	cpus: {type: 'string'},
	pids: {type: 'string'},
	baseImage: {type: 'string'},
} as const;

export const runCommand: Command = {
	help: `
  Usage
    $ moat run [path] [flags] [-- command…]

  Starts a run for the workspace at path (default: the current directory),
  mounted at /workspace. The command after -- overrides command in agent.yaml.

  Flags
    -n, --name NAME        Name the run (default: agent.yaml name, else the folder name)
    -e, --env K=V          Set an environment variable (repeatable)
    -g, --grant G          Let the run use a grant (repeatable)
    -m, --mount SRC:DST[:ro]  Mount a host path (repeatable)
    -d, --detach           Start and print only the run id
    -i, --interactive      Give the command a terminal and stdin (-i=false forces off)
        --rebuild          Build the image even if one exists
        --keep             Keep the stopped container for inspection
        --host-port PORT   Let the run reach this port of this machine as
                           host.moat.internal:PORT, through the proxy (repeatable)
        --memory SIZE      Memory limit, such as 4g (default: half the engine's, at most 8g)
        --cpus N           CPU limit, such as 2 or 0.5 (default: all but one)
        --pids N           Process limit (default: 1024)
        --base-image REF   Build on this image (approved as given, by its image ID)

  Attached, moat exits with the command's exit code. Ctrl+C detaches (the run
  goes on); Ctrl+C twice within half a second stops it.

  Examples
    $ moat run -- npm test
    $ moat run ./project -d -e NODE_ENV=test -- node server.js
`,
	flags: runFlags,
	async run(context) {
		if (context.input.length > 1) {
			throw usageError(
				`moat run takes one workspace path, got ${context.input.length}: ${printable(context.input.join(' '))}.`,
				'Put the command after --, as in moat run . -- echo hello.',
			);
		}

		return startRun(context, {workspace: context.input[0] ?? '.', command: context.rest});
	},
};

function hostPortsOf(values: readonly string[] | undefined): number[] {
	return (values ?? []).map(value => {
		const port = /^\d{1,5}$/.test(value) ? Number(value) : 0;
		if (port < 1 || port > 65_535) {
			throw usageError(`--host-port ${printable(value)} is not a port number.`, 'Give a port between 1 and 65535, as in --host-port 5432.');
		}

		return port;
	});
}

/** The run flags as a request; `overrides` carries what the command decides itself. */
export function runRequest(context: CommandContext, overrides: Pick<BottleRequest, 'workspace' | 'command'> & Partial<BottleRequest>): BottleRequest {
	const {flags} = context;
	return {
		name: flags.name as string | undefined,
		environment: (flags.env as string[] | undefined) ?? [],
		grants: (flags.grant as string[] | undefined) ?? [],
		mounts: (flags.mount as string[] | undefined) ?? [],
		hostPorts: hostPortsOf(flags.hostPort as string[] | undefined),
		resources: {memory: flags.memory as string | undefined, cpus: flags.cpus as string | undefined, pids: flags.pids as string | undefined},
		...(flags.baseImage === undefined ? {} : {baseImage: flags.baseImage as string}),
		interactive: flags.interactive as boolean | undefined,
		detach: Boolean(flags.detach),
		hasTerminal: context.stdinIsTTY && Boolean(context.stdout.isTTY),
		rebuild: Boolean(flags.rebuild),
		keep: Boolean(flags.keep),
		cwd: context.cwd,
		...overrides,
	};
}

/**
 * Starts a run from the run flags and stays with it as the user asked:
 * detached (prints the id), on the terminal (interactive), or streaming
 * its output; returns the exit code.
 */
export async function startRun(context: CommandContext, overrides: Pick<BottleRequest, 'workspace' | 'command'> & Partial<BottleRequest>): Promise<number> {
	const request = runRequest(context, overrides);
	// Loaded while the bottle starts, and only for a run that stays on the terminal: it brings the terminal emulator.
	const terminal = request.detach ? undefined : import('./attach-command.js');
	void terminal?.catch(() => undefined);
	const {bottles, engine} = await context.services();
	let connection: {attachment: Attachment; pending: BufferedOutput} | undefined;
	const run = await bottles.start(request, async ({run: created}) => {
		// Attach before the start so the first bytes of output are not missed.
		if (!request.detach) {
			const attachment = await engine.attach(created.containerId!, {stdin: created.interactive});
			// An interactive session takes over only after the start; until
			// then its output is kept. Output-only streams stay paused (in
			// the socket) until they are read, so they need no buffer.
			connection = {attachment, pending: bufferOutput(attachment)};
		}
	});

	if (request.detach) {
		context.stdout.write(run.id + '\n');
		return exitCodes.success;
	}

	if (run.interactive) {
		const {attachTerminal} = await terminal!;
		return attachTerminal(context, run, {...connection!, replay: false});
	}

	return attachOutput(context, run, connection);
}
