import test from 'ava';
import {exitCodes, MoatError} from '../source/errors.js';
import {resolveRun} from '../source/runs/run-resolution.js';

type Candidate = {id: string; name: string; createdAt: string};

const runs: Candidate[] = [
	{id: 'run_aaaaaaaaaaaa', name: 'build', createdAt: '2024-01-01T10:00:00.000Z'},
	{id: 'run_ab1111111111', name: 'build', createdAt: '2024-01-03T10:00:00.000Z'},
	{id: 'run_ab2222222222', name: 'test', createdAt: '2024-01-02T10:00:00.000Z'},
	{id: 'run_c00000000000', name: 'deploy', createdAt: '2024-01-04T10:00:00.000Z'},
	{id: 'run_d00000000000', name: 'build', createdAt: '2024-01-02T12:00:00.000Z'},
];

const found: Array<{title: string; reference: string | undefined; expected: string}> = [
	{title: 'an exact id finds that run', reference: 'run_ab2222222222', expected: 'run_ab2222222222'},
	{title: 'a unique prefix including run_ finds its run', reference: 'run_ab1', expected: 'run_ab1111111111'},
	{title: 'a unique prefix without run_ finds its run', reference: 'ab2', expected: 'run_ab2222222222'},
	{title: 'a single hex digit that only one id starts with finds that run', reference: 'c', expected: 'run_c00000000000'},
	{title: 'a name finds the newest run of that name, not the first listed', reference: 'build', expected: 'run_ab1111111111'},
	{title: 'a name used once finds that run', reference: 'test', expected: 'run_ab2222222222'},
	{title: 'an omitted reference finds the newest run', reference: undefined, expected: 'run_c00000000000'},
	{title: 'an empty reference finds the newest run', reference: '', expected: 'run_c00000000000'},
];

for (const {title, reference, expected} of found) {
	test(`resolveRun: ${title}`, t => {
		t.is(resolveRun(runs, reference).id, expected);
	});
}

test('resolveRun: an exact id wins over a longer id it is a prefix of', t => {
	const nested = [
		{id: 'run_abc', name: 'short', createdAt: '2024-01-01T00:00:00.000Z'},
		{id: 'run_abcdef', name: 'long', createdAt: '2024-01-02T00:00:00.000Z'},
	];
	t.is(resolveRun(nested, 'run_abc').name, 'short');
});

test('resolveRun: among runs created at the same instant the newest is the one with the larger id', t => {
	const tied = [
		{id: 'run_111111111111', name: 'a', createdAt: '2024-01-01T00:00:00.000Z'},
		{id: 'run_222222222222', name: 'a', createdAt: '2024-01-01T00:00:00.000Z'},
	];
	t.is(resolveRun(tied, undefined).id, 'run_222222222222');
	t.is(resolveRun(tied, 'a').id, 'run_222222222222');
});

test('resolveRun returns the caller\'s own object, with its other fields', t => {
	const withState = runs.map(run => ({...run, state: 'running'}));
	t.is(resolveRun(withState, 'deploy'), withState[3]!);
});

const ambiguous: Array<{reference: string; candidates: string}> = [
	{reference: 'ab', candidates: 'run_ab1111111111 (build), run_ab2222222222 (test)'},
	{reference: 'run_a', candidates: 'run_ab1111111111 (build), run_ab2222222222 (test), run_aaaaaaaaaaaa (build)'},
];

for (const {reference, candidates} of ambiguous) {
	test(`resolveRun: the ambiguous prefix "${reference}" is a usage error (exit 2) listing the candidates newest first`, t => {
		const error = t.throws(() => resolveRun(runs, reference), {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
		t.true(error?.message.includes(`"${reference}" matches ${candidates.split(', ').length} runs: ${candidates}.`), error?.message);
		t.regex(error?.hint ?? '', /more of the run id/);
	});
}

const notFound: Array<{title: string; list: Candidate[]; reference: string | undefined; message: RegExp; hint: RegExp}> = [
	{title: 'a reference that is no id, prefix or name', list: runs, reference: 'nope', message: /No run matches "nope"/, hint: /moat list/},
	{title: 'a prefix no id starts with', list: runs, reference: 'run_ff', message: /No run matches "run_ff"/, hint: /moat list/},
	{title: 'a reference when there are no runs', list: [], reference: 'build', message: /No run matches "build"/, hint: /moat list/},
	{title: 'an omitted reference when there are no runs', list: [], reference: undefined, message: /There are no runs/, hint: /moat run/},
];

for (const {title, list, reference, message, hint} of notFound) {
	test(`resolveRun: ${title} is not found (exit 4)`, t => {
		const error = t.throws(() => resolveRun(list, reference), {instanceOf: MoatError, message});
		t.is(error?.exitCode, exitCodes.notFound);
		t.regex(error?.hint ?? '', hint);
	});
}

for (const name of ['run', 'ru', 'r', 'run_']) {
	test(`a run named "${name}" is found by its name, not taken for a prefix of every id`, t => {
		const named: Candidate[] = [
			{id: 'run_aaaaaaaaaaaa', name: 'other', createdAt: '2026-01-01T00:00:00.000Z'},
			{id: 'run_bbbbbbbbbbbb', name, createdAt: '2026-01-02T00:00:00.000Z'},
			{id: 'run_cccccccccccc', name: 'third', createdAt: '2026-01-03T00:00:00.000Z'},
		];
		t.is(resolveRun(named, name).id, 'run_bbbbbbbbbbbb');
	});
}
