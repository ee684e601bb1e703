import fsp from 'node:fs/promises';
import path from 'node:path';
import type {BottleRequest, Bottles} from '../bottles/bottles.js';
import {reconcileMilliseconds, type DashboardServices, type NewRunRequest, type Problem, type RunRow, type RunWatchPurpose} from './dashboard-types.js';
import type {Hello} from '../daemon/daemon-protocol.js';
import {describeStorage} from '../daemon/storage-health.js';
import type {Engine} from '../engine/engine.js';
import type {MoatEnvironment as Environment} from '../environment.js';
import {isMoatError} from '../errors.js';
import {isActive, type RunMetadata} from '../runs/run-metadata.js';
import type {RunService} from '../runs/run-service.js';
import type {RunStore} from '../runs/run-store.js';
import {createFileWatcher, type FileWatch, type FileWatcher} from './file-watcher.js';
import {createRunCounter, type RunCounter} from './run-counts.js';
import {createRunRows, type RunRows} from './run-rows.js';
import {renderTerminalLog} from '../runs/terminal-log.js';
import {auditFiles, auditTail, displayLogLine, formatAuditEntry, formatNetworkEntry, logTail, networkTail, type AuditTail, type Tail} from './run-tails.js';
import type {ScreenKeeper} from './screen-keeper.js';

/** How many lines a pane keeps of a run's files. */
const paneLimit = 2000;

/** What needs the engine: loaded once the first frame has its runs (dockerode alone is slow to load). */
export type EngineParts = {
	engine: Engine;
	runs: RunService;
	keeper: ScreenKeeper;
	/** Where bottles start, in this process, exactly as `moat claude -d` starts them. */
	bottles: Pick<Bottles, 'start'>;
};

export type DashboardServiceOptions = {
	environment: Environment;
	store: RunStore;
	/** Called once, after the runs were first listed from their records. */
	engineParts(): Promise<EngineParts>;
	grantNames(): Promise<string[]>;
	allowHost(runId: string, host: string): Promise<void>;
	grantWizard: DashboardServices['grantWizard'];
	/** The running daemon's hello (what it could not write, among the rest); undefined when none runs. */
	daemon(): Promise<Pick<Hello, 'storage'> | undefined>;
	/** What watches the runs folder and the files of the runs on screen. */
	files?: FileWatcher;
	/**
	 * The table's rows and the counter they count requests with, when the
	 * runs were already read (for the first frame): their cache saves the
	 * first listing a second parse of every record.
	 */
	table?: {rows: RunRows; counter: RunCounter};
};

/** The files of run `id` that a watch for `purpose` looks at. Pure. */
export function watchedFiles(store: Pick<RunStore, 'directory' | 'logFile' | 'networkFile'>, id: string, purpose: RunWatchPurpose): string[] {
	const metadata = path.join(store.directory(id), 'metadata.json');
	switch (purpose) {
		case 'row': {
			// The state, and the request counts.
			return [metadata, store.networkFile(id)];
		}

		case 'logs': {
			return [store.logFile(id)];
		}

		case 'network': {
			return [store.networkFile(id)];
		}

		case 'audit': {
			const {entries, checkpoints} = auditFiles(store.directory(id));
			// The run's ending changes what verification requires (every entry signed).
			return [entries, checkpoints, metadata];
		}
	}
}

/**
 * The bottle the new-bottle dialog asks for, always detached (attaching is
 * the dashboard's). The workspace is absolute, `~` expanded. A prompt goes
 * to the agent as its first message and the session stays interactive; a
 * shell takes none. Pure.
 */
export function bottleRequestOf(request: NewRunRequest, userHome: string): BottleRequest {
	const workspace = path.resolve(expandHome(request.workspace, userHome));
	return {
		recipe: request.agent,
		workspace,
		cwd: workspace,
		...request.name ? {name: request.name} : {},
		grants: request.grants,
		command: request.agent !== 'shell' && request.prompt ? [request.prompt] : [],
		environment: [],
		mounts: [],
		detach: true,
		// Nobody is at a terminal to approve what agent.yaml asks for: said, not asked.
		hasTerminal: false,
		rebuild: false,
		keep: false,
	};
}

