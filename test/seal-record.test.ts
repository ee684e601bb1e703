import test from 'ava';
import {sealStillHolds, type SealRecord} from '../source/gateway/seal-record.js';

const sealed: SealRecord = {container: 'c0ffee', startedAt: '2026-12-03T17:00:00.000Z', network: 'net1', addresses: ['10.0.0.2', '172.17.0.1', '[fd00::2]']};

test('a seal check stands for the same gateway, started at the same time, probing from the same network, with no new address', t => {
	t.true(sealStillHolds(JSON.parse(JSON.stringify(sealed)), sealed));
	// An address gone since is no new target.
	t.true(sealStillHolds(sealed, {...sealed, addresses: ['10.0.0.2']}));
});

test('anything that could change the answer checks again', t => {
	const changes: Array<[string, Partial<SealRecord>]> = [
		['another gateway container', {container: 'deadbeef'}],
		['the gateway started again', {startedAt: '2026-12-03T18:00:00.000Z'}],
		['its network made again', {network: 'net2'}],
		['an address this machine did not have', {addresses: [...sealed.addresses, '192.168.1.5']}],
	];
	for (const [what, change] of changes) {
		t.false(sealStillHolds(sealed, {...sealed, ...change}), what);
	}
});

test('a record that is not one checks again', t => {
	for (const recorded of [undefined, null, 'sealed', 42, {}, {...sealed, addresses: '10.0.0.2'}, {...sealed, startedAt: undefined}]) {
		t.false(sealStillHolds(recorded, sealed), JSON.stringify(recorded));
	}
});
