import type {AuditEventType} from '../audit/audit-chain.js';
import type {AuditLog, AuditSink} from '../audit/audit-log.js';
import {isDiskFull} from '../files/disk-full.js';
import type {StorageHealth} from './storage-health.js';

/**
 * The daemon's one writer of runs' audit logs. Every writer of a run's log
 * goes through its queue (the proxy's events, the CLI's, the daemon's own),
 * so entries are appended in order per run and never block a request.
 */
export type AuditQueue = AuditSink & {
	/** Queues an event without waiting for it; a failure is said in the log, not thrown. */
	recordLater(runId: string, type: AuditEventType, data: Record<string, unknown>): void;
	/** Settles once every run's last queued entry is written; rejects if one of those failed. */
	drain(): Promise<void>;
};

/**
 * How many events a run may hold back while the disk is full before the
 * rest are only counted (and that count written as an audit.lost entry).
 */
export const heldEventsPerRun = 10_000;

export function createAuditQueue(audit: Pick<AuditLog, 'record' | 'seal'>, log: (message: string) => void, storage?: Pick<StorageHealth, 'failed' | 'wrote'>): AuditQueue {
	const queues = new Map<string, Promise<unknown>>();
	// Events a full disk kept out, in order: written before the run's next
	// entry, so a full disk delays the log but does not cut it.
	const held = new Map<string, Array<{type: AuditEventType; data: Record<string, unknown>; at: string}>>();
	const dropped = new Map<string, {events: number; from: string; to: string}>();

	const catchUp = async (runId: string) => {
		const waiting = held.get(runId) ?? [];
		while (waiting.length > 0) {
			const event = waiting[0]!;
			await audit.record(runId, event.type, {...event.data, heldSince: event.at});
			waiting.shift();
		}

		held.delete(runId);
		const lost = dropped.get(runId);
		if (lost) {
			await audit.record(runId, 'audit.lost', {...lost, reason: 'the disk was full'});
			dropped.delete(runId);
		}
	};

	const hold = (runId: string, type: AuditEventType, data: Record<string, unknown>) => {
		const at = new Date().toISOString();
		const waiting = held.get(runId) ?? [];
		if (waiting.length < heldEventsPerRun) {
			waiting.push({type, data, at});
			held.set(runId, waiting);
			return;
		}

		const lost = dropped.get(runId);
		dropped.set(runId, {events: (lost?.events ?? 0) + 1, from: lost?.from ?? at, to: at});
	};

	const queue = async (runId: string, write: () => Promise<unknown>) => {
		const what = `audit log of ${runId}`;
		const next = (queues.get(runId) ?? Promise.resolve()).catch(() => undefined).then(async () => {
			await catchUp(runId);
			return write();
		}).then(value => {
			storage?.wrote(what);
			return value;
		}, (error: unknown) => {
			// A full disk is said once (and in the status) until an entry gets through again, however busy the run.
			if (storage?.failed(what, error) === 'new') {
				log(`${what}: ${(error as Error).message}`);
			}

			throw error;
		});
		queues.set(runId, next);
		return next;
	};

	return {
		async record(runId, type, data) {
			return queue(runId, async () => audit.record(runId, type, data));
		},
		async seal(runId) {
			await queue(runId, async () => audit.seal(runId));
		},
		recordLater(runId, type, data) {
			queue(runId, async () => audit.record(runId, type, data)).catch((error: unknown) => {
				if (isDiskFull(error)) {
					hold(runId, type, data);
				} else {
					log(`audit entry for ${runId} not written: ${(error as Error).message}`);
				}
			});
		},
		async drain() {
			await Promise.all(queues.values());
		},
	};
}
