import {agentPackages} from '../agents/agent-packages.js';
import {bottleFlags, checkBottleRequest, printSessions} from './bottles.js';
import type {Command} from './command.js';
import {startRun} from './run-command.js';

const claude = agentPackages.claude;

export const claudeCommand: Command = {
	help: `
  Usage
    $ moat claude [workspace] [flags] [-- claude arguments…]
    $ moat claude sessions [--json]

  Starts Claude Code for the workspace (default: the current directory) in a
  sealed container. It signs in with your claude grant (subscription) or
  anthropic grant (API key); the credential is added by moat's proxy and
  never enters the container. Conversations are kept per workspace, so -c
  and -r continue across bottles.

  Flags
    -p, --prompt TEXT      Ask once, print the answer and exit with Claude's exit code
    -c, --continue         Continue the workspace's most recent conversation
    -r, --resume [ID]      Resume a conversation by session id, or a run's (by run id or name);
                           alone, Claude's own picker
        --noyolo           Keep Claude's permission prompts (by default they are skipped:
                           the bottle is the boundary, and Claude runs as a non-root user)
    -n, --name NAME        Name the run
    -g, --grant G          Also use this grant (repeatable); claude or anthropic picks the sign-in
    -e, --env K=V          Set an environment variable (repeatable)
    -m, --mount SRC:DST[:ro]  Mount a host path (repeatable)
    -d, --detach           Start and print only the run id (attach later with moat attach)
        --rebuild          Build the image even if one exists
        --keep             Keep the stopped container for inspection
        --host-port PORT   Let the run reach this port of this machine as
                           host.moat.internal:PORT, through the proxy (repeatable)
        --memory, --cpus, --pids, --base-image   Limits and base image, as for moat run

  Claude Code ${claude.version} is installed once into moat's cache (MOAT_CACHE_DIR,
  default ~/.cache/moat); ${claude.versionVariable} picks another version.

  Examples
    $ moat claude
    $ moat claude ./project -p "Summarise the open TODOs"
    $ moat claude -c
`,
	// -r may stand alone: Claude's own session picker.
	flags: {...bottleFlags, resume: {...bottleFlags.resume, optionalValue: true}},
	async run(context) {
		const {flags} = context;
		if (context.input[0] === 'sessions') {
			return printSessions(context, 'claude');
		}

		const {prompt} = checkBottleRequest(context, 'claude', {ask: 'question to ask', example: 'What does this project do?', conversation: 'conversation'});
		return startRun(context, {
			workspace: context.input[0] ?? '.',
			recipe: 'claude',
			// What follows -- goes to Claude before moat's own arguments.
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
