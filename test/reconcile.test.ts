import test from 'ava';
import type {ContainerState} from '../source/engine/engine.js';
import {reconcile, type Reconciliation} from '../source/runs/reconcile.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';

const now = new Date('2024-01-02T12:00:00.000Z');
const startedAt = new Date('2024-01-02T11:00:00.000Z');
const finishedAt = new Date('2024-01-02T11:30:00.000Z');

function makeRun(overrides: Partial<RunMetadata> = {}): RunMetadata {
	return {
		id: 'run_0123456789ab',
		name: 'demo',
		workspace: '/home/u/project',
		agent: null,
		image: 'moat/run:0123456789abcdef',
		command: ['npm', 'test'],
		grants: [],
		ports: {},
		mounts: [],
		environmentNames: [],
		containerId: 'c0ffee',
		state: 'running',
		interactive: false,
		keep: false,
		createdAt: '2024-01-02T10:59:00.000Z',
		startedAt: startedAt.toISOString(),
		stoppedAt: null,
		exitCode: null,
		error: null,
		stopRequested: false,
		...overrides,
	};
}

function container(overrides: Partial<ContainerState> = {}): ContainerState {
	return {id: 'c0ffee', status: 'running', exitCode: 0, startedAt, ...overrides};
}

const nothing: Reconciliation = {change: {}, catchUpLogs: false, removeContainer: false};

