import type {AuditEventType} from '../audit/audit-chain.js';
import type {AuditSink} from '../audit/audit-log.js';
import type {BufferedOutput} from '../engine/buffered-output.js';
import type {Attachment, ContainerState, Engine, OutputStream} from '../engine/engine.js';
import {createFrameDecoder} from '../engine/log-frames.js';
import type {MoatEnvironment} from '../environment.js';
import {isEngineUnreachable, isMoatError, MoatError, usageError} from '../errors.js';
import {imageLabels} from '../images/image-builder.js';
import {isDiskFull} from '../files/disk-full.js';
import {isFileLocked, waitForFileLock, withFileLock} from '../files/file-lock.js';
import {captureLogs, type CaptureOptions} from './log-capture.js';
import {plainTerminalLine} from '../terminal/terminal-line.js';
import {containerLabels} from './labels.js';
import type {JsonLines} from '../files/json-lines.js';
import {isActive, type DamagedRun, type RunMetadata, type StoredRun} from './run-metadata.js';
import {resolveRun} from './run-resolution.js';
import {reconcile} from './reconcile.js';
import {damagedRunError, type LogRecord, type RunStore} from './run-store.js';

/**
 * How long a look at an ended run waits for the daemon to finish copying its
 * output before leaving the container for a later look. The daemon's copy
 * ends within its grace after the container stops (log-capture.ts).
 */
const captureWaitMilliseconds = 15_000;

/**
 * How long a stopped bottle gets between the stop signal (SIGHUP on a
 * terminal, else SIGTERM, forwarded by the container's init) and the kill.
 * Short: what an agent must save, it saves on the signal; a program that
 * ignores it would otherwise hold every stop for the engine's 10 s.
 */
export const stopGraceSeconds = 1;

export {containerLabels} from './labels.js';

/** The runs on disk as `RunService.inventory` found them. */
export type RunInventory = {
	runs: RunMetadata[];
	damaged: DamagedRun[];
	/** Ids of runs said to be active that the engine could not be asked about: shown as last recorded. */
	unchecked: ReadonlySet<string>;
	/** Why some could not be checked (the engine is unreachable; exit 3); absent when none needed it. */
	engineProblem?: MoatError;
};

/** How the service talks to the user while it works (stderr, in the CLI). */
export type Reporter = {
	info(message: string): void;
	warn(message: string): void;
	/** Verbose detail, such as image build output. */
	debug(message: string): void;
};

/** How a finished run gives back its way out through the proxy. */
export type RunRelease = {
	/** Revokes the run's proxy token; quiet when no daemon is running. */
	release(runId: string): Promise<void>;
};

export type RunServiceDependencies = {
	engine: Engine;
	store: RunStore;
	environment: MoatEnvironment;
	reporter: Reporter;
	/** The run's tamper-evident log: the daemon's writer when it runs (daemon/daemon-client.ts), else audit/audit-log.ts. */
	audit?: AuditSink;
	/** Revokes a run's proxy token when it ends or is destroyed (the daemon's, through daemon/daemon-client.ts). */
	network?: RunRelease;
};

/**
 * The lifecycle of runs that exist: keep each stored record in step with
 * the engine, follow output, stop, destroy and clean up. Starting a run is
 * the bottles' (source/bottles/).
 */
/**
 * Appends an event to a run's audit log (and signs it with `seal`). An event
 * that cannot be logged is reported, not fatal: the run itself is already
 * under way, and the log's chain shows any gap it leaves.
 */
export async function recordRunEvent({audit, reporter}: Pick<RunServiceDependencies, 'audit' | 'reporter'>, runId: string, type: AuditEventType, data: Record<string, unknown>, seal = false): Promise<void> {
	try {
		await audit?.record(runId, type, data);
		if (seal) {
			await audit?.seal(runId);
		}
	} catch (error) {
		reporter.warn(`could not write the audit log of ${runId}: ${(error as Error).message}`);
	}
}

