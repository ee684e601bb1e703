import os from 'node:os';
import {ensureAgentPackage} from '../agents/agent-cache.js';
import {agentHookMounts, hookScriptPath} from '../agents/agent-hooks.js';
import {agentPackages, npmCpu} from '../agents/agent-packages.js';
import {prepareAgentState, replaceAgentFile} from '../agents/agent-state.js';
import {placeholderAuthFile} from '../credentials/chatgpt-login.js';
import {usageError} from '../errors.js';
import {bottleKinds} from './bottle-kinds.js';
import type {AgentOptions, BottleRecipe, RecipeContext} from './bottle-recipe.js';
import {printable} from '../text/printable.js';

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

/** Codex's own arguments for what the options ask: `exec` for a prompt, `resume` to continue. Pure. */
export function codexArguments(options: AgentOptions): string[] {
	// The container is the sandbox: Codex's own (Landlock, seccomp) cannot work inside it.
	const yolo = options.noyolo ? [] : ['--dangerously-bypass-approvals-and-sandbox'];
	const session = options.continue ? ['resume', '--last'] : (options.resume ? ['resume', options.resume] : []);
	if (options.prompt !== undefined) {
		return ['exec', '--skip-git-repo-check', ...yolo, ...session, '--', options.prompt];
	}

	return [...yolo, ...session];
}

/** The access token of the run's openai grant when it is a ChatGPT login (else undefined). */
async function chatgptLogin(grants: readonly string[], {loadGrant}: RecipeContext): Promise<string | undefined> {
	for (const name of grants) {
		// A scoped name (openai:work) is the provider's grant, as the daemon reads it.
		const grant = (await loadGrant(name)) ?? (name.includes(':') ? await loadGrant(name.split(':')[0]!) : undefined);
		if (grant?.provider === 'openai') {
			return grant.details.kind === 'chatgpt' ? grant.secret.token : undefined;
		}
	}

	return undefined;
}

/** OpenAI's Codex, signed in with an openai grant: an API key, or the user's ChatGPT login. */
export const codexRecipe: BottleRecipe = {
	agent: 'codex',
	signInGrants: bottleKinds.codex.signInGrants,
	missingGrant: {
		message: 'Codex needs an OpenAI credential, and none is granted.',
		hint: 'Run moat grant openai (an API key, or your codex login), then try again.',
	},
	terminal: 'unless-headless',
	async resolve(options) {
		if (options.resume !== undefined && !/^[\da-f-]{8,64}$/i.test(options.resume)) {
			throw usageError(`"${printable(options.resume)}" is not a Codex session id.`, 'Use the id Codex printed, or -c for the latest session.');
		}

		return options;
	},
	command: (options, extra) => [`${codex.mountPoint}/${codex.binary(npmCpu(os.arch()))}`, ...extra, ...codexArguments(options)],
	async prepare({workspace, uid, gid, grants}, context) {
		const {environment, reporter} = context;
		const installed = await ensureAgentPackage(environment, codex, message => {
			reporter.info(message);
		});
		const state = await prepareAgentState({moatHome: environment.moatHome, agent: 'codex', workspace, uid, gid, seed: {name: 'config.toml', content: codexConfig()}});
		// A ChatGPT login reaches the bottle as a placeholder auth.json; an API key as OPENAI_API_KEY.
		const login = await chatgptLogin(grants, context);
		await replaceAgentFile(state, {name: 'auth.json', content: login ? placeholderAuthFile(login, environment.now()) : undefined, uid, gid});
		return {
			withoutPlaceholders: login ? ['OPENAI_API_KEY'] : [],
			binds: [
				{source: installed.directory, target: codex.mountPoint, readOnly: true},
				{source: state, target: codexHomeMount, readOnly: false},
				...await agentHookMounts(environment.moatHome, {claudeSettings: false}),
			],
			environment: {CODEX_HOME: codexHomeMount},
		};
	},
};
