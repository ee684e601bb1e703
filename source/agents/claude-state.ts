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

/**
 * The bottle's .claude.json: onboarding done, /workspace trusted, bypass
 * mode accepted, no self-updates, and the placeholder API key approved (an
 * interactive Claude asks about a key in its environment, remembering the
 * answer by the key's last 20 characters; the real key is moat's business).
 */
export function seedClaudeJson(host: unknown, version: string, placeholderKey?: string): Record<string, unknown> {
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
		...(placeholderKey ? {customApiKeyResponses: {approved: [placeholderKey.trim().slice(-20)], rejected: []}} : {}),
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

/**
 * Creates (or reuses) the workspace's Claude folder, seeds .claude.json the
 * first time, and gives it to the bottle's user. Returns the folder to
 * mount. The agent writes in that folder, so nothing here follows a link it
 * may have left: the workspace note lives one level up, out of its reach,
 * the seed is created exclusively (O_EXCL never follows a symlink), and only
 * what moat itself creates changes owner (never a recursive chown).
 */
export async function prepareClaudeState(options: {moatHome: string; userHome: string; workspace: string; version: string; uid: number; gid: number; placeholderKey?: string}): Promise<string> {
	const base = path.join(options.moatHome, 'sessions', 'claude', workspaceKey(options.workspace));
	const config = path.join(base, 'config');
	await fs.mkdir(base, {recursive: true, mode: 0o700});
	await fs.writeFile(path.join(base, 'workspace'), `${options.workspace}\n`, {mode: 0o600});
	const created = await fs.mkdir(config, {mode: 0o700}).then(() => true, (error: NodeJS.ErrnoException) => {
		if (error.code !== 'EEXIST') {
			throw error;
		}

		return false;
	});
	const host = await fs.readFile(path.join(options.userHome, '.claude.json'), 'utf8').then(text => JSON.parse(text) as unknown, () => undefined);
	// Written whole beside it, then linked in: link never follows or replaces an existing name, and a full disk leaves no half seed.
	const temporary = path.join(base, `.claude.json.${process.pid}`);
	await fs.writeFile(temporary, JSON.stringify(seedClaudeJson(host, options.version, options.placeholderKey), null, 2) + '\n', {mode: 0o600});
	const seeded = await fs.link(temporary, path.join(config, '.claude.json')).then(() => true, (error: NodeJS.ErrnoException) => {
		if (error.code !== 'EEXIST') {
			throw error;
		}

		return false;
	}).finally(async () => fs.rm(temporary, {force: true}));
	if (process.getuid?.() === 0) {
		if (created) {
			await fs.lchown(config, options.uid, options.gid);
		}

		if (seeded) {
			await fs.lchown(path.join(config, '.claude.json'), options.uid, options.gid);
		}
	}

	return config;
}
