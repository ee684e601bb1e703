import ava from 'ava';
import {Text} from 'ink';
import {render} from 'ink-testing-library';
import {Dashboard} from '../../components/dashboard.js';
import type {RunRow} from '../../components/dashboard-reducer.js';
import {usePaneContent} from '../../components/detail-pane.js';
import {ServicesContext, type DashboardServices} from '../../components/services-context.js';
import type {RunWatchPurpose} from '../../source/dashboard/dashboard-types.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {frameWhere, inputReady} from '../helpers/ink-frames.js';

// One render at a time, like the dashboard's own tests.
const test = ava.serial;

function run(id: string, name: string, createdAt: string): RunRow {
	const metadata: RunMetadata = {
		id, name, workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, state: 'stopped', createdAt,
		startedAt: null, stoppedAt: null, exitCode: 0, error: null, stopRequested: false,
	};
	return metadata;
}

const runs = [
	run('run_000000000001', 'oldest', '2026-11-22T09:00:00.000Z'),
	run('run_000000000002', 'middle', '2026-11-22T11:00:00.000Z'),
	run('run_000000000003', 'newest', '2026-11-22T11:59:30.000Z'),
];

/** A fake watchRun that records which watches are open, and can fire them. */
function watchRecorder() {
	const open = new Map<string, () => void>();
	const watchRun = (id: string, purpose: RunWatchPurpose, changed: () => void) => {
		const key = `${purpose}:${id}`;
		if (open.has(key)) {
			throw new Error(`${key} watched twice`);
		}

		open.set(key, changed);
		return () => {
			open.delete(key);
		};
	};

	return {open, watchRun, keys: () => [...open.keys()].sort()};
}

async function until(condition: () => boolean): Promise<void> {
	await frameWhere(() => (condition() ? 'yes' : ''), frame => frame === 'yes');
}

test('the runs table watches the rows on screen only: a row scrolled away closes its watch, one scrolled in opens one, and leaving closes all', async t => {
	const watches = watchRecorder();
	const services: DashboardServices = {
		listRuns: async () => runs,
		watchRun: watches.watchRun,
		now: () => new Date('2026-11-22T12:00:00.000Z'),
		stopRun: async () => undefined,
		destroyRun: async () => undefined,
	};
	const {lastFrame, stdin, stdout, unmount} = render(
		<ServicesContext.Provider value={services}>
			<Dashboard refreshMilliseconds={20} cwd="/w" />
		</ServicesContext.Provider>,
	);
	// Twelve rows leave the table two runs.
	Object.defineProperty(stdout, 'rows', {value: 12, configurable: true});
	stdout.emit('resize');
	await frameWhere(lastFrame, frame => frame.includes('newest') && frame.includes('middle') && !frame.includes('oldest'));
	await until(() => watches.keys().join() === 'row:run_000000000002,row:run_000000000003');

	await inputReady(stdin);
	stdin.write('j');
	await frameWhere(lastFrame, frame => frame.includes('› ') && /› .*middle/.test(frame));
	stdin.write('j');
	await frameWhere(lastFrame, frame => frame.includes('oldest') && !frame.includes('newest'));
	await until(() => watches.keys().join() === 'row:run_000000000001,row:run_000000000002');

	unmount();
	t.deepEqual(watches.keys(), []);
});

function PaneProbe({runId}: {runId: string}) {
	const content = usePaneContent('logs', runId);
	return <Text>{content ? `${content.summary ?? ''} ${content.lines.map(line => line.text).join(' ')}` : 'loading'}</Text>;
}

test('a watched Logs pane is read again when its watch fires, and on no timer; its watch closes with it', async t => {
	const watches = watchRecorder();
	let lines = ['first'];
	let reads = 0;
	const services: DashboardServices = {
		listRuns: async () => runs,
		watchRun: watches.watchRun,
		async logs() {
			reads++;
			return {lines: lines.map(text => ({text})), summary: `${lines.length} lines`};
		},
		now: () => new Date(),
		stopRun: async () => undefined,
		destroyRun: async () => undefined,
	};
	const {lastFrame, unmount} = render(
		<ServicesContext.Provider value={services}>
			<PaneProbe runId="run_000000000003" />
		</ServicesContext.Provider>,
	);
	await frameWhere(lastFrame, frame => frame.includes('1 lines first'));
	t.deepEqual(watches.keys(), ['logs:run_000000000003']);
	t.is(reads, 1);

	lines = ['first', 'second'];
	watches.open.get('logs:run_000000000003')!();
	await frameWhere(lastFrame, frame => frame.includes('2 lines first second'));
	t.is(reads, 2, 'one read for one change');

	unmount();
	t.deepEqual(watches.keys(), []);
});
