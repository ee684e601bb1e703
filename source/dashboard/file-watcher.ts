import path from 'node:path';
import {watch as chokidarWatch} from 'chokidar';

/**
 * Files and folders watched for changes, in moat's own types. This is the
 * only file that imports chokidar; tests of what uses it fake FileWatcher.
 */

export const fileChangeKinds = ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const;
export type FileChangeKind = (typeof fileChangeKinds)[number];

/** Something happened to `path`: it appeared, changed (was written to) or went away. */
export type FileChange = {readonly kind: FileChangeKind; readonly path: string};

export type FileWatchOptions = {
	/** How many folder levels below a watched folder are watched too: 0 is the folder's own entries. */
	depth: number;
	onChange(change: FileChange): void;
	/** A watch that fails (a folder that cannot be read) says so here; it is otherwise silent. */
	onError?(error: Error): void;
};

/** One watch over some paths; closing it releases everything it holds. */
export type FileWatch = {
	/** Settles once the paths are watched: a change made after it is reported. */
	readonly ready: Promise<void>;
	close(): Promise<void>;
};

export type FileWatcher = {
	/**
	 * Watches `paths` (files or folders). A path that does not exist yet is
	 * watched through the nearest folder that does, and reported once it appears.
	 */
	watch(paths: readonly string[], options: FileWatchOptions): FileWatch;
};

/** The real watcher: the kernel's notifications (inotify on Linux), never polling. */
export function createFileWatcher(): FileWatcher {
	return {
		watch(paths, {depth, onChange, onError}) {
			const watcher = chokidarWatch([...paths], {
				// Native notifications cost nothing while nothing changes; polling would stat every
				// path every 100 ms. (CHOKIDAR_USEPOLLING, a user's global override, still wins.)
				backend: 'native',
				depth,
				// Every event only means "read it again": holding an unlink to pair it with an add
				// would delay that, and no editor writes these files.
				atomic: false,
				// The dashboard's own input keeps the process alive; a watch never should.
				persistent: false,
			});
			let closing: Promise<void> | undefined;
			let scanned = false;
			const ready = new Promise<void>(resolve => {
				watcher.once('ready', () => {
					scanned = true;
					resolve();
				});
			});
			const requested = paths.map(file => path.resolve(file));
			watcher.on('all', (kind, changed) => {
				// What is there already is read by whoever watches; only what happens next is news.
				// (Not chokidar's ignoreInitial: that would also hide what a later add() finds.)
				if (!scanned || closing || !(fileChangeKinds as readonly string[]).includes(kind)) {
					return;
				}

				if (kind === 'addDir') {
					// chokidar counts the depth of a missing path from the nearest folder that exists, so
					// a file two levels down would stay unwatched once its folder appears: ask again.
					const inside = requested.filter(file => file.startsWith(changed + path.sep));
					if (inside.length > 0) {
						watcher.add(inside);
					}
				}

				onChange({kind: kind as FileChangeKind, path: changed});
			});
			watcher.on('error', error => {
				onError?.(error instanceof Error ? error : new Error(String(error)));
			});
			return {
				ready,
				async close() {
					closing ??= watcher.close();
					return closing;
				},
			};
		},
	};
}
