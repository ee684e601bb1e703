import ava, {type ExecutionContext} from 'ava';
import {render} from 'ink-testing-library';
import {Dashboard, type DashboardExit} from '../../components/dashboard.js';
import type {GrantWizardServices} from '../../components/grant-wizard.js';
import type {Pane, RunRow} from '../../components/dashboard-reducer.js';
import {keyBindings, overlayBindings} from '../../components/key-bindings.js';
import {ServicesContext, type DashboardServices, type NewRunRequest, type Problem} from '../../components/services-context.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {attachedKeysFrom} from '../../source/terminal/attached-keys.js';
import {frameWhere, inputReady} from '../helpers/ink-frames.js';

// One dashboard at a time: with Ink 7, dashboards rendered side by side in one
// process (each re-reading its runs every 20 ms) starve each other's renders.
const test = ava.serial;

const now = new Date('2026-11-22T12:00:00.000Z');

const keys = {up: '\u001B[A', down: '\u001B[B', enter: '\r', escape: '\u001B', tab: '\t', backspace: '\u007F'} as const;

function run(overrides: Partial<RunRow> & Pick<RunMetadata, 'id' | 'name' | 'state' | 'createdAt'>): RunRow {
	return {
		workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, startedAt: null, stoppedAt: null,
		exitCode: null, error: null, stopRequested: false, ...overrides,
	};
}

const runs = [
	run({id: 'run_000000000001', name: 'oldest', state: 'failed', exitCode: 3, createdAt: '2026-11-22T09:00:00.000Z'}),
	run({id: 'run_000000000002', name: 'middle', state: 'stopped', exitCode: 0, createdAt: '2026-11-22T11:00:00.000Z', grants: ['github']}),
	run({id: 'run_000000000003', name: 'newest', state: 'running', agent: 'claude', createdAt: '2026-11-22T11:59:30.000Z', requests: 12, blocked: 2}),
];

function renderDashboard(listRuns: DashboardServices['listRuns'], actions: Partial<DashboardServices> = {}, options: {
	initial?: {selectedId?: string; status?: string; pane?: Pane};
	cwd?: string;
	statusMilliseconds?: number;
	rows?: number;
	columns?: number;
} = {}) {
	const services: DashboardServices = {
		listRuns,
		now: () => now,
		stopRun: async () => undefined,
		destroyRun: async () => undefined,
		...actions,
	};
	const exits: DashboardExit[] = [];
	const instance = render(
		<ServicesContext.Provider value={services}>
			<Dashboard refreshMilliseconds={20} statusMilliseconds={options.statusMilliseconds} initial={options.initial} cwd={options.cwd ?? '/work/project'} onExit={reason => {
				exits.push(reason);
			}} />
		</ServicesContext.Provider>,
	);
	if (options.rows || options.columns) {
		// ink-testing-library's terminal has no rows (the dashboard then assumes 24) and 100 columns; a resize changes them.
		if (options.rows) {
			Object.defineProperty(instance.stdout, 'rows', {value: options.rows, configurable: true});
		}

		if (options.columns) {
			Object.defineProperty(instance.stdout, 'columns', {value: options.columns, configurable: true});
		}

		instance.stdout.emit('resize');
	}

	return {...instance, exits};
}

const rowOf = (frame: string, name: string) => frame.split('\n').find(line => line.includes(name)) ?? '';
const headerOf = (frame: string) => frame.split('\n')[0] ?? '';
const hintsOf = (frame: string) => frame.trimEnd().split('\n').at(-1) ?? '';

/** Waits for something outside the frame (a service call, an exit). */
async function until(condition: () => boolean): Promise<void> {
	await frameWhere(() => (condition() ? 'yes' : ''), frame => frame === 'yes');
}

test('the dashboard lists runs newest first with a glyph, a state label, the agent (- for none) and request counts', async t => {
	const {lastFrame, unmount} = renderDashboard(async () => runs);
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('oldest'));
	const lines = frame.split('\n');
	const order = ['newest', 'middle', 'oldest'].map(name => lines.findIndex(line => line.includes(name)));
	t.deepEqual([...order].sort((a, b) => a - b), order);
	t.regex(frame, /NAME\s+AGENT\s+STATE\s+RUN ID\s+AGE\s+REQ\s+BLK\s+SERVICES\s+GRANTS/);
	t.regex(rowOf(frame, 'newest'), /● newest\s+claude\s+running\s+run_000000000003\s+30s\s+12\s+2\s+-/);
	t.regex(rowOf(frame, 'middle'), /○ middle\s+-\s+stopped \(0\)\s+run_000000000002\s+1h\s+-\s+-\s+-\s+github/);
	t.regex(rowOf(frame, 'oldest'), /✕ oldest\s+-\s+failed \(3\)/);
	t.regex(headerOf(frame), /moat · 3 runs/);
});

