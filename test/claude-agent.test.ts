import test from 'ava';
import {listAgentSessions, runTookPart, sessionIdOfFile, sessionIdPattern, sessionRun, sessionTimes} from '../source/agents/agent-sessions.js';
import {seedClaudeJson, workspaceKey} from '../source/agents/agent-state.js';
import {npmCpu, versionPattern} from '../source/agents/agent-packages.js';
import {claudeArguments} from '../source/bottles/claude-recipe.js';
import {claudeManagedSettings, hookScript} from '../source/agents/agent-hooks.js';
import {stateLabel} from '../source/runs/run-presentation.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';

test('Claude\'s arguments: permissions skipped unless --noyolo, then continue, resume and the prompt', t => {
	t.deepEqual(claudeArguments({}), ['--dangerously-skip-permissions']);
	t.deepEqual(claudeArguments({noyolo: true}), []);
	t.deepEqual(claudeArguments({prompt: 'say hi'}), ['--dangerously-skip-permissions', '-p', '--', 'say hi']);
	t.deepEqual(claudeArguments({prompt: '-x looks like a flag'}), ['--dangerously-skip-permissions', '-p', '--', '-x looks like a flag']);
	t.deepEqual(claudeArguments({continue: true, prompt: 'again'}), ['--dangerously-skip-permissions', '--continue', '-p', '--', 'again']);
	t.deepEqual(claudeArguments({resume: 'abc'}), ['--dangerously-skip-permissions', '--resume', 'abc']);
	t.deepEqual(claudeArguments({resume: ''}), ['--dangerously-skip-permissions', '--resume']);
});

test('the seeded .claude.json takes only allow-listed, plain keys from the host\'s file', t => {
	const seeded = seedClaudeJson({
		theme: 'dark',
		hasCompletedOnboarding: true,
		lastOnboardingVersion: '2.0.0',
		mcpServers: {github: {env: {GITHUB_TOKEN: 'ghp_secret'}}},
		oauthAccount: {emailAddress: 'me@example.com'},
		editorMode: {nested: 'object is not plain'},
		projects: {'/home/me/secret-project': {allowedTools: ['Bash']}},
	}, '2.1.330');
	t.is(seeded.theme, 'dark');
	t.is(seeded.lastOnboardingVersion, '2.0.0');
	t.false('mcpServers' in seeded);
	t.false('oauthAccount' in seeded);
	t.false('editorMode' in seeded);
	t.false(JSON.stringify(seeded).includes('ghp_secret'));
	t.false(JSON.stringify(seeded).includes('secret-project'));
	t.deepEqual(Object.keys(seeded.projects as object), ['/workspace']);
});

test('without a host file, the bottle still starts onboarded, trusting /workspace, in bypass mode, without self-updates', t => {
	for (const host of [undefined, null, 'text', [1, 2]]) {
		const seeded = seedClaudeJson(host, '2.1.330');
		t.like(seeded, {hasCompletedOnboarding: true, lastOnboardingVersion: '2.1.330', bypassPermissionsModeAccepted: true, autoUpdates: false});
		t.like((seeded.projects as Record<string, unknown>)['/workspace'], {hasTrustDialogAccepted: true});
	}
});

test('each workspace gets its own stable, path-safe state folder name', t => {
	t.is(workspaceKey('/home/me/project'), workspaceKey('/home/me/project'));
	t.not(workspaceKey('/home/me/project'), workspaceKey('/home/you/project'));
	t.regex(workspaceKey('/home/me/my project/../x y'), /^[\w.-]+-[\da-f]{12}$/);
});

test('session ids are UUIDs only: no path can pass for one', t => {
	t.true(sessionIdPattern.test('4925d8a4-a5a5-4190-b645-fae3248c193c'));
	for (const value of ['../../etc/passwd', '4925d8a4-a5a5-4190-b645-fae3248c193c/..', '', 'run_0123456789ab']) {
		t.false(sessionIdPattern.test(value), value);
	}
});

const run = (id: string, change: Partial<RunMetadata>): RunMetadata => ({
	id, name: id, workspace: '/w', agent: 'claude', image: 'i', command: [], grants: [], ports: {}, mounts: [], environmentNames: [],
	containerId: null, state: 'stopped', interactive: false, keep: false, createdAt: '2026-11-22T05:00:00.000Z', startedAt: '2026-11-22T05:00:00.000Z',
	stoppedAt: null, exitCode: 0, error: null, stopRequested: false, ...change,
});

test('a session belongs to the newest claude run of its workspace that started before its last change', t => {
	const runs = [
		run('first', {}),
		run('second', {createdAt: '2026-11-22T05:10:00.000Z', startedAt: '2026-11-22T05:10:00.000Z'}),
		run('other-workspace', {workspace: '/elsewhere', createdAt: '2026-11-22T05:20:00.000Z', startedAt: '2026-11-22T05:20:00.000Z'}),
		run('not-claude', {agent: null, createdAt: '2026-11-22T05:20:00.000Z', startedAt: '2026-11-22T05:20:00.000Z'}),
	];
	t.is(sessionRun(runs, '/w', new Date('2026-11-22T05:05:00.000Z'))?.id, 'first');
	t.is(sessionRun(runs, '/w', new Date('2026-11-22T05:30:00.000Z'))?.id, 'second');
	t.is(sessionRun(runs, '/w', new Date('2026-11-22T04:00:00.000Z')), undefined);
});

test('agent versions are plain versions and the CPU is npm\'s name for it', t => {
	t.true(versionPattern.test('2.1.330'));
	t.true(versionPattern.test('1.0.0-beta.1'));
	t.false(versionPattern.test('latest --registry=http://evil'));
	t.false(versionPattern.test('1.0'));
	t.is(npmCpu('x64'), 'x64');
	t.is(npmCpu('arm64'), 'arm64');
});

