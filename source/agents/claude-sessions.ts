import fs from 'node:fs/promises';
import path from 'node:path';
import type {RunMetadata} from '../runs/run-metadata.js';

/**
 * Claude Code's conversations kept under MOAT_HOME (claude-state.ts), each
 * tied to the run that last wrote it. Session ids are UUIDs; anything else
 * is refused before it gets near a path.
 */
export const sessionIdPattern = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

export type ClaudeSession = {
	id: string;
	workspace: string;
	updatedAt: string;
	runId: string | null;
	name: string | null;
	state: string | null;
};

/** The run that wrote a session last: the newest claude run of its workspace started before the session's last change. */
export function sessionRun(runs: readonly RunMetadata[], workspace: string, updatedAt: Date): RunMetadata | undefined {
	return runs
		.filter(run => run.agent === 'claude' && run.workspace === workspace && Date.parse(run.startedAt ?? run.createdAt) <= updatedAt.getTime() + 1000)
		.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

async function realDirectoryEntries(directory: string): Promise<string[]> {
	const stat = await fs.lstat(directory).catch(() => undefined);
	return stat?.isDirectory() ? fs.readdir(directory).catch(() => []) : [];
}

export async function listClaudeSessions(moatHome: string, runs: readonly RunMetadata[]): Promise<ClaudeSession[]> {
	const root = path.join(moatHome, 'sessions', 'claude');
	const folders = await fs.readdir(root).catch(() => [] as string[]);
	const sessions: ClaudeSession[] = [];
	for (const folder of folders) {
		const base = path.join(root, folder);
		// eslint-disable-next-line no-await-in-loop
		const workspace = (await fs.readFile(path.join(base, 'workspace'), 'utf8').catch(() => '')).trim();
		if (workspace === '') {
			continue;
		}

		// The folder is the agent's: a linked folder could pass another workspace's sessions off as this one's.
		// eslint-disable-next-line no-await-in-loop
		const projects = await realDirectoryEntries(path.join(base, 'config', 'projects'));
		for (const project of projects) {
			// eslint-disable-next-line no-await-in-loop
			const files = await realDirectoryEntries(path.join(base, 'config', 'projects', project));
			for (const file of files.filter(name => name.endsWith('.jsonl') && sessionIdPattern.test(name.slice(0, -'.jsonl'.length)))) {
				// eslint-disable-next-line no-await-in-loop
				const stat = await fs.lstat(path.join(base, 'config', 'projects', project, file)).catch(() => undefined);
				if (!stat?.isFile()) {
					continue;
				}

				const run = sessionRun(runs, workspace, stat.mtime);
				sessions.push({
					id: file.slice(0, -'.jsonl'.length),
					workspace,
					updatedAt: stat.mtime.toISOString(),
					runId: run?.id ?? null,
					name: run?.name ?? null,
					state: run?.state ?? null,
				});
			}
		}
	}

	return sessions.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
}