test('j, k, G and g move the selection pointer', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs);
	t.teardown(unmount);
	await frameWhere(lastFrame, text => rowOf(text, 'newest').startsWith('›'));
	await inputReady(stdin);
	stdin.write('j');
	await frameWhere(lastFrame, text => rowOf(text, 'middle').startsWith('›'));
	stdin.write('G');
	await frameWhere(lastFrame, text => rowOf(text, 'oldest').startsWith('›'));
	stdin.write('j');
	const atEnd = await frameWhere(lastFrame, text => rowOf(text, 'oldest').startsWith('›'));
	t.false(rowOf(atEnd, 'middle').startsWith('›'), 'the pointer stays on the last run');
	stdin.write('k');
	await frameWhere(lastFrame, text => rowOf(text, 'middle').startsWith('›'));
	stdin.write('g');
	const first = await frameWhere(lastFrame, text => rowOf(text, 'newest').startsWith('›'));
	t.false(rowOf(first, 'middle').startsWith('›'));
});

/** The overlay's last line: how to close it, and on which page of how many it is when there are several. */
const overlayHint = /^(?:Any key closes this\.|space: (?:more|first page) \((\d+)\/(\d+)\) · any other key closes)$/;

/** The overlay's rows in a frame (between the title line and its own hint line), and its page. */
function overlayPage(frame: string): {rows: string[]; page: number; pages: number} {
	const lines = frame.split('\n');
	const hint = lines.findIndex(line => overlayHint.test(line.trimEnd()));
	const [, page, pages] = overlayHint.exec(lines[hint]!.trimEnd())!;
	return {rows: lines.slice(1, hint), page: Number(page ?? 1), pages: Number(pages ?? 1)};
}

const isOverlay = (frame: string) => frame.split('\n').some(line => overlayHint.test(line.trimEnd()));

/**
 * The `?` overlay's entries as a user reads them, page after page: in each
 * of its two lists, a key's label and its description, with the lines a long
 * one wraps onto joined back. The lists stand side by side (a row holds both,
 * cut where the second's title starts) or one under the other (the second's
 * title starts it). Labels are known (the key tables); each list puts its
 * descriptions one column past its longest label.
 */
function overlayEntries(rows: readonly string[], lists: {keys: ReadonlyArray<{label: string}>; attached: ReadonlyArray<{label: string}>}): {keys: Map<string, string>; attached: Map<string, string>} {
	const together = rows.find(line => /^Keys +After Ctrl-\/ \(attached\)/.test(line));
	const split = together?.indexOf('After Ctrl-/');
	const streams = {keys: [] as string[], attached: [] as string[]};
	let list: keyof typeof streams = 'keys';
	for (const line of rows) {
		if (split === undefined) {
			list = line.startsWith('After Ctrl-/') ? 'attached' : list;
			streams[list].push(line);
		} else {
			streams.keys.push(line.slice(0, split));
			streams.attached.push(line.slice(split));
		}
	}

	const entries = {keys: new Map<string, string>(), attached: new Map<string, string>()};
	for (const list of ['keys', 'attached'] as const) {
		const labels = lists[list].map(binding => binding.label);
		const labelWidth = Math.max(...labels.map(label => label.length)) + 2;
		let current: string | undefined;
		for (const part of streams[list]) {
			const label = labels.find(candidate => part.slice(0, labelWidth).trim() === candidate);
			if (label) {
				current = label;
				entries[list].set(label, part.slice(labelWidth).trim());
			} else if (current && part.trim()) {
				entries[list].set(current, `${entries[list].get(current)!} ${part.trim()}`);
			}
		}
	}

	return entries;
}

// The attached keys are listed as pressed after Ctrl-/ (the list's title says so).
const overlayLists = {keys: overlayBindings, attached: attachedKeysFrom('dashboard').map(binding => ({label: binding.label, description: binding.description}))};

/** Every key in the overlay's pages with its whole description. */
function assertWholeOverlay(t: ExecutionContext, rows: readonly string[]) {
	const entries = overlayEntries(rows, overlayLists);
	for (const list of ['keys', 'attached'] as const) {
		for (const binding of overlayLists[list]) {
			t.is(entries[list].get(binding.label), binding.description, `${list}: ${binding.label}`);
		}
	}
}

/** Nothing cut: no line past the terminal's columns or rows, none ending in … (only a label has one of its own: Ctrl-/ 1…9). */
function assertNothingCut(t: ExecutionContext, frame: string, size: {rows: number; columns: number}) {
	const lines = frame.split('\n');
	t.true(lines.length <= size.rows, frame);
	t.true(lines.every(line => line.length <= size.columns), frame);
	t.false(lines.some(line => line.trimEnd().endsWith('…')), frame);
	t.false(frame.replaceAll('1…9', '').includes('…'), frame);
}

