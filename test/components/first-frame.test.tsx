import {stripVTControlCharacters} from 'node:util';
import test from 'ava';
import {render} from 'ink-testing-library';
import {Dashboard} from '../../components/dashboard.js';
import type {RunRow} from '../../components/dashboard-reducer.js';
import {firstFrame, firstFrameOutput} from '../../components/first-frame.js';
import {ServicesContext, type DashboardServices} from '../../components/services-context.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {frameWhere} from '../helpers/ink-frames.js';

const now = new Date('2026-11-22T12:00:00.000Z');

function run(overrides: Partial<RunRow> & Pick<RunMetadata, 'id' | 'name' | 'state' | 'createdAt'>): RunRow {
	return {
		workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, startedAt: null, stoppedAt: null,
		exitCode: null, error: null, stopRequested: false, ...overrides,
	};
}

// Oldest first, as a folder listing may give them: both frames put the newest first.
const runs: RunRow[] = [
	run({id: 'run_000000000001', name: 'oldest', state: 'failed', exitCode: 3, createdAt: '2026-11-22T09:00:00.000Z'}),
	run({id: 'run_000000000002', name: 'middle', state: 'stopped', exitCode: 0, createdAt: '2026-11-22T11:00:00.000Z', grants: ['github'], requests: 4, blocked: 1}),
	run({id: 'run_000000000003', name: 'newest', state: 'running', agent: 'claude', createdAt: '2026-11-22T11:59:30.000Z', requests: 12, blocked: 2}),
	{id: 'run_000000000004', name: null, createdAt: '2026-11-22T10:00:00.000Z', state: 'damaged', damage: 'metadata.json is empty'},
];

const plain = (lines: readonly string[]) => lines.map(line => stripVTControlCharacters(line).trimEnd());

test('the first frame (drawn before Ink loads) is the dashboard\'s first render, runs and all, before its panes load', async t => {
	// 24 rows and 100 columns: ink-testing-library's terminal.
	const services: DashboardServices = {
		// Never answers: what shows is what the dashboard was handed, as at a start.
		listRuns: async () => new Promise(() => undefined),
		now: () => now,
		stopRun: async () => undefined,
		destroyRun: async () => undefined,
	};
	const {lastFrame, unmount} = render(
		<ServicesContext.Provider value={services}>
			<Dashboard initial={{runs}} cwd="/work/project" />
		</ServicesContext.Provider>,
	);
	try {
		const inkFrame = await frameWhere(lastFrame, frame => frame.includes('newest'));
		const expected = plain(firstFrame({runs, rows: 24, columns: 100, now}));
		t.deepEqual(plain(inkFrame.split('\n')), expected);
		t.is(expected[0], 'moat · 4 runs');
		t.regex(expected[2]!, /^› ● newest/);
		t.true(expected.includes('Loading…'));
	} finally {
		unmount();
	}
});

test('with no runs, the first frame says how to start one, and has no pane', t => {
	const lines = plain(firstFrame({runs: [], rows: 24, columns: 100, now}));
	t.is(lines.length, 24);
	t.is(lines[0], 'moat · 0 runs');
	t.is(lines[1], 'No runs yet. Press n to start a bottle, or run moat run -- COMMAND.');
	t.false(lines.includes('Loading…'));
	t.regex(lines.at(-1)!, /q quit/);
});

test('the first frame never has a line wider than the terminal, nor more lines', t => {
	for (const [rows, columns] of [[24, 80], [10, 40], [45, 160], [5, 20]] as const) {
		const lines = firstFrame({runs, rows, columns, now});
		t.true(lines.length <= rows, `${rows}×${columns}`);
		for (const line of plain(lines)) {
			t.true(line.length <= columns, `${rows}×${columns}: ${line}`);
		}
	}
});

test('the first frame is written to the alternate screen, each line at its row, the cursor left home for Ink', t => {
	const output = firstFrameOutput(['a', 'b']);
	t.true(output.startsWith('\u001B[?1049h'));
	t.true(output.includes('\u001B[1;1Ha\u001B[K\u001B[2;1Hb\u001B[K'));
	t.true(output.endsWith('\u001B[H'));
});
