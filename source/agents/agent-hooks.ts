import fs from 'node:fs/promises';
import path from 'node:path';
import {writeFileAtomic} from '../files/atomic-write.js';
import type {BindMount} from '../engine/engine.js';
import {hooksHost} from '../network/moat-hooks.js';

/**
 * "Waiting for input" without reading screens: the agents' own hooks
 * report to moat. Claude's bottles get, read-only, a managed-settings file
 * (which Claude reads from /etc/claude-code and the agent cannot change),
 * Codex's a `notify` entry in its config; both run a small script that posts `working` or `waiting` to
 * http://moat.hooks/activity — through the proxy, with the run's token, so
 * the daemon knows which run it is.
 */
export const hookScriptPath = '/etc/moat/agent-hook';
export const managedSettingsPath = '/etc/claude-code/managed-settings.json';

export const hookScript = `#!/bin/sh
# Reports the agent's activity to moat; never fails the agent.
command -v curl >/dev/null 2>&1 || exit 0
curl -s -m 2 -o /dev/null -X POST --data "$1" http://${hooksHost}/activity || true
exit 0
`;

/** Claude Code hooks: a prompt or a tool call means working; a finished turn or a notification, waiting. */
export function claudeManagedSettings(): Record<string, unknown> {
	const report = (state: 'working' | 'waiting') => [{hooks: [{type: 'command', command: `${hookScriptPath} ${state}`, timeout: 5}]}];
	return {
		hooks: {
			UserPromptSubmit: report('working'),
			PreToolUse: report('working'),
			Notification: report('waiting'),
			Stop: report('waiting'),
		},
	};
}

/**
 * Writes the hook files into MOAT_HOME (same content every time) and returns
 * their read-only mounts: the script every bottle's agent runs, and for
 * Claude the managed settings that call it (Codex calls it from its config).
 */
export async function agentHookMounts(moatHome: string, options: {claudeSettings: boolean}): Promise<BindMount[]> {
	const directory = path.join(moatHome, 'agents', 'hooks');
	await fs.mkdir(directory, {recursive: true, mode: 0o755});
	const script = path.join(directory, 'agent-hook');
	await writeFileAtomic(script, hookScript, 0o755);
	const mounts: BindMount[] = [{source: script, target: hookScriptPath, readOnly: true}];
	if (options.claudeSettings) {
		const settings = path.join(directory, 'claude-managed-settings.json');
		await writeFileAtomic(settings, JSON.stringify(claudeManagedSettings(), null, 2) + '\n', 0o644);
		mounts.push({source: settings, target: managedSettingsPath, readOnly: true});
	}

	return mounts;
}
