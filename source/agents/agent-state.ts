import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {usageError} from '../errors.js';
import {printable} from '../text/printable.js';

/**
 * What an agent keeps between bottles of one workspace: its config folder
 * (Claude's `CLAUDE_CONFIG_DIR` with `projects/` and `.claude.json`,
 * Codex's `CODEX_HOME` with `sessions/` and `config.toml`). It lives under
 * `MOAT_HOME/sessions/<agent>/` per workspace and is mounted into each
 * bottle, so `-c` and `-r` continue across containers.
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
 * Creates (or reuses) an agent's folder for a workspace
 * (`sessions/<agent>/<key>/config`), seeds one file in it the first time,
 * and gives it to the bottle's user. Returns the folder to mount. The agent
 * writes in that folder, so nothing here follows a link it may have left:
 * the workspace note lives one level up, out of its reach, the seed is
 * linked in whole (link never follows or replaces an existing name, and a
 * full disk leaves no half seed), and only what moat itself creates changes
 * owner (never a recursive chown).
 */
export async function prepareAgentState(options: {moatHome: string; agent: string; workspace: string; uid: number; gid: number; seed: {name: string; content: string}}): Promise<string> {
	const base = path.join(options.moatHome, 'sessions', options.agent, workspaceKey(options.workspace));
	const config = path.join(base, 'config');
	await fs.mkdir(base, {recursive: true, mode: 0o700});
	await fs.writeFile(path.join(base, 'workspace'), `${options.workspace}\n`, {mode: 0o600});
	const ignoreExisting = (error: NodeJS.ErrnoException) => {
		if (error.code !== 'EEXIST') {
			throw error;
		}

		return false;
	};

	const created = await fs.mkdir(config, {mode: 0o700}).then(() => true, ignoreExisting);
	const temporary = path.join(base, `${options.seed.name}.${process.pid}`);
	await fs.writeFile(temporary, options.seed.content, {mode: 0o600});
	const seeded = await fs.link(temporary, path.join(config, options.seed.name)).then(() => true, ignoreExisting).finally(async () => fs.rm(temporary, {force: true}));
	if (process.getuid?.() === 0) {
		if (created) {
			await fs.lchown(config, options.uid, options.gid);
		}

		if (seeded) {
			await fs.lchown(path.join(config, options.seed.name), options.uid, options.gid);
		}
	}

	return config;
}

/** The workspace's Claude folder, with .claude.json seeded from the host's allow-listed keys. */
export async function prepareClaudeState(options: {moatHome: string; userHome: string; workspace: string; version: string; uid: number; gid: number; placeholderKey?: string}): Promise<string> {
	const host = await fs.readFile(path.join(options.userHome, '.claude.json'), 'utf8').then(text => JSON.parse(text) as unknown, () => undefined);
	return prepareAgentState({
		...options,
		agent: 'claude',
		seed: {name: '.claude.json', content: JSON.stringify(seedClaudeJson(host, options.version, options.placeholderKey), null, 2) + '\n'},
	});
}

/**
 * Writes (or, with `content` undefined, removes) one file in an agent's
 * folder at every start, such as Codex's placeholder auth.json. The file is
 * made beside the folder, out of the agent's reach, given to the bottle's
 * user, then renamed over whatever name the agent left (a link is replaced,
 * never followed).
 */
export async function replaceAgentFile(config: string, file: {name: string; content: string | undefined; uid: number; gid: number}): Promise<void> {
	const target = path.join(config, file.name);
	// The agent owns the folder: a folder it made under this name is in moat's way, said so rather than thrown.
	if ((await fs.lstat(target).catch(() => undefined))?.isDirectory()) {
		throw usageError(`${printable(target)} is a folder, where moat keeps the bottle's ${file.name}.`, `Remove it (rm -r ${printable(target)}) and start again.`);
	}

	if (file.content === undefined) {
		await fs.rm(target, {force: true});
		return;
	}

	const temporary = path.join(path.dirname(config), `${file.name}.${process.pid}`);
	await fs.writeFile(temporary, file.content, {mode: 0o600});
	try {
		if (process.getuid?.() === 0) {
			await fs.lchown(temporary, file.uid, file.gid);
		}

		await fs.rename(temporary, target);
	} finally {
		await fs.rm(temporary, {force: true});
	}
}
