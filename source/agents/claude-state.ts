import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * What Claude Code keeps between bottles of one workspace: its config
 * folder (`CLAUDE_CONFIG_DIR`), holding the conversations (`projects/`) and
 * `.claude.json`. It lives under MOAT_HOME per workspace and is mounted
 * into each bottle, so `-c` and `-r` continue across containers.
 */

/** Keys copied from the host's ~/.claude.json: onboarding and look, nothing else (it can hold MCP secrets). */
export const hostKeysAllowed = ['hasCompletedOnboarding', 'lastOnboardingVersion', 'theme', 'editorMode', 'preferredNotifChannel'] as const;

/** The bottle's .claude.json: onboarding done, /workspace trusted, bypass mode accepted, no self-updates. */
export function seedClaudeJson(host: unknown, version: string): Record<string, unknown> {
	const allowed: Record<string, unknown> = {};
	if (typeof host === 'object' && host !== null && !Array.isArray(host)) {
		for (const key of hostKeysAllowed) {
			const value = (host as Record<string, unknown>)[key];
			if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
				allowed[key] = value;
			}
		}
	}

	return {
		...allowed,
		hasCompletedOnboarding: true,
		lastOnboardingVersion: typeof allowed.lastOnboardingVersion === 'string' ? allowed.lastOnboardingVersion : version,
		// The bottle is the boundary: the warning about skipping permissions was answered by choosing moat.
		bypassPermissionsModeAccepted: true,
		autoUpdates: false,
		projects: {
			'/workspace': {hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true, allowedTools: []},
		},
	};
}

/** A stable folder name for a workspace (its real path), so each workspace has its own conversations. */
export function workspaceKey(workspace: string): string {
	return `${path.basename(workspace).replaceAll(/[^\w.-]/g, '_').slice(0, 40)}-${createHash('sha256').update(workspace).digest('hex').slice(0, 12)}`;
}

/** Where the container sees the folder, and the variable that points Claude Code at it. */
export const claudeConfigMount = '/home/moatuser/.claude';

async function chownTree(directory: string, uid: number, gid: number): Promise<void> {
	await fs.lchown(directory, uid, gid);
	for (const entry of await fs.readdir(directory, {withFileTypes: true})) {
		const full = path.join(directory, entry.name);
		// eslint-disable-next-line no-await-in-loop
		await (entry.isDirectory() && !entry.isSymbolicLink() ? chownTree(full, uid, gid) : fs.lchown(full, uid, gid));
	}
}

/**
 * Creates (or reuses) the workspace's Claude folder, seeds .claude.json the
 * first time, and gives it to the bottle's user. Returns the host folder.
 */
export async function prepareClaudeState(options: {moatHome: string; userHome: string; workspace: string; version: string; uid: number; gid: number}): Promise<string> {
	const directory = path.join(options.moatHome, 'sessions', 'claude', workspaceKey(options.workspace));
	await fs.mkdir(path.join(directory, 'projects'), {recursive: true, mode: 0o700});
	await fs.writeFile(path.join(directory, '.moat-workspace'), `${options.workspace}\n`, {mode: 0o600});
	const stateFile = path.join(directory, '.claude.json');
	if (!await fs.access(stateFile).then(() => true, () => false)) {
		const host = await fs.readFile(path.join(options.userHome, '.claude.json'), 'utf8').then(text => JSON.parse(text) as unknown, () => undefined);
		await fs.writeFile(stateFile, JSON.stringify(seedClaudeJson(host, options.version), null, 2) + '\n', {mode: 0o600});
	}

	if (process.getuid?.() === 0) {
		await chownTree(directory, options.uid, options.gid);
	}

	return directory;
}
