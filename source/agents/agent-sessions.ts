import fs from 'node:fs/promises';
import path from 'node:path';
import type {RunMetadata} from '../runs/run-metadata.js';

/**
 * The agents' conversations kept under MOAT_HOME (agent-state.ts), each
 * tied to the run that last wrote it. Session ids are UUIDs; anything else
 * is refused before it gets near a path.
 */
export const sessionIdPattern = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

export type AgentSession = {
	id: string;
	workspace: string;
	updatedAt: string;
	runId: string | null;
	name: string | null;
	state: string | null;
	/** Where the conversation is kept (not printed: --json shows the rest). */
	file: string;
};

/** The run that wrote a session last: the newest claude run of its workspace started before the session's last change. */
export function sessionRun(runs: readonly RunMetadata[], workspace: string, updatedAt: Date, agent = 'claude'): RunMetadata | undefined {
	return runs
		.filter(run => run.agent === agent && run.workspace === workspace && Date.parse(run.startedAt ?? run.createdAt) <= updatedAt.getTime() + 1000)
		.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

/** Reports what could not be read (anything but a missing file): a listing with holes says so. */
type Warn = (message: string) => void;

function quietly<T>(fallback: T, warn: Warn | undefined, what: string) {
	return (error: NodeJS.ErrnoException): T => {
		if (error.code !== 'ENOENT') {
			warn?.(`could not read ${what}: ${error.message}`);
		}

		return fallback;
	};
}

async function realDirectoryEntries(directory: string, warn?: Warn): Promise<string[]> {
	const stat = await fs.lstat(directory).catch(quietly(undefined, warn, directory));
	return stat?.isDirectory() ? fs.readdir(directory).catch(quietly([] as string[], warn, directory)) : [];
}

/** The times written in a session's lines (Claude stamps each turn), to tell which runs took part in it. */
export function sessionTimes(text: string): number[] {
	return [...text.matchAll(/"timestamp":"([^"]{20,40})"/g)].map(match => Date.parse(match[1]!)).filter(time => !Number.isNaN(time));
}

/** Whether a run was live at any of the session's times: it wrote to the conversation. */
export function runTookPart(run: Pick<RunMetadata, 'startedAt' | 'createdAt' | 'stoppedAt'>, times: readonly number[], now: number): boolean {
	const from = Date.parse(run.startedAt ?? run.createdAt) - 1000;
	const to = run.stoppedAt ? Date.parse(run.stoppedAt) + 1000 : now;
	return times.some(time => time >= from && time <= to);
}

/** The newest session of a run's workspace that the run took part in, even if later runs continued it. */
export async function sessionOfRun(moatHome: string, run: RunMetadata, sessions: readonly AgentSession[], now: number): Promise<AgentSession | undefined> {
	for (const session of sessions.filter(candidate => candidate.workspace === run.workspace)) {
		const text = await fs.readFile(session.file, 'utf8').catch(() => '');
		if (runTookPart(run, sessionTimes(text), now)) {
			return session;
		}
	}

	return undefined;
}

/** Where each agent keeps its conversations inside its config folder, and how deep the files sit. */
const conversationFolders = {claude: {folder: 'projects', depth: 1}, codex: {folder: 'sessions', depth: 3}} as const;

/** The UUID a conversation file is named after: `ID.jsonl` (Claude) or `rollout-…-ID.jsonl` (Codex). */
export function sessionIdOfFile(name: string): string | undefined {
	const match = /([\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12})\.jsonl$/.exec(name);
	return match?.[1];
}

/** Conversation files `depth` folders below `directory`, through real folders only (the folder is the agent's). */
async function conversationFiles(directory: string, depth: number, warn?: Warn): Promise<string[]> {
	const entries = await realDirectoryEntries(directory, warn);
	if (depth === 0) {
		return entries.filter(name => sessionIdOfFile(name) !== undefined).map(name => path.join(directory, name));
	}

	const nested = await Promise.all(entries.map(async name => conversationFiles(path.join(directory, name), depth - 1, warn)));
	return nested.flat();
}

export async function listAgentSessions(moatHome: string, agent: 'claude' | 'codex', runs: readonly RunMetadata[], warn?: Warn): Promise<AgentSession[]> {
	const root = path.join(moatHome, 'sessions', agent);
	const folders = await fs.readdir(root).catch(quietly([] as string[], warn, root));
	const {folder: conversations, depth} = conversationFolders[agent];
	const sessions: AgentSession[] = [];
	for (const folder of folders) {
		const base = path.join(root, folder);
		const workspace = (await fs.readFile(path.join(base, 'workspace'), 'utf8').catch(quietly('', warn, path.join(base, 'workspace')))).trim();
		if (workspace === '') {
			warn?.(`${base} names no workspace; its sessions are left out`);
			continue;
		}

		for (const file of await conversationFiles(path.join(base, 'config', conversations), depth, warn)) {
			const stat = await fs.lstat(file).catch(quietly(undefined, warn, file));
			if (!stat?.isFile()) {
				continue;
			}

			const run = sessionRun(runs.filter(candidate => candidate.agent === agent), workspace, stat.mtime, agent);
			sessions.push({
				id: sessionIdOfFile(path.basename(file))!,
				workspace,
				updatedAt: stat.mtime.toISOString(),
				runId: run?.id ?? null,
				name: run?.name ?? null,
				state: run?.state ?? null,
				file,
			});
		}
	}

	return sessions.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
}

export async function listClaudeSessions(moatHome: string, runs: readonly RunMetadata[]): Promise<AgentSession[]> {
	return listAgentSessions(moatHome, 'claude', runs);
}