test('? opens a help overlay listing every key binding from the table and the attached keys, and ? closes it', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {}, {rows: 40});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('?');
	const frame = await frameWhere(lastFrame, isOverlay);
	t.is(overlayPage(frame).pages, 1);
	assertWholeOverlay(t, overlayPage(frame).rows);
	stdin.write('?');
	const closed = await frameWhere(lastFrame, text => !isOverlay(text));
	t.true(closed.includes('newest'), 'the table is still there after the overlay closes');
});

// The overlay takes the table's and the pane's rows: its two lists side by side when they fit on one page, else a page at a time.
for (const size of [{rows: 15, columns: 60}, {rows: 24, columns: 80}, {rows: 24, columns: 100}, {rows: 40, columns: 120}]) {
	test(`on a ${size.columns}×${size.rows} terminal the help overlay shows every binding whole on its pages, space goes round them, any other key closes it`, async t => {
		const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {}, size);
		t.teardown(unmount);
		await frameWhere(lastFrame, text => text.includes('newest'));
		await inputReady(stdin);
		stdin.write('?');
		const first = await frameWhere(lastFrame, isOverlay);
		const {pages} = overlayPage(first);
		t.is(pages > 1, size.rows < 20, `${pages} pages`);
		const rows: string[] = [];
		let frame = first;
		for (let page = 1; page <= pages; page++) {
			assertNothingCut(t, frame, size);
			t.is(overlayPage(frame).page, page);
			rows.push(...overlayPage(frame).rows);
			if (page < pages) {
				stdin.write(' ');
				frame = await frameWhere(lastFrame, text => isOverlay(text) && overlayPage(text).page === page + 1);
			}
		}

		assertWholeOverlay(t, rows);
		if (pages > 1) {
			// Past the last page, the first again; then any other key closes the overlay, doing nothing else.
			stdin.write(' ');
			const again = await frameWhere(lastFrame, text => isOverlay(text) && overlayPage(text).page === 1);
			t.is(again, first);
			stdin.write('j');
		} else {
			stdin.write(' ');
		}

		const closed = await frameWhere(lastFrame, text => !isOverlay(text) && text.includes('newest'));
		t.true(rowOf(closed, 'newest').startsWith('›'), 'the key that closed it did not move the selection');
	});
}

test('on an 80×24 terminal no column title is cut, and the hint bar keeps help and quit', async t => {
	const {lastFrame, unmount} = renderDashboard(async () => runs, {}, {rows: 24, columns: 80});
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('newest'));
	const header = frame.split('\n').find(line => line.includes('NAME'))!;
	t.regex(header, /^ {4}NAME +AGENT +STATE +RUN ID +AGE +REQ +BLK *$/);
	t.false(rowOf(frame, 'newest').includes('…'), 'no cell is cut either');
	t.regex(hintsOf(frame), /\? help · q quit$/);
	t.true(frame.split('\n').every(line => line.length <= 80));
});

test('on a 60×15 terminal the age stays', async t => {
	const {lastFrame, unmount} = renderDashboard(async () => runs, {}, {rows: 15, columns: 60});
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('newest'));
	t.regex(frame.split('\n').find(line => line.includes('NAME'))!, /^ {4}NAME +STATE +RUN ID +AGE *$/);
	t.regex(rowOf(frame, 'newest'), /newest +running +run_000000000003 +30s/);
	t.regex(hintsOf(frame), /\? help · q quit$/);
});

test('the hint bar shows the bindings with a hint for where the keyboard is', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs);
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('newest'));
	const tableHints = hintsOf(frame);
	for (const binding of keyBindings.filter(candidate => candidate.hint)) {
		t.is(tableHints.includes(`${binding.label} ${binding.hint!}`), binding.focus.includes('table'), `${binding.label} in the table`);
	}

	await inputReady(stdin);
	stdin.write(keys.tab);
	const paneFrame = await frameWhere(lastFrame, text => hintsOf(text).includes('esc runs'));
	const paneHints = hintsOf(paneFrame);
	for (const binding of keyBindings.filter(candidate => candidate.hint)) {
		t.is(paneHints.includes(`${binding.label} ${binding.hint!}`), binding.focus.includes('pane'), `${binding.label} in a pane`);
	}
});

test('runs that appear later show up without a key press', async t => {
	let current: RunRow[] = [];
	const {lastFrame, unmount} = renderDashboard(async () => current);
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('No runs yet'));
	current = runs;
	const frame = await frameWhere(lastFrame, text => text.includes('newest'));
	t.regex(frame, /moat · 3 runs/);
});

test('an error from the services is shown, not thrown', async t => {
	const {lastFrame, unmount} = renderDashboard(async () => {
		throw new Error('Cannot reach the Docker engine at /var/run/docker.sock.');
	});
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('Cannot reach'));
	t.regex(frame, /✕ Cannot reach the Docker engine/);
});