const cases: Array<{title: string; run: RunMetadata; container: ContainerState | undefined; expected: Reconciliation}> = [
	{
		title: 'a run without a container id is left alone whatever the engine says',
		run: makeRun({containerId: null, state: 'created'}),
		container: undefined,
		expected: nothing,
	},
	{
		title: 'a running run whose container is missing becomes failed, saying it was removed outside moat',
		run: makeRun(),
		container: undefined,
		expected: {
			change: {state: 'failed', containerId: null, stoppedAt: now.toISOString(), error: 'The container was removed outside moat.'},
			catchUpLogs: false,
			removeContainer: false,
		},
	},
	{
		title: 'a created run whose container is missing becomes failed too',
		run: makeRun({state: 'created', startedAt: null}),
		container: undefined,
		expected: {
			change: {state: 'failed', containerId: null, stoppedAt: now.toISOString(), error: 'The container was removed outside moat.'},
			catchUpLogs: false,
			removeContainer: false,
		},
	},
	{
		title: 'a stopped, kept run whose container someone removed only forgets the container id',
		run: makeRun({state: 'stopped', keep: true, exitCode: 0, stoppedAt: finishedAt.toISOString()}),
		container: undefined,
		expected: {change: {containerId: null}, catchUpLogs: false, removeContainer: false},
	},
	{
		title: 'a running run with a running container needs no change',
		run: makeRun(),
		container: container(),
		expected: nothing,
	},
	{
		title: 'a created run whose container is running becomes running with the engine\'s start time',
		run: makeRun({state: 'created', startedAt: null}),
		container: container(),
		expected: {change: {state: 'running', startedAt: startedAt.toISOString()}, catchUpLogs: false, removeContainer: false},
	},
	{
		title: 'a created run whose running container has no start time becomes running as of now',
		run: makeRun({state: 'created', startedAt: null}),
		container: container({startedAt: undefined}),
		expected: {change: {state: 'running', startedAt: now.toISOString()}, catchUpLogs: false, removeContainer: false},
	},
	{
		title: 'a created run whose container is still only created needs no change',
		run: makeRun({state: 'created', startedAt: null}),
		container: container({status: 'created', startedAt: undefined}),
		expected: nothing,
	},
	{
		title: 'a running run whose container is paused needs no change',
		run: makeRun(),
		container: container({status: 'paused'}),
		expected: nothing,
	},
	{
		title: 'a running run whose container exited 0 becomes stopped, catches up logs and removes the container',
		run: makeRun(),
		container: container({status: 'exited', exitCode: 0, finishedAt}),
		expected: {
			change: {state: 'stopped', exitCode: 0, error: null, stoppedAt: finishedAt.toISOString()},
			catchUpLogs: true,
			removeContainer: true,
		},
	},
	{
		title: 'a running run whose container exited non-zero becomes failed with the exit code in the error',
		run: makeRun(),
		container: container({status: 'exited', exitCode: 3, finishedAt}),
		expected: {
			change: {state: 'failed', exitCode: 3, error: 'The command exited with code 3.', stoppedAt: finishedAt.toISOString()},
			catchUpLogs: true,
			removeContainer: true,
		},
	},
	{
		title: 'a run whose container exited non-zero after a requested stop becomes stopped, not failed',
		run: makeRun({stopRequested: true}),
		container: container({status: 'exited', exitCode: 143, finishedAt}),
		expected: {
			change: {state: 'stopped', exitCode: 143, error: null, stoppedAt: finishedAt.toISOString()},
			catchUpLogs: true,
			removeContainer: true,
		},
	},
	{
		title: 'a dead container ends the run like an exited one, using its exit code',
		run: makeRun(),
		container: container({status: 'dead', exitCode: 137, finishedAt}),
		expected: {
			change: {state: 'failed', exitCode: 137, error: 'The command exited with code 137.', stoppedAt: finishedAt.toISOString()},
			catchUpLogs: true,
			removeContainer: true,
		},
	},
	{
		title: 'an exited container without a finish time stops the run as of now',
		run: makeRun(),
		container: container({status: 'exited', exitCode: 0}),
		expected: {
			change: {state: 'stopped', exitCode: 0, error: null, stoppedAt: now.toISOString()},
			catchUpLogs: true,
			removeContainer: true,
		},
	},
	{
		title: 'a created run whose container failed to start takes the engine\'s error',
		run: makeRun({state: 'created', startedAt: null}),
		container: container({status: 'exited', exitCode: 127, finishedAt, error: 'exec: "npm": executable file not found in $PATH'}),
		expected: {
			change: {
				state: 'failed',
				exitCode: 127,
				error: 'exec: "npm": executable file not found in $PATH',
				stoppedAt: finishedAt.toISOString(),
			},
			catchUpLogs: true,
			removeContainer: true,
		},
	},
	{
		title: 'with keep, an exited container ends the run but is not removed',
		run: makeRun({keep: true}),
		container: container({status: 'exited', exitCode: 1, finishedAt}),
		expected: {
			change: {state: 'failed', exitCode: 1, error: 'The command exited with code 1.', stoppedAt: finishedAt.toISOString()},
			catchUpLogs: true,
			removeContainer: false,
		},
	},
	{
		title: 'a stopped run with a leftover exited container catches up logs and removes it, changing nothing else',
		run: makeRun({state: 'stopped', exitCode: 0, stoppedAt: finishedAt.toISOString()}),
		container: container({status: 'exited', exitCode: 0, finishedAt}),
		expected: {change: {}, catchUpLogs: true, removeContainer: true},
	},
	{
		title: 'a failed run with a leftover dead container catches up logs and removes it',
		run: makeRun({state: 'failed', exitCode: 1, error: 'The command exited with code 1.', stoppedAt: finishedAt.toISOString()}),
		container: container({status: 'dead', exitCode: 1, finishedAt}),
		expected: {change: {}, catchUpLogs: true, removeContainer: true},
	},
	{
		title: 'a stopped, kept run with its exited container leaves both alone',
		run: makeRun({state: 'stopped', keep: true, exitCode: 0, stoppedAt: finishedAt.toISOString()}),
		container: container({status: 'exited', exitCode: 0, finishedAt}),
		expected: nothing,
	},
];

for (const {title, run, container: state, expected} of cases) {
	test(`reconcile: ${title}`, t => {
		t.deepEqual(reconcile(run, state, now), expected);
	});
}
