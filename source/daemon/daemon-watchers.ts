import type {AuditSink} from '../audit/audit-log.js';
import type {ContainerState, ContainerSummary, Engine} from '../engine/engine.js';
import {isDiskFull} from '../files/disk-full.js';
import {containerLabels} from '../runs/labels.js';
import {captureLogs} from '../runs/log-capture.js';
import {isActive, type RunMetadata} from '../runs/run-metadata.js';
import type {RunStore} from '../runs/run-store.js';
import type {RunFinisher} from './run-finisher.js';
import type {RunRegistry} from './run-registry.js';
import type {StorageHealth} from './storage-health.js';

/**
 * What the daemon watches on its own: each registered run's record and
 * container (a run whose container is gone loses its token), each run's
 * output (copied into logs.jsonl live, whoever is attached, and the run
 * finished when its container ends), and its own idleness (with no runs
 * left and nothing asked for a while, the daemon goes).
 */

/** How often the runs are looked at: those whose output is not being copied, stalled writes and idleness. */
export const watchMilliseconds = 2000;
/**
 * How often every run is looked at in full, including those whose output is
 * being copied (their copy notices their end at once): the net under a copy
 * that hangs, a record changed behind the daemon's back.
 */
export const sweepMilliseconds = 30_000;
/** A run registers before its container exists: it is not judged by the engine until then. */
export const registrationGraceMilliseconds = 60_000;
/** The longest wait before a write the disk had no room for is tried again. */
export const longestRetryMilliseconds = 60_000;
/** Freed space that has a waiting write tried again at once, without waiting out its delay. */
export const freedBytesWorthRetrying = 64 * 1024;
/** Output written within this long of being printed is caught up: no longer waiting for space. */
export const caughtUpMilliseconds = 10_000;
/** Engine states in which a container may still use its token. */
const livingStatuses: ReadonlySet<string> = new Set(['running', 'created', 'restarting', 'paused']);

/** What to do about one registered run, from its record. */
export type RunWatch =
	| {action: 'unregister'; why: string}
	/** Nothing to do yet: no record (still young) or no container. */
	| {action: 'wait'}
	/** Follow the container's output; ask the engine whether it still lives once the run is no longer young. */
	| {action: 'follow'; containerId: string; interactive: boolean; checkContainer: boolean};

export function watchRun(metadata: RunMetadata | undefined, registeredAt: string, now: number): RunWatch {
	const young = now - Date.parse(registeredAt) < registrationGraceMilliseconds;
	if (!metadata) {
		return young ? {action: 'wait'} : {action: 'unregister', why: 'run removed'};
	}

	if (!isActive(metadata)) {
		return {action: 'unregister', why: `run ${metadata.state}`};
	}

	return metadata.containerId
		? {action: 'follow', containerId: metadata.containerId, interactive: metadata.interactive, checkContainer: !young}
		: {action: 'wait'};
}

/**
 * Whether a registered run is looked at (its record read, its container
 * asked after) on this tick. One whose output is being copied is watched by
 * that copy: it holds an attachment and the engine's wait on the container,
 * both ended by the engine when the container ends, and then finishes the
 * run and gives back its token. Looking at each of
 * them every two seconds is what an idle daemon spent its time on; the
 * sweep still looks at every run now and then.
 */
export function looksAt(run: {copying: boolean}, sweep: boolean): boolean {
	return sweep || !run.copying;
}

/** Whether the full look at every run is due: at the first tick, then every sweepMilliseconds. */
export function sweepDue(lastSweep: number | undefined, now: number): boolean {
	return lastSweep === undefined || now - lastSweep >= sweepMilliseconds;
}

/** Whether the engine says a run's container has ended; when the engine cannot tell, it has not. */
export function containerEnded(container: Pick<ContainerState, 'status'> | undefined | 'unknown'): boolean {
	return container !== 'unknown' && (!container || !livingStatuses.has(container.status));
}

/** A run whose output or record the disk had no room for: tried again later, less often each time. */
export type StalledRun = {containerId: string; tty: boolean; delay: number; retryAt: number; freeBytes: number};

/** The next wait after a write found no room: the watch's own pace first, doubling up to the longest. */
export function nextRetryDelay(previous: number | undefined): number {
	return previous === undefined ? watchMilliseconds : Math.min(previous * 2, longestRetryMilliseconds);
}

/**
 * Whether a stalled run is tried again now: its delay is over, or space was
 * freed since it stalled (a user who frees space sees the catch-up at once).
 */
export function retryDue(stalled: Pick<StalledRun, 'retryAt' | 'freeBytes'>, now: number, freeBytes: number | undefined): boolean {
	return now >= stalled.retryAt || (freeBytes !== undefined && freeBytes >= stalled.freeBytes + freedBytesWorthRetrying);
}

