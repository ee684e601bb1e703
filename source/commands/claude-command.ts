import {ensureAgentPackage, agentVersion} from '../agents/agent-cache.js';
import os from 'node:os';
import fs from 'node:fs/promises';
import path from 'node:path';
import {agentPackages, npmCpu} from '../agents/agent-packages.js';
import {agentHookMounts} from '../agents/agent-hooks.js';
import {listClaudeSessions, sessionIdPattern, sessionOfRun} from '../agents/agent-sessions.js';
import {claudeConfigMount, prepareClaudeState} from '../agents/agent-state.js';
import {isMoatError, notFoundError, usageError} from '../errors.js';
import {placeholderEnvironment} from '../proxy/injection-rules.js';
import {bottleFlags, checkBottleRequest, chooseBottleGrant, printSessions} from './bottles.js';
import type {Command, CommandContext} from './command.js';
import {startRun} from './run-command.js';

const claude = agentPackages.claude;
/** The grants Claude Code can sign in with, in the order moat prefers them. */
const claudeGrants = ['claude', 'anthropic'] as const;

/** Claude Code's own arguments for what the flags ask. */
export function claudeArguments(flags: {prompt?: string; continue?: boolean; resume?: string; noyolo?: boolean}): string[] {
	return [
		...(flags.noyolo ? [] : ['--dangerously-skip-permissions']),
		...(flags.continue ? ['--continue'] : []),
		...(flags.resume === undefined ? [] : (flags.resume === '' ? ['--resume'] : ['--resume', flags.resume])),
		// After --, so a prompt that starts with a dash is a prompt, not an option.
		...(flags.prompt === undefined ? [] : ['-p', '--', flags.prompt]),
	];
}

/**
 * `-r` takes a session id, or a run (id or name) whose newest session is
 * meant; bare `-r` opens Claude's picker. The session must be one moat
 * keeps for this workspace: Claude would fail on any other.
 */
async function resolveResume(context: CommandContext, value: string | undefined, workspace: string): Promise<string | undefined> {
	if (value === undefined || value === '') {
		return value;
	}

	const {runs} = await context.services();
	const sessions = await listClaudeSessions(context.environment.moatHome, await runs.list());
	let session = sessionIdPattern.test(value) ? sessions.find(candidate => candidate.id === value) : undefined;
	if (!session && !sessionIdPattern.test(value)) {
		const run = await runs.find(value).catch((error: unknown) => {
			// Ambiguity is the user's to fix (exit 2); only "no such run" means no session.
			if (isMoatError(error) && error.exitCode === 4) {
				return undefined;
			}

			throw error;
		});
		session = run ? await sessionOfRun(context.environment.moatHome, run, sessions, context.environment.now().getTime()) : undefined;
	}

	if (!session) {
		throw notFoundError(`No Claude session matches "${value}" (neither a session id nor a run that has one).`, 'See moat claude sessions for the ids, or use -c for the latest conversation.');
	}

	if (session.workspace !== workspace) {
		throw usageError(`Session ${session.id} belongs to ${session.workspace}, not ${workspace}.`, `Run moat claude ${session.workspace} -r ${session.id}.`);
	}

	return session.id;
}

export const claudeCommand: Command = {
	name: 'claude',
	summary: 'Start Claude Code in a bottle (interactive, or -p for one answer)',
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
		const headless = prompt !== undefined;
		if (flags.resume === '' && headless) {
			throw usageError('-r without an id opens Claude\'s session picker, which -p has no screen for.', 'Give the session: -r ID (see moat claude sessions).');
		}

		const workspacePath = await fs.realpath(path.resolve(context.cwd, context.input[0] ?? '.')).catch(() => path.resolve(context.cwd, context.input[0] ?? '.'));
		const resume = await resolveResume(context, flags.resume as string | undefined, workspacePath);
		const version = agentVersion(context.environment, claude);
		const grants = await chooseBottleGrant(context, (flags.grant as string[] | undefined) ?? [], claudeGrants, {
			message: 'Claude Code needs a Claude credential, and none is granted.',
			hint: 'Run moat grant claude (a Claude subscription token) or moat grant anthropic (an API key), then try again.',
		});
		return startRun(context, {
			workspace: context.input[0] ?? '.',
			agent: 'claude',
			grants,
			// Headless answers stream as output; otherwise Claude needs the terminal.
			interactive: headless ? false : (flags.interactive as boolean | undefined) ?? true,
			command: [`${claude.mountPoint}/${claude.binary(npmCpu(os.arch()))}`, ...context.rest, ...claudeArguments({
				prompt,
				continue: flags.continue as boolean | undefined,
				resume,
				noyolo: flags.noyolo as boolean | undefined,
			})],
			async prepareAgent({workspace, uid, gid}) {
				const installed = await ensureAgentPackage(context.environment, claude, message => {
					context.reporter.info(message);
				});
				const state = await prepareClaudeState({
					moatHome: context.environment.moatHome, userHome: context.environment.userHome, workspace, version, uid, gid,
					placeholderKey: placeholderEnvironment([{provider: 'anthropic'}]).ANTHROPIC_API_KEY,
				});
				return {
					binds: [
						{source: installed.directory, target: claude.mountPoint, readOnly: true},
						{source: state, target: claudeConfigMount, readOnly: false},
						...await agentHookMounts(context.environment.moatHome, {claudeSettings: true}),
					],
					environment: {CLAUDE_CONFIG_DIR: claudeConfigMount, DISABLE_AUTOUPDATER: '1'},
				};
			},
		});
	},
};
