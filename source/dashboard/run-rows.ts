import path from 'node:path';
import {fileReads} from '../files/file-reads.js';
import {runIdPattern, type StoredRun} from '../runs/run-metadata.js';
import type {RunStore} from '../runs/run-store.js';
import type {RunCounter} from './run-counts.js';
import type {RunRow} from './dashboard-types.js';

/**
 * The runs table's rows, read again whenever a watch says runs changed and
 * every few seconds in any case (see useRuns): a run whose metadata
 * file and request counts are unchanged keeps its very row object, so 500
 * idle runs cost 500 stats (not 500 parses) and the dashboard, seeing the
 * same rows, does not redraw.
 */
export type RunRows = {
	/** `atOnce`: the files are read on this thread, for a start with nothing else to do yet (see file-reads.ts). */
	list(options?: {atOnce?: boolean}): Promise<RunRow[]>;
};

type Cached = {stamp: string; run: StoredRun; row: RunRow};

export function createRunRows(store: RunStore, counter: RunCounter): RunRows {
	const cache = new Map<string, Cached>();
	return {
		async list({atOnce = false} = {}) {
			const reads = fileReads({atOnce});
			const names = await reads.readdir(store.root).catch((error: NodeJS.ErrnoException) => {
				if (error.code === 'ENOENT') {
					return [] as string[];
				}

				throw error;
			});
			const ids = names.filter(name => runIdPattern.test(name));
			const rows = await Promise.all(ids.map(async id => {
				const stat = await reads.stat(path.join(store.directory(id), 'metadata.json'));
				// No metadata.json is rare (a run being made, or a lost record): read afresh each time.
				const stamp = stat ? `${stat.mtimeMs}:${stat.size}:${stat.ino}` : undefined;
				let cached = cache.get(id);
				if (stamp === undefined || cached?.stamp !== stamp) {
					// A damaged record is a row too (state damaged), so it can be seen and removed.
					const run = await store.readStored(id, {atOnce}).catch(() => undefined);
					if (!run) {
						cache.delete(id);
						return undefined;
					}

					cached = {stamp: stamp ?? '', run, row: {...run}};
				}

				const counts = await counter.count(id, store.networkFile(id), reads);
				if (cached.row.requests !== counts.requests || cached.row.blocked !== counts.blocked) {
					cached = {...cached, row: {...cached.run, ...counts}};
				}

				cache.set(id, cached);
				return cached.row;
			}));
			for (const id of cache.keys()) {
				if (!ids.includes(id)) {
					cache.delete(id);
				}
			}

			return rows.filter((row): row is RunRow => row !== undefined);
		},
	};
}