export function createRunService({engine, store, environment, reporter, audit, network}: RunServiceDependencies) {
	const record = async (runId: string, type: AuditEventType, data: Record<string, unknown>, seal = false) => recordRunEvent({audit, reporter}, runId, type, data, seal);
	/** Copies a run's output (log-capture.ts); output the engine lost first goes into the audit log too. */
	const copyOutput = async (run: Pick<RunMetadata, 'id' | 'interactive'>, containerId: string, options: Omit<CaptureOptions, 'tty' | 'onLost'>): Promise<boolean> => {
		const recorded: Array<Promise<void>> = [];
		try {
			return await captureLogs(engine, store, run.id, containerId, {...options, tty: run.interactive, onLost(lost) {
				recorded.push(record(run.id, 'output.lost', lost));
			}});
		} finally {
			await Promise.all(recorded);
		}
	};

	/** Brings a run in line with its container (exit code, logs, removal). */
	async function finish(run: RunMetadata): Promise<RunMetadata> {
		if (!run.containerId) {
			return run;
		}

		let container: ContainerState | undefined;
		try {
			container = await engine.inspectContainer(run.containerId);
		} catch (error) {
			if (error instanceof MoatError) {
				throw error;
			}

			// A transient engine error is not evidence that the container is
			// gone: keep the record as it is and try again next time.
			reporter.debug(`could not inspect ${run.containerId}: ${(error as Error).message}`);
			return run;
		}

		const decision = reconcile(run, container, environment.now());
		let captured = true;
		if (decision.catchUpLogs) {
			const catchUp = async () => copyOutput(run, run.containerId!, {follow: false}).catch((error: unknown) => {
				// Output with no room on the disk is still only in the container's log: it must stay.
				if (isDiskFull(error)) {
					throw error;
				}

				reporter.debug(`could not read the output of ${run.id}: ${(error as Error).message}`);
				return true;
			});
			captured = await catchUp();
			if (!captured && decision.removeContainer) {
				// The daemon is copying the output live; the container has ended,
				// so its copy ends in a moment. Wait for it rather than leave the
				// container behind for a later look to remove.
				await waitForFileLock(store.captureLockFile(run.id), captureWaitMilliseconds);
				captured = await catchUp();
			}
		}

		// Several moat processes may see the same exit at once; only the one
		// that makes the change records it, so the log says it once.
		const stateLock = store.stateLockFile(run.id);
		if (Object.keys(decision.change).length === 0 && !isActive(run)) {
			// Another process (the daemon) may be finishing the run right now:
			// its run.exited entry and final seal come under this lock, so
			// wait for them, or a `moat audit` right after would find the log
			// not yet sealed.
			await waitForFileLock(stateLock, 5000);
		}

		let next = Object.keys(decision.change).length === 0 ? run : await withFileLock(stateLock, async () => {
			const current = await store.read(run.id);
			if (isActive(run) && !isActive(current)) {
				return current;
			}

			const changed = await store.update(run.id, decision.change);
			if (isActive(run) && !isActive(changed)) {
				// The token dies with the run: nothing can use the proxy in its name again.
				await network?.release(run.id).catch((error: unknown) => {
					reporter.debug(`could not revoke the proxy token of ${run.id}: ${(error as Error).message}`);
				});
				await record(run.id, 'run.exited', {state: changed.state, exitCode: changed.exitCode, error: changed.error}, true);
			}

			return changed;
		});

		// Another process is still copying the output: the container (and
		// its log) must stay until it is done; a later look removes it.
		if (decision.removeContainer && captured) {
			await engine.removeContainer(run.containerId, {force: false});
			next = await store.update(run.id, {containerId: null});
		}

		return next;
	}

	/**
	 * Every run, each brought in line with the engine first. On a full disk
	 * a run is listed as it was last written (said once), and brought in
	 * line once there is room.
	 */
	async function list(): Promise<RunMetadata[]> {
		const runs = await store.list();
		let full: Error | undefined;
		const listed = await Promise.all(runs.map(async run => finish(run).catch((error: unknown) => {
			if (!isDiskFull(error)) {
				throw error;
			}

			full = error as Error;
			return run;
		})));
		if (full) {
			reporter.warn(`${full.message} Runs are shown as last written. ${isMoatError(full) ? full.hint : ''}`.trim());
		}

		return listed;
	}

	/** The run `reference` names (README: Running things), damaged or not. */
	async function findStored(reference: string | undefined): Promise<StoredRun> {
		const {runs, damaged} = await store.scan();
		const run = resolveRun(runs, reference, damaged);
		return run.state === 'damaged' ? run : finish(run);
	}

	/** The run `reference` names; a damaged one is an error that says how to remove it. */
	async function find(reference: string | undefined): Promise<RunMetadata> {
		const run = await findStored(reference);
		if (run.state === 'damaged') {
			throw damagedRunError(run);
		}

		return run;
	}

	return {
		list,
		find,
		findStored,

		/**
		 * Every run, brought in line with the engine, and the damaged records
		 * beside them. Without the engine the records are still what moat last
		 * knew, so they are shown as such: a run said to be active is then
		 * `unchecked` (it may have ended since), and `engineProblem` says why.
		 */
		async inventory(): Promise<RunInventory> {
			const {runs, damaged} = await store.scan();
			const unchecked = new Set<string>();
			let engineProblem: MoatError | undefined;
			const checked = await Promise.all(runs.map(async run => finish(run).catch((error: unknown) => {
				if (!isEngineUnreachable(error)) {
					throw error;
				}

				// A finished run's record is final; only its container's removal waits for the engine.
				if (isActive(run)) {
					unchecked.add(run.id);
					engineProblem = error;
				}

				return run;
			})));
			return {runs: checked, damaged, unchecked, ...engineProblem ? {engineProblem} : {}};
		},

		/** Brings one run in line with its container (exit code, logs, removal). */
		reconcile: finish,
		/** Appends an event to the run's audit log. */
		record,

		/**
		 * Everything the run has printed so far, caught up from the engine
		 * first (not for a damaged run: its container is not known), and how
		 * many lines of logs.jsonl were unreadable.
		 */
		async output(run: StoredRun): Promise<JsonLines<LogRecord>> {
			if (run.state !== 'damaged' && run.containerId) {
				const captured = await copyOutput(run, run.containerId, {follow: false}).catch((error: unknown) => {
					if (isDiskFull(error)) {
						// What is stored is shown; the rest stays in the container's log until there is room.
						reporter.warn(`${(error as Error).message} The output shown stops where it could be stored. ${isMoatError(error) ? error.hint : ''}`.trim());
						return true;
					}

					if (error instanceof MoatError) {
						throw error;
					}

					reporter.debug(`could not read the output of ${run.id}: ${(error as Error).message}`);
					return true;
				});
				if (!captured && !isActive(await store.read(run.id))) {
					// Another process is copying a finished run's output right
					// now; what it writes is what we want to show.
					await waitForFileLock(store.captureLockFile(run.id));
				}
			}

			return store.readLogFile(run.id);
		},

		/**
		 * Streams a run's output as it happens (and what it missed before),
		 * until the container ends or `signal` aborts. Returns the run as it
		 * stands afterwards.
		 */
		async follow(run: RunMetadata, onRecord: (record: LogRecord) => void, signal?: AbortSignal): Promise<RunMetadata> {
			const {containerId} = run;
			while (containerId && !signal?.aborted) {
				const captured = await copyOutput(run, containerId, {follow: true, onRecord, signal}).catch(
					(error: unknown) => {
						if (error instanceof MoatError) {
							throw error;
						}

						reporter.debug(`following ${run.id} ended: ${(error as Error).message}`);
						return true;
					},
				);
				// Someone else is copying the output: read the file as it grows,
				// and take over if they go away before the run ends.
				if (captured || (await tailLogFile(run, onRecord, signal)) === 'ended') {
					break;
				}
			}

			if (signal?.aborted) {
				return store.read(run.id);
			}

			return finish(await store.read(run.id));
		},

		/**
		 * Streams a run's output live, as the engine produces it, until the
		 * container ends or `signal` aborts; then brings the record up to
		 * date (logs.jsonl is filled from the engine's log). The engine's
		 * attach stream is complete at any volume, unlike following its log,
		 * which can skip output while the log file rotates.
		 */
		async stream(
			run: RunMetadata,
			sinks: Record<OutputStream, (bytes: Buffer) => void>,
			options: {signal?: AbortSignal; attachment?: Attachment; pending?: BufferedOutput} = {},
		): Promise<RunMetadata> {
			if (!run.containerId && !options.attachment) {
				return run;
			}

			// An attachment made before the start holds all the output, even
			// once another process has finished the run and removed its container.
			if (run.interactive || (!run.containerId && !options.attachment)) {
				// A TTY's output is terminal drawing; as lines it reads better cleaned.
				return this.follow(run, record => {
					sinks[record.stream](Buffer.from((run.interactive ? plainTerminalLine(record.line) : record.line) + '\n'));
				}, options.signal);
			}

			const attachment = options.attachment ?? (await engine.attach(run.containerId!, {stdin: false}));
			// Waiting for the exit starts now, alongside the output, so the
			// exit code is there as soon as the output ends.
			const exited = this.wait(run).catch(() => undefined);
			const decoder = createFrameDecoder();
			await new Promise<void>(resolve => {
				const done = () => {
					attachment.output.off('data', onData);
					attachment.output.off('end', done);
					attachment.output.off('close', done);
					resolve();
				};

				const onData = (chunk: Buffer) => {
					for (const frame of decoder.push(chunk)) {
						sinks[frame.stream](frame.data);
					}
				};

				// What arrived (or ended) before this listener, first.
				const earlier = options.pending?.take() ?? {chunks: [], ended: false};
				for (const chunk of earlier.chunks) {
					onData(chunk);
				}

				if (earlier.ended) {
					done();
					return;
				}

				attachment.output.on('data', onData);
				attachment.output.once('end', done);
				attachment.output.once('close', done);
				options.signal?.addEventListener('abort', done, {once: true});
			});
			attachment.close();
			if (options.signal?.aborted) {
				return store.read(run.id);
			}

			await exited;
			return finish(await store.read(run.id));
		},

		/** Waits for the container to end; the exit code, or undefined if it vanished. */
		async wait(run: RunMetadata): Promise<number | undefined> {
			if (!run.containerId) {
				return run.exitCode ?? undefined;
			}

			try {
				return await engine.waitContainer(run.containerId);
			} catch (error) {
				if (error instanceof MoatError) {
					throw error;
				}

				return (await store.read(run.id)).exitCode ?? undefined;
			}
		},

		async stop(run: RunMetadata): Promise<RunMetadata> {
			if (!isActive(run) || !run.containerId) {
				return run;
			}

			// Under the same lock as the exit transition, so a concurrent
			// finisher cannot overwrite the request with an older record.
			await withFileLock(store.stateLockFile(run.id), async () => store.update(run.id, {stopRequested: true}));
			await record(run.id, 'run.stopped', {requestedBy: 'user'});
			await engine.stopContainer(run.containerId, stopGraceSeconds);
			return finish(await store.read(run.id));
		},

		async destroy(run: StoredRun, force: boolean): Promise<void> {
			if (run.state === 'damaged') {
				await destroyDamaged(run, force);
				return;
			}

			if (isActive(run) && !force) {
				throw usageError(`Run ${run.id} (${run.name}) is still running.`, `Stop it first with moat stop ${run.id}, or use moat destroy -f ${run.id}.`);
			}

			// The token goes first: nothing may use the proxy in the run's name while it is torn down.
			await network?.release(run.id);
			if (run.containerId) {
				await engine.removeContainer(run.containerId, {force: true});
			}

			await store.remove(run.id);
		},

		/** What `moat clean` would remove: finished runs, and moat images no container uses. */
		async cleanable(): Promise<{runs: RunMetadata[]; images: Array<{id: string; tags: string[]; sizeBytes: number}>; orphanContainers: string[]}> {
			const runs = (await list()).filter(run => !isActive(run));
			// A damaged run's container stays until the run is destroyed: what it is, is not known.
			const scanned = await store.scan();
			const known = new Set([...scanned.runs, ...scanned.damaged].map(run => run.id));
			// Only this MOAT_HOME's containers: another home's runs are not ours to judge.
			const containers = await engine.listContainers({[containerLabels.managed]: 'true', [containerLabels.home]: environment.moatHome});
			const everyContainer = await engine.listContainers({[containerLabels.managed]: 'true'});
			const removedRunIds = new Set(runs.map(run => run.id));
			const orphanContainers = containers
				.filter(container => {
					const runId = container.labels[containerLabels.runId] ?? '';
					return (!known.has(runId) || removedRunIds.has(runId)) && container.status !== 'running';
				})
				.map(container => container.id);
			const remaining = everyContainer.filter(container => !orphanContainers.includes(container.id));
			const usedImages = new Set(remaining.map(container => container.imageId));
			const images = (await engine.listImages({[imageLabels.managed]: 'true'})).filter(image => !usedImages.has(image.id));
			return {runs, images: images.map(image => ({id: image.id, tags: image.tags, sizeBytes: image.sizeBytes})), orphanContainers};
		},

		async clean(plan: {runs: RunMetadata[]; images: Array<{id: string}>; orphanContainers: string[]}): Promise<void> {
			for (const container of plan.orphanContainers) {
				await engine.removeContainer(container, {force: true});
			}

			for (const run of plan.runs) {
				await store.remove(run.id);
			}

			for (const image of plan.images) {
				await engine.removeImage(image.id).catch((error: unknown) => {
					reporter.warn(`could not remove image ${image.id.slice(7, 19)}: ${(error as Error).message}`);
				});
			}
		},
	};

	/**
	 * A damaged record cannot say which container is the run's, so the
	 * engine is asked for the ones labelled with its id in this MOAT_HOME;
	 * one still running needs -f, as a running run does.
	 */
	async function destroyDamaged(run: DamagedRun, force: boolean): Promise<void> {
		const containers = await engine.listContainers({[containerLabels.runId]: run.id, [containerLabels.home]: environment.moatHome});
		if (!force && containers.some(container => container.status === 'running')) {
			throw usageError(`Run ${run.id} is damaged and its container is still running.`, `Use moat destroy -f ${run.id} to stop and remove it.`);
		}

		await network?.release(run.id);
		for (const container of containers) {
			await engine.removeContainer(container.id, {force: true});
		}

		await store.remove(run.id);
	}

	async function tailLogFile(run: RunMetadata, onRecord: (record: LogRecord) => void, signal?: AbortSignal): Promise<'ended' | 'unlocked'> {
		let seen = (await store.readLogs(run.id)).length;
		while (!signal?.aborted) {
			await new Promise(resolve => {
				setTimeout(resolve, 200);
			});
			const records = await store.readLogs(run.id);
			for (const record of records.slice(seen)) {
				onRecord(record);
			}

			seen = records.length;
			if (!isActive(await store.read(run.id))) {
				return 'ended';
			}

			if (!(await isFileLocked(store.captureLockFile(run.id)))) {
				return 'unlocked';
			}
		}

		return 'ended';
	}
}

export type RunService = ReturnType<typeof createRunService>;
