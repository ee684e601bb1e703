import fs from 'node:fs/promises';
import path from 'node:path';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {collect, createSandbox, createWorkspace, docker, moat, spawnMoat, waitForOutput, type Sandbox} from '../helpers/moat.js';
import {saneTerminal, terminalState, TmuxSession} from '../helpers/tmux.js';

type Context = {sandbox: Sandbox; workspace: string; open(args: string[], size?: {rows: number; columns: number}): Promise<TmuxSession>};

async function setUp(t: {teardown(fn: () => Promise<void>): void}): Promise<Context> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	const sessions: TmuxSession[] = [];
	t.teardown(async () => {
		for (const session of sessions) {
			await session.kill();
		}

		const runs = JSON.parse((await moat(['list', '--json'], {env: sandbox.env})).stdout || '[]') as RunMetadata[];
		for (const run of runs) {
			await moat(['destroy', '-f', run.id], {env: sandbox.env});
		}

		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {
		sandbox,
		workspace,
		async open(args, size) {
			const session = await TmuxSession.start(args, {env: sandbox.env, ...size});
			sessions.push(session);
			return session;
		},
	};
}

async function runs(sandbox: Sandbox): Promise<RunMetadata[]> {
	return JSON.parse((await moat(['list', '--json'], {env: sandbox.env})).stdout) as RunMetadata[];
}

dockerTest('typing into an interactive shell echoes through the container, under a footer naming the run', async t => {
	const {workspace, open} = await setUp(t);
	const session = await open(['run', '-i', workspace, '-n', 'typing', '--', 'bash', '--norc']);
	await session.waitFor(/\$\s*$/m);
	await session.type('echo "answer=$((6*7))"');
	await session.keys('Enter');
	const screen = await session.waitFor('answer=42');
	const lines = screen.trimEnd().split('\n');
	t.regex(screen, /^answer=42$/m);
	t.regex(lines.at(-1)!, /moat · typing \(run_[\da-f]{12}\) · Ctrl-\/ d detach · k stop/);
});

dockerTest('Ctrl-/ d detaches, the run goes on, and moat attach brings back the same shell with its screen', async t => {
	const {sandbox, workspace, open} = await setUp(t);
	const first = await open(['run', '-i', workspace, '-n', 'keeper', '--', 'bash', '--norc']);
	await first.waitFor(/\$\s*$/m);
	await first.type('marker=before-detach; echo "$marker"');
	await first.keys('Enter');
	await first.waitFor(/^before-detach$/m);
	await first.keys('C-_', 'd');
	t.is(await first.exitCode(), 0);
	t.deepEqual(await terminalState(first), saneTerminal);
	const [run] = await runs(sandbox);
	t.is(run!.state, 'running');

	const second = await open(['attach', 'keeper']);
	const screen = await second.waitFor(/^before-detach$/m);
	t.regex(screen, /moat · keeper/);
	// The same shell: a variable set before detaching is still there.
	await second.type('echo "still=$marker"');
	await second.keys('Enter');
	await second.waitFor(/^still=before-detach$/m);
	await second.keys('C-_', 'd');
	t.is(await second.exitCode(), 0);
});

dockerTest('Ctrl-/ k stops the run; Ctrl-/ Ctrl-/ sends one Ctrl-/ to the agent', async t => {
	const {sandbox, workspace, open} = await setUp(t);
	// od shows the bytes the agent receives. Stopping an interactive run hangs up its terminal (SIGHUP, 128 + 1).
	const session = await open(['run', '-i', workspace, '-n', 'stoppable', '--', 'sh', '-c', 'stty raw -echo; echo ready; od -An -tx1 -w1 -v']);
	await session.waitFor('ready');
	await session.keys('C-_', 'C-_');
	await session.waitFor(/1f/);
	await session.keys('C-_', 'k');
	const code = await session.exitCode();
	t.is(code, 129);
	const [run] = await runs(sandbox);
	t.is(run!.state, 'stopped');
	t.is(run!.exitCode, 129);
	t.deepEqual(await terminalState(session), saneTerminal);
});

dockerTest('Ctrl+C goes to the agent in an interactive run', async t => {
	const {sandbox, workspace, open} = await setUp(t);
	const session = await open(['run', '-i', workspace, '--', 'sh', '-c', 'trap "echo got-interrupt; exit 5" INT; echo ready; while :; do sleep 0.1; done']);
	await session.waitFor('ready');
	await session.keys('C-c');
	await session.waitFor('got-interrupt');
	t.is(await session.exitCode(), 5);
	const [run] = await runs(sandbox);
	t.is(run!.exitCode, 5);
});

const modesOn = String.raw`printf '\033[?1049h\033[?1000h\033[?1006h\033[?2004h\033[>1u\033[?25l'; echo ready`;

for (const exitPath of ['detach', 'agent exit', 'SIGTERM', 'SIGHUP'] as const) {
	dockerTest(`after ${exitPath}, the terminal is sane again even though the agent turned on alternate screen, mouse, paste, kitty keyboard and a hidden cursor`, async t => {
		const {workspace, open} = await setUp(t);
		const tail = exitPath === 'agent exit' ? 'sleep 1; exit 3' : 'sleep 600';
		const session = await open(['run', '-i', workspace, '--', 'sh', '-c', `${modesOn}; ${tail}`]);
		await session.waitFor('ready');
		t.is(await session.display('#{alternate_on} #{mouse_any_flag} #{cursor_flag}'), '1 1 0', 'the agent really turned the modes on');
		switch (exitPath) {
			case 'detach': {
				await session.keys('C-_', 'd');
				break;
			}

			case 'SIGTERM':
			case 'SIGHUP': {
				process.kill(await session.moatPid(), exitPath);
				break;
			}

			default:
		}

		const expectedCode = {detach: 0, 'agent exit': 3, SIGTERM: 143, SIGHUP: 129}[exitPath];
		t.is(await session.exitCode(), expectedCode);
		t.deepEqual(await terminalState(session), saneTerminal);
	});
}

dockerTest('window size changes reach the container, one row short of the terminal for the footer', async t => {
	const {workspace, open} = await setUp(t);
	const session = await open(['run', '-i', workspace, '--', 'bash', '--norc'], {rows: 20, columns: 100});
	await session.waitFor(/\$\s*$/m);
	await session.type('stty size');
	await session.keys('Enter');
	await session.waitFor(/^19 100$/m);
	await session.tmux('resize-window', '-x', '90', '-y', '30');
	await session.type('clear; stty size');
	await session.keys('Enter');
	await session.waitFor(/^29 90$/m);
	t.regex(await session.screen(), /moat · /);
});

dockerTest('a full-screen program on the alternate screen gets every row and is never drawn over by the footer', async t => {
	const {workspace, open} = await setUp(t);
	const program = String.raw`printf '\033[?1049h'; sleep 1; rows=$(stty size | cut -d" " -f1); printf '\033[%s;1Hbottom-row-%s' "$rows" "$rows"; sleep 600`;
	const session = await open(['run', '-i', workspace, '--', 'sh', '-c', program], {rows: 20, columns: 100});
	const screen = await session.waitFor('bottom-row-');
	const lines = screen.split('\n');
	t.is(lines[19], 'bottom-row-20');
	t.false(screen.includes('moat ·'), 'no footer on the alternate screen');
	t.regex(await session.display('#{pane_title}'), /Ctrl-\/ d detach/);
	await session.keys('C-_', 'd');
	t.is(await session.exitCode(), 0);
});

dockerTest('moat attach -i=false streams an interactive run\'s output as plain lines', async t => {
	const {sandbox, workspace} = await setUp(t);
	// The run waits for the test to attach (a file in the workspace), not for a second that a loaded machine may not keep to.
	const started = await moat(['run', '-d', '-i', workspace, '--', 'sh', '-c', 'printf "\\033[31mred-line\\033[0m\\r\\n"; while [ ! -e /workspace/go ]; do sleep 0.1; done; echo second'], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const child = spawnMoat(['attach', '-i=false', started.stdout.trim()], {env: sandbox.env});
	const done = collect(child);
	await waitForOutput(child, 'red-line');
	await fs.writeFile(path.join(workspace, 'go'), '');
	const attached = await done;
	t.is(attached.code, 0, attached.stderr);
	t.is(attached.stdout, 'red-line\nsecond\n');
	await docker('ps', '-a');
});

dockerTest('moat logs shows a terminal run as its screen read (spaces drawn as cursor moves kept, a redrawn line once); -n takes the last of those lines, --raw gives the bytes, -f cleans each line as it comes', async t => {
	const {sandbox, workspace} = await setUp(t);
	// The way Claude Code draws: cursor moves for spaces, and a status line redrawn in place.
	const program = String.raw`echo ready; while [ ! -e /workspace/go ]; do sleep 0.1; done; printf '\342\227\217\033[1CHello\033[1Cfrom\033[1Cthe\033[1Cstand-in!\nstatus: working\n\033[1A\r\033[2Kstatus: done\nlast line\n'`;
	const started = await moat(['run', '-d', '-i', workspace, '--', 'sh', '-c', program], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	const following = spawnMoat(['logs', '-f', runId], {env: sandbox.env});
	const followed = collect(following);
	// What was there before -f began following is read as a screen; what comes after, a line at a time.
	await waitForOutput(following, 'ready');
	await fs.writeFile(path.join(workspace, 'go'), '');
	const live = await followed;
	t.is(live.code, 0, live.stderr);
	t.is(live.stdout, 'ready\n● Hello from the stand-in!\nstatus: working\nstatus: done\nlast line\n');

	const logs = await moat(['logs', runId], {env: sandbox.env});
	t.is(logs.code, 0, logs.stderr);
	t.is(logs.stdout, 'ready\n● Hello from the stand-in!\nstatus: done\nlast line\n');
	t.is((await moat(['logs', '-n', '2', runId], {env: sandbox.env})).stdout, 'status: done\nlast line\n');
	const raw = await moat(['logs', '--raw', runId], {env: sandbox.env});
	t.is(raw.stdout, 'ready\r\n●\u001B[1CHello\u001B[1Cfrom\u001B[1Cthe\u001B[1Cstand-in!\r\nstatus: working\r\n\u001B[1A\r\u001B[2Kstatus: done\r\nlast line\r\n');
});

dockerTest('after Ctrl-/ d from a program that keeps its cursor above what it drew (as Claude Code does), moat\'s message starts on a clean line below it and nothing it drew is overwritten', async t => {
	const {workspace, open} = await setUp(t);
	// An input box, a separator and a status line, with the cursor back in the box.
	const program = String.raw`printf '> input box\n────────\nstatus: ready\n\033[3A\033[3G'; sleep 600`;
	const session = await open(['run', '-i', workspace, '-n', 'inline', '--', 'sh', '-c', program], {rows: 20, columns: 100});
	await session.waitFor('status: ready');
	await session.keys('C-_', 'd');
	t.is(await session.exitCode(), 0);
	const lines = (await session.screen()).split('\n');
	t.deepEqual(lines.slice(0, 3), ['> input box', '────────', 'status: ready']);
	t.regex(lines[3]!, /^moat: detached from run_[\da-f]{12} \(inline\)/);
	// The message may wrap; the shell's next line comes after it.
	t.true(lines.slice(4).includes('EXITED 0'));
});

dockerTest('the footer stays on the last row after top (which leaves from the row below its screen) and after a program resets the scroll region', async t => {
	const {workspace, open} = await setUp(t);
	const session = await open(['run', '-i', workspace, '-n', 'footed', '--', 'bash', '--norc'], {rows: 20, columns: 100});
	const footer = /^ moat · footed \(run_[\da-f]{12}\) · Ctrl-\/ d detach/;
	await session.waitFor(/\$\s*$/m);
	await session.type('top');
	await session.keys('Enter');
	await session.waitFor(/load average/);
	await session.keys('q');
	await session.type('echo after-top');
	await session.keys('Enter');
	const afterTop = (await session.waitFor(/after-top/)).split('\n');
	t.true(afterTop.includes('after-top'), 'the output is a line of its own');
	t.regex(afterTop[19]!, footer, 'the footer is on the last row after top');
	t.is(afterTop.filter(line => footer.test(line)).length, 1);

	await session.type(String.raw`printf '\033[r'; seq 1 40; echo after-reset`);
	await session.keys('Enter');
	const afterReset = (await session.waitFor(/after-reset/)).split('\n');
	t.regex(afterReset[19]!, footer, 'the footer is on the last row after the scroll region was reset');
	t.is(afterReset.filter(line => footer.test(line)).length, 1, 'no copy of the footer scrolled up into the output');
});

dockerTest('two Ctrl+C in one read (a burst) while attached to a run\'s output stop it, as two presses do, and leave the terminal sane', async t => {
	const {sandbox, workspace, open} = await setUp(t);
	const session = await open(['run', workspace, '-n', 'burst', '--', 'sh', '-c', 'echo ready; sleep 300']);
	await session.waitFor(/^ready$/m);
	// One send-keys: both bytes reach the terminal in one write, and moat in one read.
	await session.keys('C-c', 'C-c');
	t.is(await session.exitCode(), 130);
	t.deepEqual(await terminalState(session), saneTerminal);
	const [run] = await runs(sandbox);
	t.is(run!.state, 'stopped');
});

dockerTest('one Ctrl+C typed while attached to a run\'s output detaches, and the run goes on', async t => {
	const {sandbox, workspace, open} = await setUp(t);
	const session = await open(['run', workspace, '-n', 'single', '--', 'sh', '-c', 'echo ready; sleep 300']);
	await session.waitFor(/^ready$/m);
	await session.keys('C-c');
	t.is(await session.exitCode(), 0);
	t.regex(await session.screen(), /^moat: detaching; press Ctrl\+C again to stop the run$/m);
	t.deepEqual(await terminalState(session), saneTerminal);
	const [run] = await runs(sandbox);
	t.is(run!.state, 'running');
});