test('s stops the selected run and says so', async t => {
	const stopped: string[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async stopRun(id) {
			stopped.push(id);
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => rowOf(text, 'newest').startsWith('›'));
	await inputReady(stdin);
	stdin.write('j');
	stdin.write('s');
	await frameWhere(lastFrame, text => text.includes('Stopping middle (run_000000000002): done.'));
	t.deepEqual(stopped, ['run_000000000002'], 'the run the pointer moved to, even with keys arriving together');
});

test('x asks before destroying; only y destroys, anything else keeps the run', async t => {
	const destroyed: string[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async destroyRun(id) {
			destroyed.push(id);
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('x');
	await frameWhere(lastFrame, text => text.includes('Destroy newest (run_000000000003)'));
	stdin.write('n');
	await frameWhere(lastFrame, text => text.includes('Nothing destroyed.'));
	t.deepEqual(destroyed, []);
	stdin.write('x');
	await frameWhere(lastFrame, text => text.includes('Destroy newest (run_000000000003)'));
	stdin.write('y');
	await frameWhere(lastFrame, text => text.includes('Destroying newest (run_000000000003): done.'));
	t.deepEqual(destroyed, ['run_000000000003']);
});

test('a failed action is reported, not thrown', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async stopRun() {
			throw new Error('Cannot reach the Docker engine at /var/run/docker.sock.');
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('s');
	const frame = await frameWhere(lastFrame, text => text.includes('failed: Cannot reach the Docker engine'));
	t.regex(frame, /Stopping newest \(run_000000000003\) failed/);
});

test('/ filters the runs as you type, the header says how many of how many, enter keeps it and esc clears it', async t => {
	const stopped: string[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async stopRun(id) {
			stopped.push(id);
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('oldest'));
	await inputReady(stdin);
	stdin.write('/');
	stdin.write('m');
	stdin.write('i');
	stdin.write('d');
	const filtered = await frameWhere(lastFrame, text => headerOf(text).includes('filter: mid▏'));
	t.regex(headerOf(filtered), /moat · 1 of 3 runs · filter: mid▏/);
	t.true(rowOf(filtered, 'middle').startsWith('›'), 'the match is selected');
	t.false(filtered.includes('newest'));
	t.false(filtered.includes('oldest'));
	stdin.write(keys.backspace);
	await frameWhere(lastFrame, text => headerOf(text).includes('filter: mi▏'));
	stdin.write('d');
	stdin.write(keys.enter);
	const kept = await frameWhere(lastFrame, text => headerOf(text).endsWith('filter: mid'));
	t.false(kept.includes('newest'), 'enter keeps the filter');
	stdin.write('s');
	await frameWhere(lastFrame, text => text.includes('Stopping middle (run_000000000002): done.'));
	t.deepEqual(stopped, ['run_000000000002'], 's acts on the filtered selection, not on typed text');
	stdin.write(keys.escape);
	const cleared = await frameWhere(lastFrame, text => headerOf(text).trimEnd() === 'moat · 3 runs');
	t.true(cleared.includes('newest') && cleared.includes('oldest'));
	t.true(rowOf(cleared, 'middle').startsWith('›'), 'the run the filter found stays selected');
});

/** Pane services whose every line names the pane and the run it was read for. */
function paneServices(calls: string[] = []): Partial<DashboardServices> {
	return {
		preview(id) {
			calls.push(`preview ${id}`);
			return {lines: [{text: `screen row of ${id}`}], summary: 'live screen'};
		},
		async logs(id) {
			calls.push(`logs ${id}`);
			return {lines: [{text: `log line of ${id}`}, {text: `stderr of ${id}`, alert: true}], summary: '2 lines'};
		},
		async network(id) {
			calls.push(`network ${id}`);
			return {
				lines: [{text: `200 GET https://api.github.com/ for ${id}`}, {text: `✕ 403 GET https://evil.example/ for ${id}`, alert: true}],
				blockedHosts: [undefined, 'evil.example'],
				summary: '2 requests · 1 blocked (a allows)',
			};
		},
		async audit(id) {
			calls.push(`audit ${id}`);
			return {lines: [{text: `run.started for ${id}`}], summary: '1 entries · ✓ verified'};
		},
	};
}

test('tab opens the selected run\'s Preview, then cycles Logs, Network and Audit, each with its own lines', async t => {
	const calls: string[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, paneServices(calls));
	t.teardown(unmount);
	const id = 'run_000000000003';
	const before = await frameWhere(lastFrame, text => text.includes(`screen row of ${id}`));
	t.true(hintsOf(before).includes('enter attach'), 'the Preview shows before tab, but the keyboard stays on the table');
	await inputReady(stdin);
	stdin.write(keys.tab);
	const preview = await frameWhere(lastFrame, text => hintsOf(text).includes('esc runs'));
	t.true(preview.includes(`screen row of ${id}`));
	t.true(preview.includes('following · live screen'));
	const expected: Array<[string, string]> = [
		[`log line of ${id}`, '2 lines'],
		[`GET https://evil.example/ for ${id}`, '2 requests · 1 blocked (a allows)'],
		[`run.started for ${id}`, '1 entries · ✓ verified'],
		[`screen row of ${id}`, 'live screen'],
	];
	const shown = [`screen row of ${id}`];
	for (const [line, summary] of expected) {
		stdin.write(keys.tab);
		const frame = await frameWhere(lastFrame, text => text.includes(line));
		t.true(frame.includes(`· ${summary}`), summary);
		for (const other of shown.filter(text => text !== line)) {
			t.false(frame.includes(other), `${other} is not in the ${summary} pane`);
		}

		shown.push(line);
	}

	t.deepEqual(calls.filter(call => !call.endsWith(id)), [], 'only the selected run is read');
	t.true(['preview', 'logs', 'network', 'audit'].every(pane => calls.includes(`${pane} ${id}`)));
});

test('the pane shows the run the selection moves to', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, paneServices());
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('screen row of run_000000000003'));
	await inputReady(stdin);
	stdin.write('j');
	const frame = await frameWhere(lastFrame, text => text.includes('screen row of run_000000000002'));
	t.false(frame.includes('screen row of run_000000000003'));
});

test('in the Network pane the blocked request is shown, and a on it allows its host for that run and says so', async t => {
	const allowed: Array<[string, string]> = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		...paneServices(),
		async allowHost(id, host) {
			allowed.push([id, host]);
		},
	}, {initial: {pane: 'network'}});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('✕ 403 GET https://evil.example/ for run_000000000003'));
	await inputReady(stdin);
	stdin.write(keys.tab);
	await frameWhere(lastFrame, text => hintsOf(text).includes('a allow host'));
	stdin.write('a');
	await frameWhere(lastFrame, text => text.includes('Allowing evil.example for newest (run_000000000003): done.'));
	t.deepEqual(allowed, [['run_000000000003', 'evil.example']]);
	// What was done is not news at the next key.
	stdin.write('k');
	await frameWhere(lastFrame, text => !text.includes('Allowing evil.example'));
});

