import test from 'ava';
import {render} from 'ink-testing-library';
import {Dashboard} from '../../components/dashboard.js';
import {keyBindings} from '../../components/key-bindings.js';
import {ServicesContext, type DashboardServices} from '../../components/services-context.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {frameWhere, inputReady} from '../helpers/ink-frames.js';

const now = new Date('2026-11-22T12:00:00.000Z');

function run(overrides: Partial<RunMetadata> & Pick<RunMetadata, 'id' | 'name' | 'state' | 'createdAt'>): RunMetadata {
	return {
		workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, startedAt: null, stoppedAt: null,
		exitCode: null, error: null, stopRequested: false, ...overrides,
	};
}

const runs = [
	run({id: 'run_000000000001', name: 'oldest', state: 'failed', exitCode: 3, createdAt: '2026-11-22T09:00:00.000Z'}),
	run({id: 'run_000000000002', name: 'middle', state: 'stopped', exitCode: 0, createdAt: '2026-11-22T11:00:00.000Z', grants: ['github']}),
	run({id: 'run_000000000003', name: 'newest', state: 'running', agent: 'claude', createdAt: '2026-11-22T11:59:30.000Z'}),
];

function renderDashboard(listRuns: DashboardServices['listRuns'], actions: Partial<DashboardServices> = {}) {
	const services: DashboardServices = {
		listRuns,
		now: () => now,
		stopRun: async () => undefined,
		destroyRun: async () => undefined,
		...actions,
	};
	return render(
		<ServicesContext.Provider value={services}>
			<Dashboard refreshMilliseconds={20} />
		</ServicesContext.Provider>,
	);
}

const rowOf = (frame: string, name: string) => frame.split('\n').find(line => line.includes(name)) ?? '';

test('the dashboard lists runs newest first with a glyph and a state label for each', async t => {
	const {lastFrame, unmount} = renderDashboard(async () => runs);
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('oldest'));
	const lines = frame.split('\n');
	const order = ['newest', 'middle', 'oldest'].map(name => lines.findIndex(line => line.includes(name)));
	t.deepEqual([...order].sort((a, b) => a - b), order);
	t.regex(rowOf(frame, 'newest'), /● newest\s+claude\s+running\s+run_000000000003\s+30s/);
	t.regex(rowOf(frame, 'middle'), /○ middle\s+-\s+stopped \(0\)\s+run_000000000002\s+1h\s+github/);
	t.regex(rowOf(frame, 'oldest'), /✕ oldest\s+-\s+failed \(3\)/);
	t.regex(frame, /moat · 3 runs/);
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

test('? opens a help overlay listing every key binding from the table, and ? closes it', async t => {
	const {lastFrame, stdin, unmount} = renderDashboard(async () => runs);
	t.teardown(unmount);
	await frameWhere(lastFrame, text => text.includes('newest'));
	await inputReady(stdin);
	stdin.write('?');
	const frame = await frameWhere(lastFrame, text => text.includes('Keys'));
	for (const binding of keyBindings) {
		t.true(frame.includes(`${binding.label.padEnd(6)} ${binding.description}`), binding.label);
	}

	stdin.write('?');
	const closed = await frameWhere(lastFrame, text => !text.includes('Keys'));
	t.true(closed.includes('newest'), 'the table is still there after the overlay closes');
});

test('the hint bar shows the bindings marked as hints', async t => {
	const {lastFrame, unmount} = renderDashboard(async () => []);
	t.teardown(unmount);
	const frame = await frameWhere(lastFrame, text => text.includes('No runs yet'));
	for (const binding of keyBindings.filter(candidate => candidate.hint)) {
		t.true(frame.includes(`${binding.label} ${binding.description}`));
	}
});

test('runs that appear later show up without a key press', async t => {
	let current: RunMetadata[] = [];
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
	t.regex(frame, /Cannot reach the Docker engine/);
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
	await frameWhere(lastFrame, text => text.includes('Destroy run_000000000003'));
	stdin.write('n');
	await frameWhere(lastFrame, text => text.includes('Nothing destroyed.'));
	t.deepEqual(destroyed, []);
	stdin.write('x');
	await frameWhere(lastFrame, text => text.includes('Destroy run_000000000003'));
	stdin.write('y');
	await frameWhere(lastFrame, text => text.includes('Destroying run_000000000003: done.'));
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
