import type {ContainerState, Engine} from '../engine/engine.js';
import {captureLogs} from '../runs/log-capture.js';
import {isActive, type RunMetadata} from '../runs/run-metadata.js';
import type {RunStore} from '../runs/run-store.js';
import type {RunFinisher} from './run-finisher.js';
import type {RunRegistry} from './run-registry.js';

/**
 * What the daemon watches on its own: each registered run's record and
 * container (a run whose container is gone loses its token), each run's
 * output (copied into logs.jsonl live, whoever is attached, and the run
 * finished when its container ends), and its own idleness (with no runs
 * left and nothing asked for a while, the daemon goes).
 */

/** How often the runs are looked at. */
export const watchMilliseconds = 2000;
/** A run registers before its container exists: it is not judged by the engine until then. */
export const registrationGraceMilliseconds = 60_000;
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

/** Whether the engine says a run's container has ended; when the engine cannot tell, it has not. */
export function containerEnded(container: ContainerState | undefined | 'unknown'): boolean {
	return container !== 'unknown' && (!container || !livingStatuses.has(container.status));
}

/** Whether the daemon has nothing left to do: no runs, no output being copied, no request for a while. */
export function idleEnough(options: {runs: number; captures: number; lastActivity: number; now: number; idleMilliseconds: number}): boolean {
	return options.runs === 0 && options.captures === 0 && options.now - options.lastActivity > options.idleMilliseconds;
}

export type DaemonWatchers = {
	/** Stops watching and stops copying output (the copies resume in the next daemon). */
	close(): void;
};

export function startDaemonWatchers(options: {
	registry: Pick<RunRegistry, 'registered' | 'count' | 'unregister'>;
	store: RunStore;
	engine: Engine;
	finisher: RunFinisher;
	idleMilliseconds: number;
	/** When the daemon last served a request (API or proxy). */
	lastActivity(): number;
	/** Called when the daemon has been idle long enough. */
	idle(why: string): Promise<void>;
	log(message: string): void;
	now?: () => number;
}): DaemonWatchers {
	const {registry, store, engine, finisher, log, now = Date.now} = options;
	const captures = new Map<string, AbortController>();

	const capture = (runId: string, containerId: string, tty: boolean) => {
		const stop = new AbortController();
		captures.set(runId, stop);
		void captureLogs(engine, store, runId, containerId, {follow: true, tty, signal: stop.signal})
			.then(async captured => {
				if (captured && !stop.signal.aborted) {
					await finisher.finish(runId);
				}
			})
			.catch((error: unknown) => {
				log(`output of ${runId}: ${(error as Error).message}`);
			})
			.finally(() => {
				if (captures.get(runId) === stop) {
					captures.delete(runId);
				}
			});
	};

	const tick = async () => {
		for (const live of registry.registered()) {
			const {runId, registeredAt} = live.persisted;
			const metadata = await store.read(runId).catch(() => undefined);
			const watch = watchRun(metadata, registeredAt, now());
			if (watch.action === 'unregister') {
				await registry.unregister(runId, watch.why);
				continue;
			}

			if (watch.action === 'wait') {
				continue;
			}

			if (!captures.has(runId)) {
				capture(runId, watch.containerId, watch.interactive);
			}

			if (watch.checkContainer) {
				const container = await engine.inspectContainer(watch.containerId).catch(() => 'unknown' as const);
				if (containerEnded(container)) {
					await registry.unregister(runId, 'container ended');
				}
			}
		}

		if (idleEnough({runs: registry.count(), captures: captures.size, lastActivity: options.lastActivity(), now: now(), idleMilliseconds: options.idleMilliseconds})) {
			await options.idle('idle with no runs');
		}
	};

	const timer = setInterval(() => {
		tick().catch((error: unknown) => {
			log(`watcher: ${(error as Error).message}`);
		});
	}, watchMilliseconds);
	// The daemon's life is its API and proxy; the watch alone never keeps it running.
	timer.unref();

	return {
		close() {
			clearInterval(timer);
			for (const stop of captures.values()) {
				stop.abort();
			}
		},
	};
}
