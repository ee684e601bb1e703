import os from 'node:os';
import {agentVersion, ensureAgentPackage} from '../agents/agent-cache.js';
import {agentHookMounts} from '../agents/agent-hooks.js';
import {agentPackages, npmCpu} from '../agents/agent-packages.js';
import {listClaudeSessions, sessionIdPattern, sessionOfRun} from '../agents/agent-sessions.js';
import {claudeConfigMount, prepareClaudeState} from '../agents/agent-state.js';
import {isMoatError, notFoundError, usageError} from '../errors.js';
import {placeholderEnvironment} from '../proxy/injection-rules.js';
import {bottleKinds} from './bottle-kinds.js';
import type {AgentOptions, BottleRecipe, RecipeContext} from './bottle-recipe.js';
import {printable} from '../text/printable.js';

const claude = agentPackages.claude;

/** Claude Code's own arguments for what the options ask. Pure. */
export function claudeArguments(options: AgentOptions): string[] {
	return [
		...(options.noyolo ? [] : ['--dangerously-skip-permissions']),
		...(options.continue ? ['--continue'] : []),
		...(options.resume === undefined ? [] : (options.resume === '' ? ['--resume'] : ['--resume', options.resume])),
		// After --, so a prompt that starts with a dash is a prompt, not an option.
		...(options.prompt === undefined ? [] : ['-p', '--', options.prompt]),
	];
}

/**
 * `-r` takes a session id, or a run (id or name) whose newest session is
 * meant; bare `-r` opens Claude's picker. The session must be one moat
 * keeps for this workspace: Claude would fail on any other.
 */
async function resolveResume(value: string | undefined, workspace: string, {environment, runs}: RecipeContext): Promise<string | undefined> {
	if (value === undefined || value === '') {
		return value;
	}

	const sessions = await listClaudeSessions(environment.moatHome, await runs.list());
	let session = sessionIdPattern.test(value) ? sessions.find(candidate => candidate.id === value) : undefined;
	if (!session && !sessionIdPattern.test(value)) {
		const run = await runs.find(value).catch((error: unknown) => {
			// Ambiguity is the user's to fix (exit 2); only "no such run" means no session.
			if (isMoatError(error) && error.exitCode === 4) {
				return undefined;
			}

			throw error;
		});
		session = run ? await sessionOfRun(environment.moatHome, run, sessions, environment.now().getTime()) : undefined;
	}

	if (!session) {
		throw notFoundError(`No Claude session matches "${printable(value)}" (neither a session id nor a run that has one).`, 'See moat claude sessions for the ids, or use -c for the latest conversation.');
	}

	if (session.workspace !== workspace) {
		throw usageError(`Session ${printable(session.id)} belongs to ${printable(session.workspace)}, not ${printable(workspace)}.`, `Run moat claude ${printable(session.workspace)} -r ${printable(session.id)}.`);
	}

	return session.id;
}

/** Claude Code, signed in with a claude (subscription) or anthropic (API key) grant. */
export const claudeRecipe: BottleRecipe = {
	agent: 'claude',
	signInGrants: bottleKinds.claude.signInGrants,
	missingGrant: {
		message: 'Claude Code needs a Claude credential, and none is granted.',
		hint: 'Run moat grant claude (a Claude subscription token) or moat grant anthropic (an API key), then try again.',
	},
	terminal: 'unless-headless',
	async resolve(options, workspace, context) {
		if (options.resume === '' && options.prompt !== undefined) {
			throw usageError('-r without an id opens Claude\'s session picker, which -p has no screen for.', 'Give the session: -r ID (see moat claude sessions).');
		}

		return {...options, resume: await resolveResume(options.resume, workspace, context)};
	},
	command: (options, extra) => [`${claude.mountPoint}/${claude.binary(npmCpu(os.arch()))}`, ...extra, ...claudeArguments(options)],
	async prepare({workspace, uid, gid}, {environment, reporter}) {
		const installed = await ensureAgentPackage(environment, claude, message => {
			reporter.info(message);
		});
		const state = await prepareClaudeState({
			moatHome: environment.moatHome, userHome: environment.userHome, workspace, version: agentVersion(environment, claude), uid, gid,
			placeholderKey: placeholderEnvironment([{provider: 'anthropic'}]).ANTHROPIC_API_KEY,
		});
		return {
			binds: [
				{source: installed.directory, target: claude.mountPoint, readOnly: true},
				{source: state, target: claudeConfigMount, readOnly: false},
				...await agentHookMounts(environment.moatHome, {claudeSettings: true}),
			],
			environment: {CLAUDE_CONFIG_DIR: claudeConfigMount, DISABLE_AUTOUPDATER: '1'},
		};
	},
};
