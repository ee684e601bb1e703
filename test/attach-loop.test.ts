import {PassThrough, Writable} from 'node:stream';
import test from 'ava';
import {attachFromDashboard, switchRefusal, switchTarget as switchTargetFor, type SwitchCommand} from '../source/dashboard/attach-loop.js';
import type {ScreenKeeper} from '../source/dashboard/screen-keeper.js';
import type {Engine} from '../source/engine/engine.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';
import type {RunService} from '../source/runs/run-service.js';
import {attachedKeysFrom} from '../source/terminal/attached-keys.js';
import {initialModes} from '../source/terminal/terminal-modes.js';
import {until} from './helpers/deadline.js';

/** What the attached-keys table says a key after the prefix does, attached from the dashboard. */
function commandFor(key: string): SwitchCommand {
	const binding = attachedKeysFrom('dashboard').find(candidate => candidate.keys.some(candidate => candidate.character === key));
	if (binding?.action !== 'next' && binding?.action !== 'previous' && binding?.action !== 'jump') {
		throw new Error(`${key} does not switch bottles`);
	}

	return {action: binding.action, key};
}

const switchTarget = (order: readonly string[], current: string, key: string) => switchTargetFor(order, current, commandFor(key));

const order = ['run_a', 'run_b', 'run_c'];

test('switchTarget: n and p move to the next and previous running run and wrap around', t => {
	const cases: Array<[current: string, key: string, target: string]> = [
		['run_a', 'n', 'run_b'],
		['run_b', 'n', 'run_c'],
		['run_c', 'n', 'run_a'],
		['run_c', 'p', 'run_b'],
		['run_b', 'p', 'run_a'],
		['run_a', 'p', 'run_c'],
	];
	for (const [current, key, target] of cases) {
		t.is(switchTarget(order, current, key), target, `${key} from ${current}`);
	}
});

test('switchTarget: a digit jumps to that running run; past the end it stays put', t => {
	t.is(switchTarget(order, 'run_c', '1'), 'run_a');
	t.is(switchTarget(order, 'run_a', '2'), 'run_b');
	t.is(switchTarget(order, 'run_a', '3'), 'run_c');
	t.is(switchTarget(order, 'run_b', '4'), 'run_b');
	t.is(switchTarget(order, 'run_b', '9'), 'run_b');
});

test('switchTarget: from a run no longer in the list, n goes to the first, p to the last, a digit still jumps', t => {
	t.is(switchTarget(order, 'run_gone', 'n'), 'run_a');
	t.is(switchTarget(order, 'run_gone', 'p'), 'run_c');
	t.is(switchTarget(order, 'run_gone', '2'), 'run_b');
	t.is(switchTarget(order, 'run_gone', '7'), 'run_gone');
});

test('switchTarget: with no running run, every key stays on the current one', t => {
	for (const key of ['n', 'p', '1']) {
		t.is(switchTarget([], 'run_a', key), 'run_a', key);
	}

	t.is(switchTarget(['run_a'], 'run_a', 'n'), 'run_a');
	t.is(switchTarget(['run_a'], 'run_a', 'p'), 'run_a');
});

test('switchRefusal: a switch to another run is not refused; one that stays says why', t => {
	const refusal = (list: readonly string[], current: string, key: string) => switchRefusal(list, current, commandFor(key));
	t.is(refusal(order, 'run_a', 'n'), undefined);
	t.is(refusal(order, 'run_a', '3'), undefined);
	t.is(refusal(['run_a'], 'run_a', 'n'), 'no other bottle is running');
	t.is(refusal(['run_a'], 'run_a', 'p'), 'no other bottle is running');
	t.is(refusal(order, 'run_b', '2'), 'this is bottle 2');
	t.is(refusal(order, 'run_b', '9'), 'there is no bottle 9; 3 are running');
	t.is(refusal(['run_a'], 'run_a', '4'), 'there is no bottle 4; 1 is running');
});

type Recorded = {type: string; data: Record<string, unknown>};

/** attachFromDashboard over fakes of the engine, the runs and the screen keeper, on a fake terminal. */
function attachedWorld(running: RunMetadata[]) {
	const input = Object.assign(new PassThrough(), {isTTY: true, setRawMode() {}});
	let screen = '';
	const output = Object.assign(new Writable({
		write(chunk: Buffer, _encoding, callback) {
			screen += chunk.toString();
			callback();
		},
	}), {rows: 20, columns: 100});
	const recorded: Recorded[] = [];
	let attachments = 0;
	const engine = {
		async attach() {
			attachments++;
			return {output: new PassThrough(), write() {}, close() {}};
		},
		async resize() {},
	} as unknown as Engine;
	const runs = {
		async find(id: string) {
			return running.find(run => run.id === id)!;
		},
		async record(_id: string, type: string, data: Record<string, unknown>) {
			recorded.push({type, data});
		},
	} as unknown as RunService;
	const keeper = {keep() {}, snapshot: () => ({paint: '', modes: initialModes}), resize() {}} as unknown as ScreenKeeper;
	const signals = {on() {}, off() {}};
	const result = attachFromDashboard({engine, runs, keeper, input, output, signals, order: async () => running}, running[0]!.id);
	return {input, screen: () => screen, recorded, attachments: () => attachments, result};
}

function running(id: string, name: string): RunMetadata {
	return {
		id, name, workspace: '/w', agent: null, image: 'moat/run:x', command: ['bash'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: `container-${id}`, interactive: true, keep: false, state: 'running', createdAt: '2026-11-22T12:00:00.000Z',
		startedAt: '2026-11-22T12:00:00.000Z', stoppedAt: null, exitCode: null, error: null, stopRequested: false,
	};
}

test('a switch that goes nowhere (n with one bottle, a digit past the last, the current one\'s digit) says so in the footer, stays attached and audits nothing', async t => {
	const world = attachedWorld([running('run_000000000001', 'only')]);
	await until(() => world.screen().includes('moat · only'), 'the footer');
	for (const [keys, said] of [['\u001Fn', 'no other bottle is running'], ['\u001F9', 'there is no bottle 9; 1 is running'], ['\u001F1', 'this is bottle 1']] as const) {
		world.input.write(keys);
		await until(() => world.screen().includes(` moat · ${said}`), said);
	}

	world.input.write('\u001Fd');
	t.deepEqual(await world.result, {selectedId: 'run_000000000001'});
	t.is(world.attachments(), 1, 'never detached and attached again');
	t.deepEqual(world.recorded.map(entry => entry.type), ['terminal.attached', 'terminal.detached']);
	t.deepEqual(world.recorded[1]!.data, {how: 'detached'});
});

test('a switch to another bottle still switches, and says so in the audit log', async t => {
	const world = attachedWorld([running('run_000000000001', 'first'), running('run_000000000002', 'second')]);
	await until(() => world.screen().includes('moat · first'), 'the first footer');
	world.input.write('\u001F2');
	await until(() => world.screen().includes('moat · second'), 'the second footer');
	world.input.write('\u001Fd');
	t.deepEqual(await world.result, {selectedId: 'run_000000000002'});
	t.deepEqual(world.recorded.map(entry => [entry.type, entry.data.how]), [['terminal.attached', undefined], ['terminal.detached', 'switch 2'], ['terminal.attached', undefined], ['terminal.detached', 'detached']]);
});
