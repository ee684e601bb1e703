import test from 'ava';
import {candidateSlots, defaultNetworkPool, parseNetworkPool, runSubnet, slotOf, type NetworkPool} from '../source/gateway/run-subnets.js';

const pool = (text?: string) => parseNetworkPool(text) as NetworkPool;

test('the default pool is 10.231.0.0/16: 8,192 runs of eight addresses each', t => {
	t.deepEqual(parseNetworkPool(undefined), parseNetworkPool(defaultNetworkPool));
	t.is(pool().slots, 8192);
	t.deepEqual(runSubnet(pool(), 0), {subnet: '10.231.0.0/29', gateway: '10.231.0.2', relay: '10.231.0.4'});
	t.deepEqual(runSubnet(pool(), 8191), {subnet: '10.231.255.248/29', gateway: '10.231.255.250', relay: '10.231.255.252'});
});

test('a pool given with host bits set starts at its network address', t => {
	t.deepEqual(runSubnet(pool('192.168.77.130/24'), 1), {subnet: '192.168.77.8/29', gateway: '192.168.77.10', relay: '192.168.77.12'});
	t.is(pool('192.168.77.130/24').slots, 32);
	t.is(pool('172.30.0.0/29').slots, 1);
});

test('what is not an IPv4 range of 8 to 29 bits is refused with the words to fix it', t => {
	for (const text of ['10.231.0.0', '10.231.0.0/30', '10.231.0.0/7', '300.1.1.1/16', 'fd00::/64', '10.231.0.0/16 extra']) {
		const parsed = parseNetworkPool(text);
		t.true('error' in parsed, text);
		t.regex((parsed as {error: string}).error, /is not an IPv4 range like 10\.231\.0\.0\/16 \(a prefix of 8 to 29 bits\)$/, text);
	}
});

test('slotOf finds a run subnet\'s slot and nothing for what is not one of the pool\'s', t => {
	const range = pool();
	t.is(slotOf(range, '10.231.0.0/29'), 0);
	t.is(slotOf(range, '10.231.2.80/29'), 74);
	t.is(slotOf(range, '10.231.2.84/29'), undefined, 'not on a slot boundary');
	t.is(slotOf(range, '10.231.2.80/28'), undefined, 'another size');
	t.is(slotOf(range, '10.232.0.0/29'), undefined, 'outside the pool');
	t.is(slotOf(range, '172.17.0.0/16'), undefined);
	for (const slot of [0, 1, 500, 8191]) {
		t.is(slotOf(range, runSubnet(range, slot).subnet), slot);
	}
});

test('candidate slots skip used ones, start where the name points, and are as many as asked or as there are free', t => {
	const range = pool('10.0.0.0/27');
	t.is(range.slots, 4);
	const all = candidateSlots(range, 'moat-run-a', new Set(), 10);
	t.deepEqual([...all].sort(), [0, 1, 2, 3]);
	t.deepEqual(candidateSlots(range, 'moat-run-a', new Set(), 10), all, 'the same name, the same order');
	t.deepEqual(candidateSlots(range, 'moat-run-a', new Set([all[0]!]), 10), all.slice(1));
	t.deepEqual(candidateSlots(range, 'moat-run-a', new Set([0, 1, 2, 3]), 10), []);
	t.is(candidateSlots(pool(), 'moat-run-b', new Set(), 64).length, 64);
	const starts = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map(name => candidateSlots(pool(), `moat-run-${name}`, new Set(), 1)[0]));
	t.true(starts.size > 1, 'different names start at different places');
});