/**
 * The real services behind the dashboard: the run store and engine, each
 * run's files watched and read as they grow, the kept screens, and the bottles.
 */
export function createDashboardServices(options: DashboardServiceOptions): DashboardServices {
	const {environment, store, files = createFileWatcher()} = options;
	// The first frame is drawn from the run records alone: nothing that needs
	// the engine is loaded or asked until the runs have been listed once (an
	// engine that is slow, busy or not there never keeps the table blank).
	let listedOnce = () => {};
	const listed = new Promise<void>(resolve => {
		listedOnce = resolve;
	});
	let loading: Promise<EngineParts> | undefined;
	const parts = async (): Promise<EngineParts> => {
		await listed;
		loading ??= options.engineParts();
		return loading;
	};

	/** Whoever watches the runs, told when the engine's answer changed one. */
	const runsListeners = new Set<() => void>();
	const watch = (paths: readonly string[], depth: number, changed: () => void) => {
		// A watch that fails leaves the periodic read (see reconcileMilliseconds) to find what changed.
		const watching: FileWatch = files.watch(paths, {depth, onChange: changed, onError() {}});
		return () => {
			void watching.close();
		};
	};

	const tails = new Map<string, Tail<unknown> | AuditTail>();
	/** Terminal runs' logs as played (renderTerminalLog), kept while logs.jsonl keeps its size. */
	const played = new Map<string, {size: number; lines: string[]}>();
	const playedLog = async (id: string): Promise<string[]> => {
		const size = (await fsp.stat(store.logFile(id)).catch(() => undefined))?.size ?? 0;
		const known = played.get(id);
		if (known?.size === size) {
			return known.lines;
		}

		const records = await renderTerminalLog(await store.readLogs(id));
		const lines = records.slice(-paneLimit).map(record => displayLogLine(record));
		played.set(id, {size, lines});
		return lines;
	};

	const counter = options.table?.counter ?? createRunCounter();
	const rows = options.table?.rows ?? createRunRows(store, counter);
	let reconciledAt = 0;
	// Tails of runs no longer listed (destroyed) are dropped with their entries.
	const forgetAllBut = (ids: ReadonlySet<string>) => {
		for (const key of tails.keys()) {
			if (!ids.has(key.slice(key.indexOf(':') + 1))) {
				tails.delete(key);
			}
		}

		counter.retain(ids);
		for (const id of played.keys()) {
			if (!ids.has(id)) {
				played.delete(id);
			}
		}
	};

	// The newest list, for the once-every-2-s problem check (no second read of the store).
	let latest: RunRow[] = [];
	const tailOf = <T>(key: string, make: () => T): T => {
		let tail = tails.get(key) as T | undefined;
		if (!tail) {
			tail = make();
			tails.set(key, tail as Tail<unknown>);
		}

		return tail;
	};

	/**
	 * The daemon finishes runs whose containers end; without one (or after a
	 * crash) the engine is asked directly, for the runs said to be active
	 * only, in the background: what it changes reaches the table as a change.
	 */
	const reconcile = async (all: readonly RunRow[]) => {
		const active = all.filter((run): run is RunRow & RunMetadata => run.state !== 'damaged' && isActive(run));
		if (active.length === 0) {
			return;
		}

		const {runs} = await parts();
		const changed = await Promise.all(active.map(async run => runs.reconcile(run).then(next => next.state !== run.state, () => false)));
		if (changed.some(Boolean)) {
			for (const listener of runsListeners) {
				listener();
			}
		}
	};

	/** The live screens of the interactive runs that are running, kept for the Preview and for attaching. */
	const keepScreens = ({keeper}: EngineParts) => {
		const running = new Set<string>();
		for (const run of latest) {
			if (run.state !== 'damaged' && isActive(run) && run.interactive && run.containerId) {
				running.add(run.id);
				keeper.keep(run.id, run.containerId);
			}
		}

		keeper.retain(running);
	};

	return {
		async listRuns(): Promise<RunRow[]> {
			// After this listing is drawn (or its error is), not before it.
			setImmediate(listedOnce);
			const all = await rows.list();
			if (Date.now() - reconciledAt > reconcileMilliseconds) {
				reconciledAt = Date.now();
				void reconcile(all).catch(() => undefined);
			}

			latest = all;
			forgetAllBut(new Set(all.map(run => run.id)));
			void parts().then(keepScreens).catch(() => undefined);
			return all;
		},
		watchRuns(changed) {
			// Runs coming and going, at depth 0: one notification handle for the folder, none for
			// the runs in it (a deeper watch would walk every run's folder before the first paint).
			// Changes inside a run are watched only for the runs on screen (watchRun). No folder
			// yet (no runs) is watched through its parent until it appears.
			const unwatch = watch([store.root], 0, changed);
			runsListeners.add(changed);
			return () => {
				runsListeners.delete(changed);
				unwatch();
			};
		},
		watchRun(id, purpose, changed) {
			return watch(watchedFiles(store, id, purpose), 0, changed);
		},
		async problems(): Promise<Problem[]> {
			const found: Problem[] = [];
			const engineProblem = await parts().then(async ({engine}) => engine.ping()).then(() => undefined, (error: unknown) => (error as Error).message);
			if (engineProblem) {
				found.push({message: 'The Docker engine cannot be reached; runs cannot start or stop.', fix: 'Start Docker (or set DOCKER_HOST); this clears when it is back.'});
			}

			const active = latest.some(run => isActive(run));
			const daemon = await options.daemon();
			if (active && !daemon) {
				found.push({message: 'moat\'s daemon is not running: running bottles have no network and no live logs.', fix: 'Run moat proxy start.'});
			}

			const storage = describeStorage(daemon?.storage, environment.moatHome);
			if (storage) {
				found.push(storage);
			}

			return found;
		},
		async stopRun(id) {
			const {runs} = await parts();
			await runs.stop(await runs.find(id));
		},
		async destroyRun(id) {
			const {runs} = await parts();
			// A damaged run too: removing it is the fix its row offers.
			await runs.destroy(await runs.findStored(id), true);
		},
		async preview(id) {
			const {keeper} = await parts();
			const lines = keeper.lines(id);
			const run = latest.find(candidate => candidate.id === id);
			if (!lines && run?.state !== 'damaged' && run?.interactive) {
				// A terminal run not running: its output played through a terminal, as it looked.
				return {lines: (await playedLog(id)).map(text => ({text})), summary: 'output (as its terminal showed it)'};
			}

			if (!lines) {
				// A run without a terminal (or not running) shows its newest output instead.
				const logs = await this.logs!(id);
				return {lines: logs.lines, summary: 'output (no terminal)'};
			}

			// Trailing empty rows say nothing.
			let end = lines.length;
			while (end > 0 && lines[end - 1]!.trim() === '') {
				end--;
			}

			return {lines: lines.slice(0, end).map(text => ({text})), summary: 'live screen'};
		},
		async logs(id) {
			const snapshot = await tailOf(`logs:${id}`, () => logTail(store.logFile(id), paneLimit)).read();
			return {lines: snapshot.entries.map(line => ({text: line.text, alert: line.stream === 'stderr'})), summary: `${snapshot.total - snapshot.skipped} lines${unreadable(snapshot.skipped)}`, total: snapshot.total};
		},
		async network(id) {
			const snapshot = await tailOf(`network:${id}`, () => networkTail(store.networkFile(id), paneLimit)).read();
			const lines = snapshot.entries.map(entry => ({entry, ...formatNetworkEntry(entry)}));
			const blocked = lines.filter(line => line.blocked).length;
			return {
				lines: lines.map(line => ({text: line.text, alert: line.blocked})),
				// Only what the policy blocked can be allowed (not internal addresses, not a mismatched Host).
				blockedHosts: lines.map(line => (line.blocked && /not in the allow list/i.test(line.entry.error ?? '') ? allowEntryOf(line.entry.url) : undefined)),
				summary: `${snapshot.total - snapshot.skipped} requests${blocked ? ` · ${blocked} blocked (a allows)` : ''}${unreadable(snapshot.skipped)}`,
				total: snapshot.total,
			};
		},
		async audit(id) {
			const snapshot = await tailOf(`audit:${id}`, () => auditTail(environment.moatHome, id, paneLimit, {now: environment.now})).read();
			const {verification} = snapshot;
			return {
				lines: [
					...snapshot.entries.map(entry => ({text: formatAuditEntry(entry)})),
					...(verification.state === 'broken' ? [{text: `✕ ${verification.detail}`, alert: true}] : []),
				],
				total: snapshot.total + (verification.state === 'broken' ? 1 : 0),
				summary: `${snapshot.total - snapshot.skipped} entries${unreadable(snapshot.skipped)} · ${verification.state === 'verified' ? '✓ ' : verification.state === 'broken' ? '✕ ' : ''}${verification.detail}`,
			};
		},
		allowHost: options.allowHost,
		async startRun(request) {
			try {
				const {bottles} = await parts();
				return (await bottles.start(bottleRequestOf(request, environment.userHome))).id;
			} catch (error) {
				// What is wrong and what to do, as the CLI would say it, on one line.
				throw new Error(isMoatError(error) ? `${error.message} ${error.hint}` : (error as Error).message, {cause: error});
			}
		},
		grantNames: options.grantNames,
		async checkWorkspace(folder) {
			const resolved = path.resolve(expandHome(folder, environment.userHome));
			const stat = await fsp.stat(resolved).catch(() => undefined);
			if (!stat) {
				return `There is no folder at ${resolved}.`;
			}

			return stat.isDirectory() ? undefined : `${resolved} is a file; a workspace is a folder.`;
		},
		async completePath(partial) {
			const expanded = expandHome(partial, environment.userHome);
			const directory = expanded.endsWith('/') ? expanded : path.dirname(expanded);
			const start = expanded.endsWith('/') ? '' : path.basename(expanded);
			const entries = await fsp.readdir(directory || '.', {withFileTypes: true}).catch(() => []);
			return entries
				.filter(entry => entry.isDirectory() && entry.name.startsWith(start) && (start.startsWith('.') || !entry.name.startsWith('.')))
				.map(entry => `${partial.slice(0, partial.length - start.length)}${entry.name}/`)
				.sort();
		},
		grantWizard: options.grantWizard,
		now: environment.now,
	};
}

/** " · 2 unreadable lines skipped" for a pane's summary; nothing when none were. Pure. */
export function unreadable(skipped: number): string {
	return skipped === 0 ? '' : ` · ${skipped} unreadable line${skipped === 1 ? '' : 's'} skipped`;
}

function expandHome(folder: string, home: string): string {
	return folder === '~' || folder.startsWith('~/') ? path.join(home, folder.slice(1)) : folder;
}

/** The allow entry for a blocked request: its host, with its port unless that is 80 or 443. Pure. */
export function allowEntryOf(url: string): string | undefined {
	try {
		const parsed = new URL(url.includes('://') ? url : `https://${url}`);
		const host = parsed.hostname.replace(/^\[|\]$/g, '');
		if (!host || host.includes('*')) {
			return undefined;
		}

		return parsed.port && !['80', '443'].includes(parsed.port) ? `${host}:${parsed.port}` : host;
	} catch {
		return undefined;
	}
}