test('what an action said goes by itself after a while', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {}, {statusMilliseconds: 50});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('s');
	await frameWhere(lastFrame, text => text.includes('Stopping newest (run_000000000003): done.'));
	// No key is pressed.
	const after = await frameWhere(lastFrame, text => !text.includes('Stopping newest'));
	t.is(after.trimEnd().split('\n').at(-2)!.trim(), '', 'the status line is empty');
});

test('while a filter is typed the hint bar says how to keep and clear it, and a filter typed with its enter in one read attaches at the next enter', async t => {
	const {lastFrame, stdin, unmount, exits} = renderDashboard(async () => runs);
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('oldest'));
	await inputReady(stdin);
	stdin.write('/');
	const typing = await frameWhere(lastFrame, text => headerOf(text).includes('filter: ▏'));
	t.is(hintsOf(typing), 'enter keep the filter · esc clear it · Ctrl-U erase');
	// What a fast typist or a loaded machine sends: the name and its enter in one read.
	stdin.write('mid\r');
	const kept = await frameWhere(lastFrame, text => headerOf(text).endsWith('filter: mid'));
	t.true(hintsOf(kept).includes('enter attach'), 'the table\'s keys are back');
	stdin.write(keys.enter);
	await until(() => exits.length > 0);
	t.deepEqual(exits, [{kind: 'attach', id: 'run_000000000002', pane: 'preview'}]);
});

test('a on a request that was not blocked allows nothing and says how to pick one', async t => {
	const allowed: string[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		...paneServices(),
		async allowHost(_id, host) {
			allowed.push(host);
		},
	}, {initial: {pane: 'network'}});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('evil.example'));
	await inputReady(stdin);
	stdin.write(keys.tab);
	await frameWhere(lastFrame, text => hintsOf(text).includes('esc runs'));
	stdin.write('k');
	await frameWhere(lastFrame, text => text.includes('follow off (f)'));
	stdin.write('a');
	await frameWhere(lastFrame, text => text.includes('Pick a blocked request (✕) in the Network pane to allow its host.'));
	t.deepEqual(allowed, []);
	stdin.write('j');
	await frameWhere(lastFrame, text => text.includes('following'));
	stdin.write('a');
	await until(() => allowed.length > 0);
	t.deepEqual(allowed, ['evil.example'], 'j back to the newest line picks the blocked one');
});

// g puts the cursor on the pane's first line (the reducer knows the pane's length), so j
// after it moves to the second, and a acts on the line the user sees highlighted.
test('in the Network pane, g then j moves the cursor to the second line', async t => {
	const allowed: string[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async network() {
			return {
				lines: [{text: '✕ 403 GET https://first.example/', alert: true}, {text: '✕ 403 GET https://second.example/', alert: true}, {text: '200 GET https://ok.example/'}],
				blockedHosts: ['first.example', 'second.example', undefined],
			};
		},
		async allowHost(_id, host) {
			allowed.push(host);
		},
	}, {initial: {pane: 'network'}});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('ok.example'));
	await inputReady(stdin);
	stdin.write(keys.tab);
	await frameWhere(lastFrame, text => hintsOf(text).includes('esc runs'));
	stdin.write('g');
	await frameWhere(lastFrame, text => text.includes('follow off (f)'));
	stdin.write('j');
	stdin.write('a');
	await until(() => allowed.length > 0);
	t.deepEqual(allowed, ['second.example']);
});

