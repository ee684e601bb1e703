import {agentPackages} from '../agents/agent-packages.js';
import {bottleFlags, checkBottleRequest, printSessions} from './bottles.js';
import type {Command} from './command.js';
import {startRun} from './run-command.js';

const codex = agentPackages.codex;

export const codexCommand: Command = {
	help: `
  Usage
    $ moat codex [workspace] [flags] [-- codex arguments…]
    $ moat codex sessions [--json]

  Starts OpenAI's Codex for the workspace (default: the current directory) in
  a sealed container, signed in with your openai grant; the key is added by
  moat's proxy and never enters the container. Codex's state (sessions) is
  kept per workspace, so -c continues across bottles.

  Flags
    -p, --prompt TEXT      Run codex exec once, print the answer and exit with its code
    -c, --continue         Continue the workspace's most recent session
    -r, --resume ID        Resume a session by id (see moat codex sessions)
        --noyolo           Keep Codex's own approvals and sandbox (by default the bottle is the sandbox)
    plus the run flags: -n, -g, -e, -m, -d, --rebuild, --keep, --host-port,
    --memory, --cpus, --pids, --base-image

  Codex ${codex.version} is installed once into moat's cache (MOAT_CACHE_DIR);
  ${codex.versionVariable} picks another version.
`,
	flags: bottleFlags,
	async run(context) {
		const {flags} = context;
		if (context.input[0] === 'sessions') {
			return printSessions(context, 'codex');
		}

		const {prompt} = checkBottleRequest(context, 'codex', {ask: 'task to run', example: 'Explain this repository', conversation: 'session'});
		return startRun(context, {
			workspace: context.input[0] ?? '.',
			recipe: 'codex',
			// What follows -- goes to Codex before moat's own arguments.
			command: context.rest,
			options: {
				prompt,
				continue: flags.continue as boolean | undefined,
				resume: flags.resume as string | undefined,
				noyolo: flags.noyolo as boolean | undefined,
			},
		});
	},
};
