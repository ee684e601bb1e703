import {listAgentSessions} from '../agents/claude-sessions.js';
import {notFoundError} from '../errors.js';
import {formatAge, formatTable} from '../output/format.js';
import type {CommandContext} from './command.js';

/**
 * Which credential a bottle signs in with: one the user named, else the
 * first of `candidates` that is granted; none is exit 4 with the command
 * that fixes it.
 */
export async function chooseBottleGrant(context: CommandContext, asked: readonly string[], candidates: readonly string[], missing: {message: string; hint: string}): Promise<string[]> {
	if (asked.some(grant => candidates.includes(grant))) {
		return [...asked];
	}

	const {createDefaultGrantService} = await import('../credentials/grant-service.js');
	const service = await createDefaultGrantService(context.environment);
	for (const name of candidates) {
		// eslint-disable-next-line no-await-in-loop
		if (await service.store.get(name)) {
			return [...asked, name];
		}
	}

	throw notFoundError(missing.message, missing.hint);
}

/** `moat claude sessions` / `moat codex sessions`: the conversations kept per workspace, newest first. */
export async function printSessions(context: CommandContext, agent: 'claude' | 'codex'): Promise<number> {
	const {runs} = await context.services();
	const sessions = await listAgentSessions(context.environment.moatHome, agent, await runs.list());
	if (context.flags.json) {
		context.stdout.write(JSON.stringify(sessions.map(({file: _file, ...session}) => session), undefined, 2) + '\n');
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