test('enter hands the terminal to the selected run, with the pane that was open', async t => {
	const {lastFrame, stdin, unmount, exits} = renderDashboard(async () => runs, paneServices());
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('screen row of'));
	await inputReady(stdin);
	stdin.write('j');
	stdin.write(keys.tab);
	stdin.write(keys.tab);
	await frameWhere(lastFrame, text => text.includes('log line of run_000000000002'));
	stdin.write(keys.escape);
	await frameWhere(lastFrame, text => hintsOf(text).includes('enter attach'));
	stdin.write(keys.enter);
	await until(() => exits.length > 0);
	t.deepEqual(exits, [{kind: 'attach', id: 'run_000000000002', pane: 'logs'}]);
});

test('q quits with the selected run remembered', async t => {
	const {lastFrame, stdin, unmount, exits} = renderDashboard(async () => runs);
	t.teardown(unmount);
	await frameWhere(lastFrame, text => rowOf(text, 'newest').startsWith('›'));
	await inputReady(stdin);
	stdin.write('G');
	await frameWhere(lastFrame, text => rowOf(text, 'oldest').startsWith('›'));
	stdin.write('q');
	await until(() => exits.length > 0);
	t.deepEqual(exits, [{kind: 'quit', selectedId: 'run_000000000001'}]);
});

test('problems show as a banner with their fix, and go away once they are solved', async t => {
	let problems: Problem[] = [{message: 'The Docker engine cannot be reached.', fix: 'Start Docker.'}, {message: 'moat\'s daemon is not running.', fix: 'Run moat proxy start.'}];
	const {lastFrame, unmount} = renderDashboard(async () => runs, {
		async problems() {
			return problems;
		},
	});
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('Docker engine cannot be reached') && text.includes('newest'));
	const lines = frame.split('\n');
	t.is(lines[1], '✕ The Docker engine cannot be reached.', 'right under the title');
	t.is(lines[2], '  Start Docker.', 'with its fix on the next line');
	t.is(lines[3], '✕ moat\'s daemon is not running.');
	t.is(lines[4], '  Run moat proxy start.');
	t.true(frame.includes('newest'), 'the dashboard keeps working');
	problems = [];
	const solved = await frameWhere(lastFrame, text => !text.includes('Docker engine cannot be reached'));
	t.false(solved.includes('daemon is not running'));
	t.true(solved.includes('newest'));
	t.true(hintsOf(solved).includes('q quit'), 'the hint bar is still on screen');
});

// A problem's fix has its own line, so even on an 80-column terminal the part the user acts on is there.
test('on an 80-column terminal a problem\'s fix is still readable', async t => {
	const problem = {message: 'moat\'s daemon is not running: running bottles have no network and no live logs.', fix: 'Run moat proxy start.'};
	const {lastFrame, stdout, unmount} = renderDashboard(async () => runs, {
		async problems() {
			return [problem];
		},
	});
	t.teardown(unmount);
	Object.defineProperty(stdout, 'columns', {value: 80, configurable: true});
	stdout.emit('resize');
	const frame = await frameWhere(lastFrame, text => text.includes('daemon is not running') && !text.split('\n').some(line => line.length > 80));
	t.true(frame.replaceAll(/\s+/g, ' ').includes(problem.fix));
});

const wizardServices: GrantWizardServices = {
	providers: [{name: 'github', title: 'GitHub', grantWith: 'token'}, {name: 'claude', title: 'Claude subscription (Claude Code login)', grantWith: 'token'}],
	detect: async () => [],
	async grant() {
		throw new Error('not in these tests');
	},
	async sshKeys() {
		throw new Error('not in these tests');
	},
	async grantSsh() {
		throw new Error('not in these tests');
	},
	async grantAws() {
		throw new Error('not in these tests');
	},
	explain: error => ({message: String(error), hint: ''}),
};

function startServices(started: NewRunRequest[], options: {fail?: string; workspaceProblem?: string} = {}): Partial<DashboardServices> {
	return {
		async grantNames() {
			return ['claude', 'github'];
		},
		async checkWorkspace() {
			return options.workspaceProblem;
		},
		async startRun(request) {
			started.push(request);
			if (options.fail) {
				throw new Error(options.fail);
			}

			return 'run_0000000000aa';
		},
	};
}

