import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {ensureAgentPackage} from '../agents/agent-cache.js';
import {agentPackages, npmCpu} from '../agents/agent-packages.js';
import {agentHookMounts, hookScriptPath} from '../agents/agent-hooks.js';
import {prepareAgentState, replaceAgentFile} from '../agents/agent-state.js';
import {placeholderAuthFile} from '../credentials/chatgpt-login.js';
import {usageError} from '../errors.js';
import {bottleFlags, checkBottleRequest, chooseBottleGrant, printSessions} from './bottles.js';
import type {Command, CommandContext} from './command.js';
import {startRun} from './run-command.js';

const codex = agentPackages.codex;
/** Where the bottle's Codex keeps its state (CODEX_HOME), mounted from MOAT_HOME per workspace. */
const codexHomeMount = '/home/moatuser/.codex';

/**
 * The bottle's config.toml: Codex's `notify` reports a finished turn to
 * moat (the same hook script Claude's bottles use), and no update checks.
 */
export function codexConfig(): string {
	return [
		'# Written by moat for this workspace\'s bottles.',
		`notify = ["${hookScriptPath}", "waiting"]`,
		'check_for_update_on_startup = false',
		'',
	].join('\n');
}

/** Codex's own arguments for what the flags ask: `exec` for -p, `resume` for -c/-r. */
export function codexArguments(flags: {prompt?: string; continue?: boolean; resume?: string; noyolo?: boolean}): string[] {
	// The container is the sandbox: Codex's own (Landlock, seccomp) cannot work inside it.
	const yolo = flags.noyolo ? [] : ['--dangerously-bypass-approvals-and-sandbox'];
	const session = flags.continue ? ['resume', '--last'] : (flags.resume ? ['resume', flags.resume] : []);
	if (flags.prompt !== undefined) {
		return ['exec', '--skip-git-repo-check', ...yolo, ...session, '--', flags.prompt];
	}

	return [...yolo, ...session];
}

/** The access token of the run's openai grant when it is a ChatGPT login (else undefined). */
async function chatgptLogin(context: CommandContext, grants: readonly string[]): Promise<string | undefined> {
	const {createDefaultGrantService} = await import('../credentials/grant-service.js');
	const service = await createDefaultGrantService(context.environment);
	for (const name of grants) {
		// A scoped name (openai:work) is the provider's grant, as the daemon reads it.
		const grant = (await service.store.get(name)) ?? (name.includes(':') ? await service.store.get(name.split(':')[0]!) : undefined);
		if (grant?.provider === 'openai') {
			return grant.details.kind === 'chatgpt' ? grant.secret.token : undefined;
		}
	}

	return undefined;
}

export const codexCommand: Command = {
	name: 'codex',
	summary: 'Start Codex in a bottle (interactive, or -p for one answer)',
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
    plus the run flags: -n, -g, -e, -m, -d, --rebuild, --keep

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
		const resume = flags.resume as string | undefined;
		if (resume !== undefined && !/^[\da-f-]{8,64}$/i.test(resume)) {
			throw usageError(`"${resume}" is not a Codex session id.`, 'Use the id Codex printed, or -c for the latest session.');
		}

		const headless = prompt !== undefined;
		const grants = await chooseBottleGrant(context, (flags.grant as string[] | undefined) ?? [], ['openai'], {
			message: 'Codex needs an OpenAI credential, and none is granted.',
			hint: 'Run moat grant openai (an API key, or your codex login), then try again.',
		});
		const workspace = await fs.realpath(path.resolve(context.cwd, context.input[0] ?? '.')).catch(() => path.resolve(context.cwd, context.input[0] ?? '.'));
		return startRun(context, {
			workspace,
			agent: 'codex',
			grants,
			interactive: headless ? false : (flags.interactive as boolean | undefined) ?? true,
			command: [`${codex.mountPoint}/${codex.binary(npmCpu(os.arch()))}`, ...context.rest, ...codexArguments({
				prompt,
				continue: flags.continue as boolean | undefined,
				resume,
				noyolo: flags.noyolo as boolean | undefined,
			})],
			async prepareAgent({workspace: real, uid, gid}) {
				const installed = await ensureAgentPackage(context.environment, codex, message => {
					context.reporter.info(message);
				});
				const state = await prepareAgentState({moatHome: context.environment.moatHome, agent: 'codex', workspace: real, uid, gid, seed: {name: 'config.toml', content: codexConfig()}});
				// A ChatGPT login reaches the bottle as a placeholder auth.json; an API key as OPENAI_API_KEY.
				const login = await chatgptLogin(context, grants);
				await replaceAgentFile(state, {name: 'auth.json', content: login ? placeholderAuthFile(login, context.environment.now()) : undefined, uid, gid});
				return {
					withoutPlaceholders: login ? ['OPENAI_API_KEY'] : [],
					binds: [
						{source: installed.directory, target: codex.mountPoint, readOnly: true},
						{source: state, target: codexHomeMount, readOnly: false},
						...await agentHookMounts(context.environment.moatHome, {claudeSettings: false}),
					],
					environment: {CODEX_HOME: codexHomeMount},
				};
			},
		});
	},
};