test('Claude\'s managed settings report working on prompts and tool calls, waiting on notifications and finished turns', t => {
	const settings = claudeManagedSettings() as {hooks: Record<string, Array<{hooks: Array<{type: string; command: string}>}>>};
	const commandFor = (event: string) => settings.hooks[event]![0]!.hooks[0]!.command;
	t.is(commandFor('UserPromptSubmit'), '/etc/moat/agent-hook working');
	t.is(commandFor('PreToolUse'), '/etc/moat/agent-hook working');
	t.is(commandFor('Notification'), '/etc/moat/agent-hook waiting');
	t.is(commandFor('Stop'), '/etc/moat/agent-hook waiting');
	t.regex(hookScript, /http:\/\/moat\.hooks\/activity/);
	t.regex(hookScript, /\|\| true\nexit 0\n$/);
});

test('a running agent that waits for the user shows as waiting; a finished run shows its exit', t => {
	t.is(stateLabel({state: 'running', exitCode: null, activity: {state: 'waiting', at: ''}}), 'waiting');
	t.is(stateLabel({state: 'running', exitCode: null, activity: {state: 'working', at: ''}}), 'running');
	t.is(stateLabel({state: 'running', exitCode: null}), 'running');
	t.is(stateLabel({state: 'stopped', exitCode: 0, activity: {state: 'waiting', at: ''}}), 'stopped (0)');
});

test('a run moat stopped reads stopped, whatever code the stop signal left; one that failed after a stop request still shows its code', t => {
	t.is(stateLabel({state: 'stopped', exitCode: 137, stopRequested: true}), 'stopped');
	t.is(stateLabel({state: 'stopped', exitCode: 129, stopRequested: true}), 'stopped');
	t.is(stateLabel({state: 'stopped', exitCode: 3, stopRequested: false}), 'stopped (3)');
	t.is(stateLabel({state: 'failed', exitCode: 1, stopRequested: true}), 'failed (1)');
});

test('a run took part in a session when it was live at one of the session\'s stamped times, even if a later run continued it', t => {
	const text = [
		'{"type":"mode"}',
		'{"type":"user","timestamp":"2026-11-22T05:00:30.000Z"}',
		'{"type":"assistant","timestamp":"2026-11-22T05:10:30.000Z"}',
		'{"snapshot":{"timestamp":"not a time at all, no"}}',
	].join('\n');
	const times = sessionTimes(text);
	t.deepEqual(times, [Date.parse('2026-11-22T05:00:30.000Z'), Date.parse('2026-11-22T05:10:30.000Z')]);
	const now = Date.parse('2026-11-22T06:00:00.000Z');
	t.true(runTookPart({createdAt: '2026-11-22T05:00:00.000Z', startedAt: '2026-11-22T05:00:00.000Z', stoppedAt: '2026-11-22T05:01:00.000Z'}, times, now));
	t.true(runTookPart({createdAt: '2026-11-22T05:10:00.000Z', startedAt: '2026-11-22T05:10:00.000Z', stoppedAt: null}, times, now));
	t.false(runTookPart({createdAt: '2026-11-22T05:20:00.000Z', startedAt: '2026-11-22T05:20:00.000Z', stoppedAt: '2026-11-22T05:21:00.000Z'}, times, now));
});

test('a conversation file is named after its session: ID.jsonl for Claude, rollout-…-ID.jsonl for Codex', t => {
	t.is(sessionIdOfFile('4925d8a4-a5a5-4190-b645-fae3248c193c.jsonl'), '4925d8a4-a5a5-4190-b645-fae3248c193c');
	t.is(sessionIdOfFile('rollout-2026-11-22T05-31-37-01a201bd-11da-7361-bfd9-9280c48f283c.jsonl'), '01a201bd-11da-7361-bfd9-9280c48f283c');
	t.is(sessionIdOfFile('notes.jsonl'), undefined);
	t.is(sessionIdOfFile('4925d8a4-a5a5-4190-b645-fae3248c193c.json'), undefined);
});

test('sessions listing: a folder without its workspace note is left out with a warning, and a linked conversations folder is not followed', async t => {
	const {mkdtemp, mkdir, writeFile, symlink, rm} = await import('node:fs/promises');
	const {tmpdir} = await import('node:os');
	const path = await import('node:path');
	const home = await mkdtemp(path.join(tmpdir(), 'moat-sessions-'));
	t.teardown(async () => rm(home, {recursive: true, force: true}));
	const id = '4925d8a4-a5a5-4190-b645-fae3248c193c';
	const good = path.join(home, 'sessions', 'claude', 'good-1');
	await mkdir(path.join(good, 'config', 'projects', '-workspace'), {recursive: true});
	await writeFile(path.join(good, 'workspace'), '/w\n');
	await writeFile(path.join(good, 'config', 'projects', '-workspace', `${id}.jsonl`), '{}\n');
	await mkdir(path.join(home, 'sessions', 'claude', 'no-note', 'config'), {recursive: true});
	const linked = path.join(home, 'sessions', 'claude', 'linked');
	await mkdir(path.join(linked, 'config'), {recursive: true});
	await writeFile(path.join(linked, 'workspace'), '/elsewhere\n');
	await symlink(path.join(good, 'config', 'projects'), path.join(linked, 'config', 'projects'));
	const warnings: string[] = [];
	const sessions = await listAgentSessions(home, 'claude', [], message => warnings.push(message));
	t.deepEqual(sessions.map(session => [session.id, session.workspace]), [[id, '/w']]);
	t.is(warnings.length, 1);
	t.regex(warnings[0]!, /no-note names no workspace/);
});
