import {listAgentSessions} from '../agents/agent-sessions.js';
import {usageError} from '../errors.js';
import {formatAge, formatJson, formatTable} from '../output/format.js';
import type {CommandContext} from './command.js';
import {runFlags} from './run-command.js';
import {printable} from '../text/printable.js';

/** `moat claude sessions` / `moat codex sessions`: the conversations kept per workspace, newest first. */
export async function printSessions(context: CommandContext, agent: 'claude' | 'codex'): Promise<number> {
	const {runs} = await context.services();
	const sessions = await listAgentSessions(context.environment.moatHome, agent, await runs.list(), message => {
		context.reporter.warn(message);
	});
	if (context.flags.json) {
		context.stdout.write(formatJson(sessions.map(({file: _file, ...session}) => session)));
		return 0;
	}

	if (sessions.length === 0) {
		context.stderr.write(`No ${agent === 'claude' ? 'Claude' : 'Codex'} sessions yet. Start one with moat ${agent}.\n`);
		return 0;
	}

	const now = context.environment.now();
	context.stdout.write(formatTable(['SESSION', 'RUN', 'NAME', 'WORKSPACE', 'STATE', 'AGE'], sessions.map(session => [
		session.id, session.runId ?? '-', session.name ?? '-', session.workspace, session.state ?? '-', formatAge(new Date(session.updatedAt), now),
	])) + '\n');
	return 0;
}

/** The flags `moat claude` and `moat codex` share: the run flags and the agent's own. */
export const bottleFlags = {
	...runFlags,
	prompt: {type: 'string', shortFlag: 'p'},
	continue: {type: 'boolean', shortFlag: 'c'},
	resume: {type: 'string', shortFlag: 'r'},
	noyolo: {type: 'boolean'},
	json: {type: 'boolean'},
} as const;

/**
 * What both bottles refuse before anything starts: two workspaces, an empty
 * prompt, two ways to pick a conversation, and an interactive agent without
 * a terminal. Returns the prompt (headless when there is one).
 */
export function checkBottleRequest(context: CommandContext, agent: 'claude' | 'codex', words: {ask: string; example: string; conversation: string}): {prompt: string | undefined} {
	const {flags} = context;
	if (context.input.length > 1) {
		throw usageError(`moat ${agent} takes one workspace path, got ${context.input.length}: ${printable(context.input.join(' '))}.`, `Quote the prompt: moat ${agent} -p "your question".`);
	}

	const prompt = flags.prompt as string | undefined;
	if (prompt?.trim() === '') {
		throw usageError(`-p needs the ${words.ask}.`, `As in moat ${agent} -p "${words.example}".`);
	}

	if (flags.continue && flags.resume !== undefined) {
		throw usageError(`-c and -r both pick a ${words.conversation}.`, 'Use -c for the latest one, or -r ID for a given one.');
	}

	// An interactive agent needs this terminal unless it starts detached.
	if (prompt === undefined && !flags.detach && flags.interactive !== false && !(context.stdinIsTTY && context.stdout.isTTY)) {
		throw usageError(`moat ${agent} is interactive and needs a terminal, and this is not one.`, `Ask once with -p "${words.example}", start it detached with -d, or run it from a terminal.`);
	}

	return {prompt};
}
