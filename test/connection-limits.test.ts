import test from 'ava';
import {admitConnection, defaultConnectionsPerRun, parseConnectionsPerRun, refusalRecorded, sizeConnectionLimits} from '../source/proxy/connection-limits.js';

test('limits are sized against the open-file limit: the daemon keeps its reserve, no run takes more than a quarter', t => {
	t.deepEqual(sizeConnectionLimits(undefined, 1_048_576), {perRun: defaultConnectionsPerRun, total: 458_752});
	// 20000 descriptors: 2500 kept back, two per connection.
	t.deepEqual(sizeConnectionLimits(undefined, 20_000), {perRun: 256, total: 8750});
	t.deepEqual(sizeConnectionLimits(5000, 20_000), {perRun: 2187, total: 8750});
	t.deepEqual(sizeConnectionLimits(undefined, 1024), {perRun: 96, total: 384});
	t.deepEqual(sizeConnectionLimits(20, 1024), {perRun: 20, total: 384});
	t.is(sizeConnectionLimits(undefined, 64).perRun, 1);
});

test('a run at its limit is refused with 429, all runs at theirs with 503, each in words', t => {
	const limits = {perRun: 3, total: 10};
	t.deepEqual(admitConnection({run: 2, total: 9}, limits), {allowed: true});
	const run = admitConnection({run: 3, total: 5}, limits);
	t.like(run, {allowed: false, status: 429, reason: 'too many connections: the run has 3 open, its limit is 3'});
	t.regex((run as {message: string}).message, /MOAT_RUN_CONNECTIONS/);
	t.like(admitConnection({run: 0, total: 10}, limits), {allowed: false, status: 503});
});

test('refusals are written down at 1, 2, 4, 8…', t => {
	t.deepEqual([...Array.from({length: 20}).keys()].map(index => index + 1).filter(count => refusalRecorded(count)), [1, 2, 4, 8, 16]);
	t.false(refusalRecorded(0));
});

test('MOAT_RUN_CONNECTIONS is a whole number from 1, or unset', t => {
	t.deepEqual(parseConnectionsPerRun(undefined), {value: undefined});
	t.deepEqual(parseConnectionsPerRun(' 300 '), {value: 300});
	for (const bad of ['0', '-1', '1.5', 'many', '1e3']) {
		t.true('error' in parseConnectionsPerRun(bad), bad);
	}
});