test('n opens the New bottle dialog; a name and enter start Claude on the current folder and attach to it', async t => {
	const started: NewRunRequest[] = [];
	const {lastFrame, stdin, unmount, exits} = renderDashboard(async () => runs, startServices(started));
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('n');
	const dialog = await frameWhere(lastFrame, text => text.includes('New bottle') && text.includes('☑ claude'));
	t.regex(dialog, /Workspace\s+\/work\/project/);
	stdin.write(keys.down);
	stdin.write(keys.down);
	await frameWhere(lastFrame, text => text.includes('› Name'));
	for (const letter of 'demo') {
		stdin.write(letter);
	}

	await frameWhere(lastFrame, text => text.includes('demo▏'));
	stdin.write(keys.enter);
	await until(() => exits.length > 0);
	t.deepEqual(started, [{agent: 'claude', workspace: '/work/project', name: 'demo', grants: ['claude'], attached: true}]);
	t.deepEqual(exits, [{kind: 'attach', id: 'run_0000000000aa', pane: 'preview'}]);
});

test('a bottle started detached closes the dialog and says which run started', async t => {
	const started: NewRunRequest[] = [];
	const {lastFrame, stdin, unmount, exits} = renderDashboard(async () => runs, startServices(started));
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('n');
	await frameWhere(lastFrame, text => text.includes('☑ claude'));
	for (let count = 0; count < 5; count++) {
		stdin.write(keys.down);
	}

	await frameWhere(lastFrame, text => text.includes('› Then'));
	stdin.write(' ');
	await frameWhere(lastFrame, text => text.includes('[run detached]'));
	stdin.write(keys.enter);
	const frame = await frameWhere(lastFrame, text => text.includes('Started run_0000000000aa.'));
	t.false(frame.includes('New bottle'));
	t.deepEqual(started, [{agent: 'claude', workspace: '/work/project', grants: ['claude'], attached: false}]);
	t.deepEqual(exits, []);
});

test('a bottle that cannot start shows why in the dialog, which stays open', async t => {
	const started: NewRunRequest[] = [];
	const {lastFrame, stdin, unmount, exits} = renderDashboard(async () => runs, startServices(started, {fail: 'Claude Code needs a Claude credential, and none is granted.'}));
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('n');
	await frameWhere(lastFrame, text => text.includes('☑ claude'));
	stdin.write(keys.enter);
	const frame = await frameWhere(lastFrame, text => text.includes('✕ Claude Code needs a Claude credential'));
	t.true(frame.includes('New bottle'));
	t.false(frame.includes('Starting…'));
	t.is(started.length, 1);
	t.deepEqual(exits, []);
	stdin.write(keys.escape);
	const closed = await frameWhere(lastFrame, text => !text.includes('New bottle'));
	t.true(hintsOf(closed).includes('enter attach'), 'esc closes the dialog and gives the keys back to the table');
});

test('a workspace that is not a folder is reported and nothing starts', async t => {
	const started: NewRunRequest[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, startServices(started, {workspaceProblem: 'There is no folder at /work/project.'}));
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('n');
	await frameWhere(lastFrame, text => text.includes('☑ claude'));
	stdin.write(keys.enter);
	await frameWhere(lastFrame, text => text.includes('✕ There is no folder at /work/project.'));
	t.deepEqual(started, []);
});

test('c opens the grant wizard in the dashboard; leaving it says no grant was saved and gives the keys back', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async grantWizard() {
			return wizardServices;
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('c');
	const wizard = await frameWhere(lastFrame, text => text.includes('Which credential should runs be able to use?'));
	t.true(wizard.includes('GitHub'));
	t.true(wizard.includes('newest'), 'the runs stay in view');
	t.deepEqual(wizard.split('\n').filter(line => line.includes('q quit')).map(line => line.trim()), ['↑/↓ choose · enter select · esc back · q quit'], 'one hint bar: the wizard\'s');
	stdin.write('q');
	const closed = await frameWhere(lastFrame, text => text.includes('No grant saved.'));
	t.false(closed.includes('Which credential'));
	stdin.write('j');
	await frameWhere(lastFrame, text => rowOf(text, 'middle').startsWith('›'));
});

