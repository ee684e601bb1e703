import test from 'ava';
import {switchTarget as switchTargetFor, type SwitchCommand} from '../source/dashboard/attach-loop.js';
import {attachedKeysFrom} from '../source/terminal/attached-keys.js';

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
