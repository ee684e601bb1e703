import {stripVTControlCharacters} from 'node:util';
import test from 'ava';
import {render} from 'ink-testing-library';
import type {ReactElement} from 'react';
import type {RunRow} from '../../components/dashboard-reducer.js';
import {cellColor, RunTable, tableColumnKeys} from '../../components/run-table.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';

const now = new Date('2026-11-22T12:00:00.000Z');

function row(overrides: Partial<RunMetadata & {requests: number; blocked: number}> & Pick<RunMetadata, 'id' | 'name'>): RunRow {
	return {
		workspace: '/w', agent: 'claude', image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, state: 'running', interactive: true, keep: false, createdAt: '2026-11-22T11:59:00.000Z',
		startedAt: null, stoppedAt: null, exitCode: null, error: null, stopRequested: false, ...overrides,
	};
}

function frameOf(element: ReactElement): string[] {
	const {lastFrame, unmount} = render(element);
	const frame = stripVTControlCharacters(lastFrame() ?? '');
	unmount();
	return frame.split('\n');
}

const lineOf = (lines: string[], name: string) => lines.find(line => line.includes(name)) ?? '';

test('a run waiting for the user shows ◐ and "waiting"; working and other states keep their own glyph', t => {
	const lines = frameOf(<RunTable now={now} selectedIndex={0} runs={[
		row({id: 'run_000000000001', name: 'asks', activity: {state: 'waiting', at: '2026-11-22T11:59:30.000Z'}}),
		row({id: 'run_000000000002', name: 'works', activity: {state: 'working', at: '2026-11-22T11:59:30.000Z'}}),
		row({id: 'run_000000000003', name: 'starting', state: 'created'}),
		// A stopped run that last said it was waiting is stopped, not waiting.
		row({id: 'run_000000000004', name: 'ended', state: 'stopped', exitCode: 0, activity: {state: 'waiting', at: '2026-11-22T11:59:30.000Z'}}),
	]} />);
	t.regex(lineOf(lines, 'asks'), /◐ asks\s+claude\s+waiting\s+run_000000000001/);
	t.regex(lineOf(lines, 'works'), /● works\s+claude\s+running\s+run_000000000002/);
	t.regex(lineOf(lines, 'starting'), /◌ starting\s+claude\s+created/);
	t.regex(lineOf(lines, 'ended'), /○ ended\s+claude\s+stopped \(0\)/);
});

test('REQ and BLK show the proxy\'s counts, 0 as 0 and unknown as -; services and grants are joined', t => {
	const lines = frameOf(<RunTable now={now} selectedIndex={0} runs={[
		row({id: 'run_000000000001', name: 'busy', requests: 1234, blocked: 7, grants: ['claude', 'github'], ports: {web: 3000, api: 4000}}),
		row({id: 'run_000000000002', name: 'quiet', requests: 0, blocked: 0}),
		row({id: 'run_000000000003', name: 'unknown'}),
	]} />);
	t.regex(lines[0] ?? '', /^\s+NAME\s+AGENT\s+STATE\s+RUN ID\s+AGE\s+REQ\s+BLK\s+SERVICES\s+GRANTS/);
	t.regex(lineOf(lines, 'busy'), /run_000000000001\s+1m\s+1234\s+7\s+api,web\s+claude,github/);
	t.regex(lineOf(lines, 'quiet'), /run_000000000002\s+1m\s+0\s+0\s+-\s+-/);
	t.regex(lineOf(lines, 'unknown'), /run_000000000003\s+1m\s+-\s+-\s+-\s+-/);
	const header = lines[0]!;
	for (const name of ['busy', 'quiet', 'unknown']) {
		t.is(lineOf(lines, name).indexOf('run_'), header.indexOf('RUN ID'), `${name}: the run id sits under its header`);
	}
});

test('only the blocked count is red, not the requests beside it', t => {
	const blocked = row({id: 'run_000000000001', name: 'busy', requests: 1234, blocked: 7});
	t.deepEqual(tableColumnKeys.filter(key => cellColor(key, blocked) === 'red'), ['blocked']);
	t.deepEqual(tableColumnKeys.filter(key => cellColor(key, {...blocked, blocked: 0}) !== undefined), []);
});

test('a long name is cut with … and the columns after it stay aligned', t => {
	const lines = frameOf(<RunTable now={now} selectedIndex={0} runs={[
		row({id: 'run_000000000001', name: 'a-very-long-run-name-that-goes-on'}),
		row({id: 'run_000000000002', name: 'short'}),
	]} />);
	const long = lines.find(line => line.includes('a-very')) ?? '';
	t.true(long.includes('…'));
	t.false(long.includes('goes-on'));
	t.is(long.indexOf('run_000000000001'), lineOf(lines, 'short').indexOf('run_000000000002'));
});

test('only the selected row has the pointer, and a short table scrolls to keep it in view', t => {
	const runs = Array.from({length: 10}, (_, index) => row({id: `run_00000000000${index}`, name: `run-${index}`}));
	const lines = frameOf(<RunTable now={now} selectedIndex={8} height={4} runs={runs} />);
	const names = lines.slice(1).map(line => /run-(\d)/.exec(line)?.[1]);
	t.deepEqual(names, ['7', '8', '9']);
	t.deepEqual(lines.slice(1).map(line => line.startsWith('›')), [false, true, false]);
});

test('a damaged run shows ! and "damaged", its name if the record had one, and what is wrong with the fix', t => {
	const lines = frameOf(<RunTable now={now} selectedIndex={0} width={160} runs={[
		row({id: 'run_000000000001', name: 'fine'}),
		{id: 'run_00000000000d', name: 'broken', createdAt: '2026-11-22T11:58:00.000Z', state: 'damaged', damage: 'metadata.json: field state must be one of created, running, stopped, failed'},
		{id: 'run_00000000000e', name: null, createdAt: '2026-11-22T11:58:00.000Z', state: 'damaged', damage: 'metadata.json is empty'},
	]} />);
	t.regex(lineOf(lines, 'run_00000000000d'), /! broken\s+-\s+damaged\s+run_00000000000d\s+2m\s+-\s+-\s+metadata\.json: field state must be one of created, running, stopped, failed \(x r…/);
	t.regex(lineOf(lines, 'run_00000000000e'), /! -\s+-\s+damaged\s+run_00000000000e\s+2m\s+-\s+-\s+metadata\.json is empty \(x removes it\)/);
	t.is(lineOf(lines, 'run_00000000000d').indexOf('run_'), lineOf(lines, 'run_000000000001').indexOf('run_'));
});