test('the grant wizard in the dashboard grants an SSH key for a typed host and an AWS role, and the status line says each', async t => {
	const saved: string[] = [];
	const result = (name: string, source: string) => ({name, login: null, scopes: [], expiresAt: null, source, file: `/home/user/.moat/credentials/${name}.enc`, keyringBackend: 'file' as const});
	const services: GrantWizardServices = {
		...wizardServices,
		providers: [{name: 'github', title: 'GitHub', grantWith: 'token'}, {name: 'aws', title: 'AWS role', grantWith: 'aws-role', region: 'us-east-1'}, {name: 'ssh', title: 'SSH key', grantWith: 'ssh-agent-key'}],
		sshKeys: async () => [{type: 'ssh-ed25519', comment: 'me@laptop', fingerprint: 'SHA256:mine'}],
		async grantSsh(host, fingerprint) {
			saved.push(`ssh ${host} ${fingerprint}`);
			return result(`ssh:${host}`, 'SSH agent key me@laptop');
		},
		async grantAws(roleArn, region) {
			saved.push(`aws ${roleArn} ${region}`);
			return result('aws', 'role to assume');
		},
	};
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async grantWizard() {
			return services;
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);

	stdin.write('c');
	await frameWhere(lastFrame, text => text.includes('Which credential should runs be able to use?'));
	stdin.write(keys.down);
	stdin.write(keys.down);
	await frameWhere(lastFrame, text => text.includes('› SSH key'));
	stdin.write(keys.enter);
	await frameWhere(lastFrame, text => text.includes('› me@laptop  SHA256:mine'));
	stdin.write(keys.enter);
	await frameWhere(lastFrame, text => text.includes('Which host may the key me@laptop be used for?'));
	stdin.write('q');
	await frameWhere(lastFrame, text => text.includes('> q'));
	t.true(lastFrame()!.includes('newest'), 'q in the host field is text, not the dashboard quitting');
	stdin.write(keys.backspace);
	stdin.write('github.com');
	await frameWhere(lastFrame, text => text.includes('> github.com'));
	stdin.write(keys.enter);
	await frameWhere(lastFrame, text => text.includes('✓ Granted ssh:github.com from SSH agent key me@laptop.'));
	stdin.write('x');
	await frameWhere(lastFrame, text => text.includes('Granted ssh:github.com.') && !text.includes('✓'));

	stdin.write('c');
	await frameWhere(lastFrame, text => text.includes('Which credential should runs be able to use?'));
	stdin.write(keys.down);
	await frameWhere(lastFrame, text => text.includes('› AWS role'));
	stdin.write(keys.enter);
	await frameWhere(lastFrame, text => text.includes('AWS role runs may assume (its ARN)'));
	stdin.write('arn:aws:iam::123456789012:role/agent');
	await frameWhere(lastFrame, text => text.includes('> arn:aws:iam::123456789012:role/agent'));
	stdin.write(keys.enter);
	await frameWhere(lastFrame, text => text.includes('> us-east-1'));
	stdin.write(keys.enter);
	await frameWhere(lastFrame, text => text.includes('✓ Granted aws'));
	stdin.write('x');
	await frameWhere(lastFrame, text => text.includes('Granted aws.') && !text.includes('✓'));
	t.deepEqual(saved, ['ssh github.com SHA256:mine', 'aws arn:aws:iam::123456789012:role/agent us-east-1']);
});

test('the New bottle dialog says when the agent has no grant, and Ctrl-G opens the grant wizard', async t => {
	const started: NewRunRequest[] = [];
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		...startServices(started),
		async grantNames() {
			return ['github'];
		},
		async grantWizard() {
			return wizardServices;
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('n');
	await frameWhere(lastFrame, text => text.includes('Claude Code needs a claude or anthropic grant, and there is none: Ctrl-G opens the grant wizard.'));
	stdin.write('\u0007');
	const wizard = await frameWhere(lastFrame, text => text.includes('Which credential should runs be able to use?'));
	t.false(wizard.includes('New bottle'));
	t.deepEqual(started, []);
});

// With follow off the cursor stays on its line while output arrives below it.
test('with follow off, new output does not scroll the pane away from what the user is reading', async t => {
	let count = 5;
	const lineText = (index: number) => `line ${String(index).padStart(3, '0')}`;
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs, {
		async logs() {
			return {lines: Array.from({length: count}, (_, index) => ({text: lineText(index + 1)})), summary: `${count} lines`};
		},
	}, {initial: {pane: 'logs'}});
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes(lineText(5)));
	await inputReady(stdin);
	stdin.write(keys.tab);
	await frameWhere(lastFrame, text => hintsOf(text).includes('esc runs'));
	stdin.write('k');
	await frameWhere(lastFrame, text => text.includes('follow off (f)'));
	count = 40;
	const frame = await frameWhere(lastFrame, text => text.includes('· 40 lines'));
	t.true(frame.includes(lineText(4)), 'the line the cursor was on is still shown');
});

test('initial.selectedId selects that run even though the runs are read after the first frame', async t => {
	let release: (() => void) | undefined;
	const firstRead = new Promise<void>(resolve => {
		release = resolve;
	});
	let reads = 0;
	const {lastFrame, unmount} = renderDashboard(async () => {
		reads++;
		await firstRead;
		return runs;
	}, {}, {initial: {selectedId: 'run_000000000001', status: 'Detached from oldest.'}});
	t.teardown(unmount);
	const empty = await frameWhere(lastFrame, text => text.includes('Detached from oldest.'));
	t.false(empty.includes('newest'), 'nothing is listed before the first read');
	release!();
	await frameWhere(lastFrame, text => rowOf(text, 'oldest').startsWith('›'));
	const readsThen = reads;
	await until(() => reads >= readsThen + 2);
	const later = await frameWhere(lastFrame, text => text.includes('oldest'));
	t.true(rowOf(later, 'oldest').startsWith('›'), 'still selected after more reads');
	t.false(rowOf(later, 'newest').startsWith('›'));
});
