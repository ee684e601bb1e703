import test from 'ava';
import type {AuditEntry} from '../source/audit/audit-chain.js';
import {createAuditQueue, heldEventsPerRun} from '../source/daemon/audit-queue.js';

/** An audit log on a disk that is full while `full` is set. */
function diskLog() {
	const written: Array<{type: string; data: Record<string, unknown>}> = [];
	const state = {full: false};
	const fail = () => Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC'});
	return {
		written,
		state,
		audit: {
			async record(_runId: string, type: string, data: Record<string, unknown>) {
				if (state.full) {
					throw fail();
				}

				written.push({type, data});
				return {seq: written.length - 1, ts: '', type, data, prev: '', hash: ''} satisfies AuditEntry;
			},
			async seal() {
				if (state.full) {
					throw fail();
				}
			},
		},
	};
}

test('events a full disk keeps out are written, in order, before the run\'s next entry once there is room', async t => {
	const {audit, written, state} = diskLog();
	const queue = createAuditQueue(audit, () => undefined);
	queue.recordLater('run_1', 'request.blocked', {host: 'a'});
	await queue.drain();
	state.full = true;
	queue.recordLater('run_1', 'request.blocked', {host: 'b'});
	queue.recordLater('run_1', 'credential.injected', {host: 'c'});
	await queue.drain().catch(() => undefined);
	t.deepEqual(written.map(entry => entry.data.host), ['a']);

	state.full = false;
	await queue.record('run_1', 'run.exited', {exitCode: 0});
	t.deepEqual(written.map(entry => entry.type), ['request.blocked', 'request.blocked', 'credential.injected', 'run.exited']);
	t.deepEqual(written.map(entry => entry.data.host), ['a', 'b', 'c', undefined]);
	t.truthy(written[1]!.data.heldSince, 'a held event says since when it waited');
});

test('beyond what a run may hold, events are counted and the count is written as audit.lost', async t => {
	const {audit, written, state} = diskLog();
	const queue = createAuditQueue(audit, () => undefined);
	state.full = true;
	for (let index = 0; index < heldEventsPerRun + 3; index++) {
		queue.recordLater('run_1', 'request.blocked', {index});
	}

	await queue.drain().catch(() => undefined);
	state.full = false;
	await queue.record('run_1', 'run.exited', {});
	t.is(written.length, heldEventsPerRun + 2);
	const lost = written.at(-2)!;
	t.is(lost.type, 'audit.lost');
	t.is(lost.data.events, 3);
	t.is(written.at(-1)!.type, 'run.exited');
});