/** Whether the daemon has nothing left to do: no runs, no output being copied, no request for a while. */
export function idleEnough(options: {runs: number; captures: number; lastActivity: number; now: number; idleMilliseconds: number}): boolean {
	return options.runs === 0 && options.captures === 0 && options.now - options.lastActivity > options.idleMilliseconds;
}

export type DaemonWatchers = {
	/**
	 * Starts copying a registered run's output now, not at the next look:
	 * resolves once the copy holds the container (or cannot), so a
	 * container started after it has all its output copied live. False when
	 * the run is not registered or has no container yet.
	 */
	captureNow(runId: string): Promise<boolean>;
	/** Stops watching and stops copying output (the copies resume in the next daemon). */
	close(): void;
};

export function startDaemonWatchers(options: {
	/** MOAT_HOME: its runs' containers carry it as a label, so one listing answers for all of them. */
	home: string;
	registry: Pick<RunRegistry, 'registered' | 'has' | 'count' | 'unregister' | 'save'>;
	store: RunStore;
	engine: Engine;
	finisher: RunFinisher;
	idleMilliseconds: number;
	/** When the daemon last served a request (API or proxy). */
	lastActivity(): number;
	/** Called when the daemon has been idle long enough. */
	idle(why: string): Promise<void>;
	log(message: string): void;
	/** What could not be written for want of space, for the status. */
	storage: StorageHealth;
	/** Free bytes on MOAT_HOME's disk, or undefined when it cannot be told. */
	freeBytes(): Promise<number | undefined>;
	/** Where output the engine lost before it was copied is recorded. */
	audit: Pick<AuditSink, 'record'>;
	now?: () => number;
	/** How often the watch looks (watchMilliseconds unless a test says otherwise). */
	pace?: number;
}): DaemonWatchers {
	const {registry, store, engine, finisher, log, storage, now = Date.now, pace = watchMilliseconds} = options;
	const captures = new Map<string, AbortController>();
	// Kept apart from the registry: a run whose container ended while the disk was full is unregistered
	// (its token dies with it), but its output and its final record are still written once there is room.
	const stalled = new Map<string, StalledRun>();
	const stateFile = 'daemon-state.json';
	let lastSweep: number | undefined;

	/** A full disk is said once, then waited out; anything else is said as it comes. */
	const failed = (what: string, error: unknown) => {
		const seen = storage.failed(what, error);
		if (seen !== 'again') {
			log(`${what}: ${(error as Error).message}${seen === 'new' ? ' (tried again as space allows)' : ''}`);
		}
	};

	const wrote = (what: string) => {
		if (storage.wrote(what)) {
			log(`${what}: written again`);
		}
	};

	/** Tries the run again later, or sooner once space is freed. */
	const stall = async (runId: string, containerId: string, tty: boolean) => {
		const delay = nextRetryDelay(stalled.get(runId)?.delay);
		stalled.set(runId, {containerId, tty, delay, retryAt: now() + delay, freeBytes: await options.freeBytes() ?? 0});
	};

	/** Starts copying a run's output; resolves once the copy holds the container, or has ended. */
	const capture = async (runId: string, containerId: string, tty: boolean) => {
		const stop = new AbortController();
		captures.set(runId, stop);
		const output = `output of ${runId}`;
		const record = `record of ${runId}`;
		let attached: () => void = () => undefined;
		const holding = new Promise<void>(resolve => {
			attached = resolve;
		});
		const copying = (async () => {
			try {
				const captured = await captureLogs(engine, store, runId, containerId, {follow: true, tty, signal: stop.signal, onAttached: attached, onLost(lost) {
					options.audit.record(runId, 'output.lost', lost).catch((error: unknown) => {
						failed(`audit of ${runId}`, error);
					});
				}, onRecord(line) {
					// Output waits until the copy has caught up with what the run prints now, not at its first line through.
					if (storage.isWaiting(output) && now() - Date.parse(line.ts) < caughtUpMilliseconds) {
						wrote(output);
					}
				}});
				wrote(output);
				if (!captured || stop.signal.aborted) {
					stalled.delete(runId);
					return;
				}
			} catch (error) {
				if (isDiskFull(error) && !stop.signal.aborted) {
					failed(output, error);
					await stall(runId, containerId, tty);
				} else {
					stalled.delete(runId);
					log(`${output}: ${(error as Error).message}`);
				}

				return;
			}

			try {
				await finisher.finish(runId);
				wrote(record);
				stalled.delete(runId);
			} catch (error) {
				if (isDiskFull(error)) {
					// Its state cannot move to the end yet: the whole catch-up runs again (it finds nothing new to copy).
					failed(record, error);
					await stall(runId, containerId, tty);
				} else {
					stalled.delete(runId);
					log(`${record}: ${(error as Error).message}`);
				}
			}
		})().finally(() => {
			if (captures.get(runId) === stop) {
				captures.delete(runId);
			}
		});
		await Promise.race([holding, copying]);
	};

	/** Starts copying a run's output unless it is being copied, or is waiting for space. */
	const captureUnlessWaiting = (runId: string, containerId: string, tty: boolean, freeBytes: number | undefined) => {
		const waiting = stalled.get(runId);
		if (!captures.has(runId) && (!waiting || retryDue(waiting, now(), freeBytes))) {
			void capture(runId, containerId, tty);
		}
	};

	const unregister = async (runId: string, why: string) => {
		// The token is gone from memory whatever happens; only the saved state may have to wait for space.
		await registry.unregister(runId, why).catch((error: unknown) => {
			failed(stateFile, error);
		});
	};

	const tick = async () => {
		const sweep = sweepDue(lastSweep, now());
		if (sweep) {
			lastSweep = now();
		}

		const freeBytes = stalled.size > 0 || storage.report() ? await options.freeBytes() : undefined;
		if (storage.isWaiting(stateFile)) {
			await registry.save().then(() => {
				wrote(stateFile);
			}, (error: unknown) => {
				failed(stateFile, error);
			});
		}

		// One listing of this home's containers per tick answers for every run: not one request per run.
		let listing: Promise<Map<string, ContainerSummary> | undefined> | undefined;
		const containerState = async (containerId: string) => {
			listing ??= engine.listContainers({[containerLabels.home]: options.home}).then(
				containers => new Map(containers.map(container => [container.id, container])),
				() => undefined,
			);
			// Not listed (gone, or a container without the label): the engine is asked about it alone before it counts as ended.
			return (await listing)?.get(containerId) ?? engine.inspectContainer(containerId).catch(() => 'unknown' as const);
		};

		for (const live of registry.registered()) {
			const {runId, registeredAt} = live.persisted;
			if (!looksAt({copying: captures.has(runId)}, sweep)) {
				continue;
			}

			const metadata = await store.read(runId).catch(() => undefined);
			const watch = watchRun(metadata, registeredAt, now());
			if (watch.action === 'unregister') {
				// A copy attached before a start that failed waits for output that never comes.
				if (metadata && !metadata.startedAt) {
					captures.get(runId)?.abort();
				}

				await unregister(runId, watch.why);
				continue;
			}

			if (watch.action === 'wait') {
				continue;
			}

			captureUnlessWaiting(runId, watch.containerId, watch.interactive, freeBytes);
			if (watch.checkContainer && containerEnded(await containerState(watch.containerId))) {
				await unregister(runId, 'container ended');
			}
		}

		for (const [runId, waiting] of stalled) {
			if (!registry.has(runId)) {
				captureUnlessWaiting(runId, waiting.containerId, waiting.tty, freeBytes);
			}
		}

		if (idleEnough({runs: registry.count(), captures: captures.size + stalled.size, lastActivity: options.lastActivity(), now: now(), idleMilliseconds: options.idleMilliseconds})) {
			await options.idle('idle with no runs');
		}
	};

	// A look that outlasts the pace (a slow engine) is not joined by another: they would only pile up.
	let looking = false;
	const watch = () => {
		if (looking) {
			return;
		}

		looking = true;
		tick().catch((error: unknown) => {
			log(`watcher: ${(error as Error).message}`);
		}).finally(() => {
			looking = false;
		});
	};

	// A daemon started after a crash picks up the runs' output at once: the
	// engine's log only keeps so much of what they print meanwhile.
	let closed = false;
	setImmediate(() => {
		if (!closed) {
			watch();
		}
	});
	const timer = setInterval(watch, pace);
	// The daemon's life is its API and proxy; the watch alone never keeps it running.
	timer.unref();

	return {
		async captureNow(runId) {
			const live = [...registry.registered()].find(entry => entry.persisted.runId === runId);
			const metadata = live && await store.read(runId).catch(() => undefined);
			const watch = live && watchRun(metadata, live.persisted.registeredAt, now());
			if (closed || watch?.action !== 'follow') {
				return false;
			}

			if (!captures.has(runId) && !stalled.has(runId)) {
				await capture(runId, watch.containerId, watch.interactive);
			}

			return true;
		},
		close() {
			closed = true;
			clearInterval(timer);
			for (const stop of captures.values()) {
				stop.abort();
			}
		},
	};
}
