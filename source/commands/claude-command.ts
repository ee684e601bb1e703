import {ensureAgentPackage, agentVersion} from '../agents/agent-cache.js';
import {agentPackages} from '../agents/agent-packages.js';
import {claudeConfigMount, prepareClaudeState} from '../agents/claude-state.js';
import {notFoundError, usageError} from '../errors.js';
import type {Command, CommandContext} from './command.js';
import {runFlags, startRun} from './run-command.js';

const claude = agentPackages.claude;
/** The grants Claude Code can sign in with, in the order moat prefers them. */
const claudeGrants = ['claude', 'anthropic'] as const;

/** Which Claude credential the bottle uses: the one asked for, else the first one granted. */
async function chooseGrant(context: CommandContext, asked: readonly string[]): Promise<string[]> {
	if (asked.some(grant => (claudeGrants as readonly string[]).includes(grant))) {
		return [...asked];
	}

	const {createDefaultGrantService} = await import('../credentials/grant-service.js');
	const service = await createDefaultGrantService(context.environment);
	for (const name of claudeGrants) {
		// eslint-disable-next-line no-await-in-loop
		if (await service.store.get(name)) {
			return [...asked, name];
		}
	}

	throw notFoundError(
		'Claude Code needs a Claude credential, and none is granted.',
		'Run moat grant claude (a Claude subscription token) or moat grant anthropic (an API key), then try again.',
	);
}

/** Claude Code's own arguments for what the flags ask. */
export function claudeArguments(flags: {prompt?: string; continue?: boolean; resume?: string; noyolo?: boolean}): string[] {
	return [
		...(flags.noyolo ? [] : ['--dangerously-skip-permissions']),
		...(flags.continue ? ['--continue'] : []),
		...(flags.resume === undefined ? [] : (flags.resume === '' ? ['--resume'] : ['--resume', flags.resume])),
		...(flags.prompt === undefined ? [] : ['-p', flags.prompt]),
	];
}

export const claudeCommand: Command = {
	name: 'claude',
	summary: 'Start Claude Code in a bottle (interactive, or -p for one answer)',
	help: `
  Usage
    $ moat claude [workspace] [flags] [-- claude arguments…]

  Starts Claude Code for the workspace (default: the current directory) in a
  sealed container. It signs in with your claude grant (subscription) or
  anthropic grant (API key); the credential is added by moat's proxy and
  never enters the container. Conversations are kept per workspace, so -c
  and -r continue across bottles.

  Flags
    -p, --prompt TEXT      Ask once, print the answer and exit with Claude's exit code
    -c, --continue         Continue the workspace's most recent conversation
    -r, --resume ID        Resume a conversation by id
        --noyolo           Keep Claude's permission prompts (by default they are skipped:
                           the bottle is the boundary, and Claude runs as a non-root user)
    -n, --name NAME        Name the run
    -g, --grant G          Also use this grant (repeatable); claude or anthropic picks the sign-in
    -e, --env K=V          Set an environment variable (repeatable)
    -m, --mount SRC:DST[:ro]  Mount a host path (repeatable)
    -d, --detach           Start and print only the run id (attach later with moat attach)
        --rebuild          Build the image even if one exists
        --keep             Keep the stopped container for inspection

  Claude Code ${claude.version} is installed once into moat's cache (MOAT_CACHE_DIR,
  default ~/.cache/moat); ${claude.versionVariable} picks another version.

  Examples
    $ moat claude
    $ moat claude ./project -p "Summarise the open TODOs"
    $ moat claude -c
`,
	flags: {
		...runFlags,
		prompt: {type: 'string', shortFlag: 'p'},
		continue: {type: 'boolean', shortFlag: 'c'},
		resume: {type: 'string', shortFlag: 'r'},
		noyolo: {type: 'boolean'},
	},
	async run(context) {
		const {flags} = context;
		if (context.input.length > 1) {
			throw usageError(`moat claude takes one workspace path, got ${context.input.length}: ${context.input.join(' ')}.`, 'Quote the prompt: moat claude -p "your question".');
		}

		const prompt = flags.prompt as string | undefined;
		if (prompt !== undefined && prompt.trim() === '') {
			throw usageError('-p needs the question to ask.', 'As in moat claude -p "What does this project do?".');
		}

		const version = agentVersion(context.environment, claude);
		const grants = await chooseGrant(context, (flags.grant as string[] | undefined) ?? []);
		const headless = prompt !== undefined;
		return startRun(context, {
			workspace: context.input[0] ?? '.',
			agent: 'claude',
			grants,
			// Headless answers stream as output; otherwise Claude needs the terminal.
			interactive: headless ? false : (flags.interactive as boolean | undefined) ?? true,
			command: [`${claude.mountPoint}/${claude.binary}`, ...claudeArguments({
				prompt,
				continue: flags.continue as boolean | undefined,
				resume: flags.resume as string | undefined,
				noyolo: flags.noyolo as boolean | undefined,
			}), ...context.rest],
			async prepareAgent({workspace, uid, gid}) {
				const installed = await ensureAgentPackage(context.environment, claude, message => {
					context.reporter.info(message);
				});
				const state = await prepareClaudeState({moatHome: context.environment.moatHome, userHome: context.environment.userHome, workspace, version, uid, gid});
				return {
					binds: [
						{source: installed, target: claude.mountPoint, readOnly: true},
						{source: state, target: claudeConfigMount, readOnly: false},
					],
					environment: {CLAUDE_CONFIG_DIR: claudeConfigMount, DISABLE_AUTOUPDATER: '1'},
				};
			},
		});
	},
};
