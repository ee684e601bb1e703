import fs from 'node:fs/promises';
import path from 'node:path';
import {runIdPattern, type RunMetadata} from '../runs/run-metadata.js';
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
export type RunRows = {list(): Promise<RunRow[]>};

type Cached = {stamp: string; run: RunMetadata; row: RunRow};

export function createRunRows(store: RunStore, counter: RunCounter): RunRows {
	const cache = new Map<string, Cached>();
	return {
		async list() {
			const names = await fs.readdir(store.root).catch((error: NodeJS.ErrnoException) => {
				if (error.code === 'ENOENT') {
					return [] as string[];
				}

				throw error;
			});
			const ids = names.filter(name => runIdPattern.test(name));
			const rows = await Promise.all(ids.map(async id => {
				const stat = await fs.stat(path.join(store.directory(id), 'metadata.json')).catch(() => undefined);
				if (!stat) {
					cache.delete(id);
					return undefined;
				}

				const stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
				let cached = cache.get(id);
				if (cached?.stamp !== stamp) {
					const run = await store.read(id).catch(() => undefined);
					if (!run) {
						return undefined;
					}

					cached = {stamp, run, row: {...run}};
				}

				const counts = await counter.count(id, store.networkFile(id));
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
