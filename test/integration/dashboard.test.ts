import fs from 'node:fs/promises';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, destroyRuns, eventually, listRuns, moat, type Sandbox} from '../helpers/moat.js';
import {saneTerminal, terminalState, TmuxSession} from '../helpers/tmux.js';

/**
 * The dashboard as a user meets it: `moat` with no arguments in a real
 * terminal (tmux), against real containers, driven by keys and read off the
 * screen. Each key waits for what it should change before the next is sent,
 * so no two keys reach Ink as one chunk.
 */

const size = {rows: 35, columns: 120};

type Context = {
	sandbox: Sandbox;
	workspace: string;
	/** `moat` with these arguments (none: the dashboard) in a fresh terminal whose working directory is the workspace. */
	open(args?: string[]): Promise<TmuxSession>;
	/** Starts a detached run from another process, as a second terminal would; returns its id. */
	start(args: string[]): Promise<string>;
	runs(): Promise<RunMetadata[]>;
};

async function setUp(t: ExecutionContext): Promise<Context> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	const sessions: TmuxSession[] = [];
	t.teardown(async () => {
		for (const session of sessions) {
			await session.kill();
		}

		await destroyRuns(sandbox.env);
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {
		sandbox,
		workspace,
		async open(args = []) {
			const session = await TmuxSession.start(args, {env: sandbox.env, ...size, cwd: workspace});
			sessions.push(session);
			return session;
		},
		async start(args) {
			const result = await moat(['run', workspace, '-d', ...args], {env: sandbox.env});
			t.is(result.code, 0, result.stderr);
			return result.stdout.trim();
		},
		async runs() {
			return listRuns<RunMetadata>(sandbox.env);
		},
	};
}

const escapeRegExp = (text: string) => text.replaceAll(/[$()*+.?[\\\]^{|}]/g, String.raw`\$&`);

/** The table row of the run named `name` (the pointer column, the glyph, then the name). */
function tableRow(screen: string, name: string): string | undefined {
	return screen.split('\n').find(line => new RegExp(`^[› ] \\S ${escapeRegExp(name)}\\s`).test(line));
}

/** A row that is selected starts with the pointer. */
const selectedRowPattern = (name: string) => new RegExp(`^› \\S ${escapeRegExp(name)}\\s`, 'm');

/** The detail pane's lines under its tab row, down to the status line and hint bar (which close the screen). */
function paneLines(screen: string): string[] {
	const lines = screen.replace(/\n$/, '').split('\n');
	const header = lines.findIndex(line => /^ Preview {2}Logs {2}Network {2}Audit /.test(line));
	return header === -1 ? [] : lines.slice(header + 1, -2);
}

/** The screen's non-empty lines, trimmed: what two views of one screen must agree on. */
const meaningful = (lines: readonly string[]) => lines.map(line => line.trim()).filter(Boolean);

/** The attached view's footer (moat's own line, not the agent's). */
const footerPattern = (name: string) => new RegExp(`^ moat · ${escapeRegExp(name)} \\(run_[\\da-f]{12}\\) · Ctrl-/ d`, 'm');

const dashboardOpen = /enter attach · n new/;

dockerTest('a run started from another process appears on the open dashboard by itself; q quits, leaving the terminal sane and the run running', async t => {
	const {open, start, runs} = await setUp(t);
	const dashboard = await open();
	await dashboard.waitFor('No runs yet.');
	t.is(await dashboard.display('#{alternate_on}'), '1', 'the dashboard draws on the alternate screen');

	const id = await start(['-i', '-n', 'from-outside', '--', 'bash', '--norc']);
	// No key is pressed: the dashboard notices the run on its own.
	// It may show as created for a moment before its container runs.
	const screen = await dashboard.waitFor(current => selectedRowPattern('from-outside').test(current) && /● from-outside +\S+ +running/.test(current));
	t.regex(tableRow(screen, 'from-outside')!, new RegExp(`● from-outside +\\S+ +running +${id}`));
	t.regex(screen, /^moat · 1 run$/m);

	await dashboard.keys('q');
	t.is(await dashboard.exitCode(), 0);
	t.deepEqual(await terminalState(dashboard), saneTerminal);
	const [run] = await runs();
	t.is(run!.id, id);
	t.is(run!.state, 'running', 'quitting the dashboard leaves the runs running');
});

dockerTest('n opens the new-bottle dialog; a Shell bottle started from it with "attach now" gets the terminal, and Ctrl-/ d comes back to it in the table', async t => {
	const {workspace, open, runs} = await setUp(t);
	const dashboard = await open();
	await dashboard.waitFor('No runs yet.');
	await dashboard.keys('n');
	await dashboard.waitFor(/│ › Agent +\[Claude Code\] {2}Codex {3}Shell/);
	t.regex(await dashboard.screen(), new RegExp(`│ {3}Workspace +${escapeRegExp(workspace)} `), 'the workspace defaults to the current folder');
	await dashboard.keys('Right');
	await dashboard.waitFor(/Agent +Claude Code +\[Codex\]/);
	await dashboard.keys('Right');
	await dashboard.waitFor(/Agent +Claude Code +Codex +\[Shell\]/);
	await dashboard.keys('Down');
	await dashboard.waitFor(/│ › Workspace/);
	await dashboard.keys('Down');
	await dashboard.waitFor(/│ › Name +\(generated\)/);
	await dashboard.type('my-shell');
	await dashboard.waitFor(/│ › Name +my-shell▏/);
	for (const field of ['Grants', 'Prompt', 'Then']) {
		await dashboard.keys('Down');
		await dashboard.waitFor(new RegExp(`│ › ${field} `));
	}

	t.regex(await dashboard.screen(), /│ › Then +\[attach now\] {2}run detached/);
	await dashboard.keys('Enter');

	// Attached: the shell's prompt, under moat's footer naming the new run.
	const attached = await dashboard.waitFor(screen => footerPattern('my-shell').test(screen) && /\$\s*$/m.test(screen));
	t.false(dashboardOpen.test(attached), 'the dashboard is gone while attached');
	await dashboard.type('echo "marker-$((0+1))"');
	await dashboard.keys('Enter');
	await dashboard.waitFor(/^marker-1$/m);

	await dashboard.keys('C-_', 'd');
	const back = await dashboard.waitFor(screen => dashboardOpen.test(screen) && selectedRowPattern('my-shell').test(screen));
	const [run] = await runs();
	t.is(run!.name, 'my-shell');
	t.is(run!.workspace, workspace);
	t.true(run!.interactive);
	t.is(run!.state, 'running');
	t.regex(tableRow(back, 'my-shell')!, new RegExp(`● my-shell +\\S+ +running +${run!.id}`));
	// The Preview pane shows the shell's screen as it was left.
	t.true(paneLines(back).includes('marker-1'), back);
});

dockerTest('attached from the dashboard, Ctrl-/ n shows the other running bottle\'s screen and takes the keyboard to it, and Ctrl-/ n again comes back; Ctrl-/ d returns to the dashboard', async t => {
	const {open, start, runs} = await setUp(t);
	// Each bottle prints its marker before its shell starts, so its screen is known before anyone attaches.
	await start(['-i', '-n', 'first-bottle', '--', 'sh', '-c', 'echo marker-first; exec bash --norc']);
	await start(['-i', '-n', 'second-bottle', '--', 'sh', '-c', 'echo marker-second; exec bash --norc']);
	const dashboard = await open();
	// Newest first: second-bottle is on top and selected; j goes to first-bottle.
	await dashboard.waitFor(screen => selectedRowPattern('second-bottle').test(screen) && tableRow(screen, 'first-bottle') !== undefined);
	await dashboard.keys('j');
	await dashboard.waitFor(selectedRowPattern('first-bottle'));
	await dashboard.keys('Enter');

	const isScreenOf = (name: string, marker: string, other: string) => (screen: string) =>
		footerPattern(name).test(screen) && new RegExp(`^${marker}$`, 'm').test(screen) && !screen.includes(other) && /\$\s*$/m.test(screen);
	await dashboard.waitFor(isScreenOf('first-bottle', 'marker-first', 'marker-second'));

	await dashboard.keys('C-_', 'n');
	// The kept screen is painted (how fast, bench:attach is the place to measure; a test only says what).
	await dashboard.waitFor(isScreenOf('second-bottle', 'marker-second', 'marker-first'));
	// The keyboard now goes to the second bottle.
	await dashboard.type('echo "typed-$((2*2))"');
	await dashboard.keys('Enter');
	await dashboard.waitFor(screen => isScreenOf('second-bottle', 'marker-second', 'marker-first')(screen) && /^typed-4$/m.test(screen));

	await dashboard.keys('C-_', 'n');
	const first = await dashboard.waitFor(isScreenOf('first-bottle', 'marker-first', 'marker-second'));
	t.false(first.includes('typed-4'), 'what was typed in the second bottle stays there');

	await dashboard.keys('C-_', 'd');
	await dashboard.waitFor(screen => dashboardOpen.test(screen) && selectedRowPattern('first-bottle').test(screen));
	// Having handed the terminal back and forth, quitting still leaves it sane and both bottles running.
	await dashboard.keys('q');
	t.is(await dashboard.exitCode(), 0);
	t.deepEqual(await terminalState(dashboard), saneTerminal);
	t.deepEqual((await runs()).map(run => run.state), ['running', 'running']);
});

dockerTest('the Logs pane shows a printing run\'s newest lines as they come; s stops the selected run, and x then y destroys it', async t => {
	const {open, start, runs} = await setUp(t);
	const id = await start(['-n', 'printer', '--', 'sh', '-c', 'for i in $(seq 1 60); do echo "line-$i"; done; sleep 2; echo late-line; sleep 600']);
	const dashboard = await open();
	await dashboard.waitFor(selectedRowPattern('printer'));

	// Tab focuses the pane shown (Preview: the hint bar becomes the pane's), tab again moves to Logs.
	await dashboard.keys('Tab');
	await dashboard.waitFor(/^ Preview .*following/m);
	await dashboard.waitFor(/esc runs/);
	await dashboard.keys('Tab');
	const logs = await dashboard.waitFor(screen => /^ Preview {2}Logs .*\d+ lines/m.test(screen) && meaningful(paneLines(screen)).includes('line-60'));
	const shown = meaningful(paneLines(logs));
	// The pane follows the end: its lines are the newest ones, in order, up to line-60.
	const last = shown.indexOf('line-60');
	t.true(last > 10, logs);
	t.deepEqual(shown.slice(0, last + 1), Array.from({length: last + 1}, (_, index) => `line-${60 - last + index}`));
	// A line printed while the pane is open appears under them.
	const late = await dashboard.waitFor(screen => meaningful(paneLines(screen)).at(-1) === 'late-line');
	t.is(meaningful(paneLines(late)).at(-2), 'line-60');

	await dashboard.keys('Escape');
	await dashboard.waitFor(/enter attach · n new/);
	await dashboard.keys('s');
	const stopped = await dashboard.waitFor(screen => /○ printer +\S+ +stopped/.test(tableRow(screen, 'printer') ?? ''));
	const [run] = await runs();
	t.is(run!.state, 'stopped');
	// Stopped by moat, it reads plain "stopped": the signal's exit code is moat's doing, not the run's.
	t.true(run!.stopRequested);
	t.regex(tableRow(stopped, 'printer')!, new RegExp(`stopped +${id}`));

	await dashboard.keys('x');
	await dashboard.waitFor(`Destroy printer (${id}) and everything moat kept about it? y to confirm`);
	await dashboard.keys('y');
	await dashboard.waitFor(screen => tableRow(screen, 'printer') === undefined && screen.includes('No runs yet.'));
	t.deepEqual(await runs(), []);
});

dockerTest('after the dashboard is opened again, a run\'s Preview shows the same screen as moat attach does in a terminal of the same size', async t => {
	const {open, start} = await setUp(t);
	// A screen with a clear, colours, a positioned line and runs of spaces, then a shell prompt.
	const draw = String.raw`clear; printf '\033[1;32mgreen-title\033[0m\n  indented   words\n\nafter-blank\n\033[8;20Hplaced-at-8-20\n'; exec bash --norc`;
	const id = await start(['-i', '-n', 'fidelity', '--', 'sh', '-c', draw]);
	const firstDashboard = await open();
	await firstDashboard.waitFor(screen => paneLines(screen).some(line => line.includes('placed-at-8-20')));
	await firstDashboard.keys('q');
	t.is(await firstDashboard.exitCode(), 0);

	// A new dashboard knows nothing of the run's screen: it rebuilds it from the container.
	const dashboard = await open();
	const screen = await dashboard.waitFor(current => selectedRowPattern('fidelity').test(current) && /live screen/.test(current) && /\$$/.test(meaningful(paneLines(current)).at(-1) ?? ''));
	const preview = meaningful(paneLines(screen));

	const attached = await open(['attach', id]);
	const direct = await attached.waitFor(current => footerPattern('fidelity').test(current) && /\$\s*$/m.test(current));
	const directLines = meaningful(direct.split('\n').filter(line => !footerPattern('fidelity').test(line)));
	t.deepEqual(preview, directLines);
	t.true(preview.includes('placed-at-8-20'));
	// Rows and columns too: the positioned line sits on row 8, column 20 in both.
	t.is(direct.split('\n')[7], `${' '.repeat(19)}placed-at-8-20`);
	t.is(paneLines(screen)[7], `${' '.repeat(19)}placed-at-8-20`);
});

dockerTest('a run whose metadata.json is damaged is a row of its own, with ! and what is wrong, beside the other runs; s says it can only be removed, and x then y removes it', async t => {
	const {sandbox, open, start, runs} = await setUp(t);
	const healthy = await start(['-n', 'healthy', '--', 'sleep', '600']);
	const broken = await start(['-n', 'broken', '--', 'true']);
	await eventually(async () => (await runs()).some(run => run.id === broken && run.state === 'stopped' && run.containerId === null));
	await fs.writeFile(path.join(sandbox.moatHome, 'runs', broken, 'metadata.json'), '{}');

	const dashboard = await open();
	const damagedRow = new RegExp(`^[› ] ! -\\s+-\\s+damaged\\s+${broken}\\s+\\S+\\s+0\\s+0\\s+metadata\\.json: field id is missing`, 'm');
	const screen = await dashboard.waitFor(current => damagedRow.test(current) && /● healthy +\S+ +running/.test(current));
	t.regex(tableRow(screen, 'healthy')!, new RegExp(`running +${healthy}`));
	t.regex(screen, /^moat · 2 runs$/m);

	// The damaged run is the newest: select it (it may already be), then ask to stop it.
	const selected = new RegExp(`^› ! -\\s+-\\s+damaged\\s+${broken}`, 'm');
	if (!selected.test(screen)) {
		await dashboard.keys('k');
		await dashboard.waitFor(selected);
	}

	await dashboard.keys('s');
	await dashboard.waitFor(`${broken} is damaged (metadata.json: field id is missing`);
	await dashboard.keys('x');
	await dashboard.waitFor(`(${broken}) and everything moat kept about it? y to confirm`);
	await dashboard.keys('y');
	// Its id may still be in the status line (what was done); the table has only the healthy run.
	await dashboard.waitFor(current => /^moat · 1 run$/m.test(current) && /● healthy +\S+ +running/.test(current));
	t.deepEqual((await runs()).map(run => run.id), [healthy]);
	await t.throwsAsync(fs.access(path.join(sandbox.moatHome, 'runs', broken)));
});
