import {useCallback, useEffect, useRef, useState} from 'react';
import {newestFirst} from '../source/runs/run-presentation.js';
import type {RunRow} from './dashboard-reducer.js';
import {createRefresher, type Refresher} from './refresher.js';
import {reconcileMilliseconds} from '../source/dashboard/dashboard-types.js';
import {useServices} from './services-context.js';

export type RunsView = {runs: RunRow[]; loaded: boolean; error?: string};

function sameRows(a: readonly RunRow[], b: readonly RunRow[]): boolean {
	return a.length === b.length && a.every((row, index) => row === b[index]);
}

/** Changes that arrive together (a run's files, the engine's events) make one refresh. */
const settleMilliseconds = 150;

/**
 * The runs, newest first, and `changed` to say they may have changed (the
 * dashboard calls it for the runs on screen, see useRunWatches). Services
 * that watch the runs folder are read when it changes, at most every
 * `intervalMilliseconds`, and every few seconds in any case (the engine is
 * asked about active runs then); services that cannot watch are read every
 * `intervalMilliseconds`. A burst of changes is one read, so states do not
 * flicker.
 */
export function useRuns(intervalMilliseconds: number, firstRuns?: readonly RunRow[]): RunsView & {changed(): void} {
	const {listRuns, watchRuns} = useServices();
	// Runs already read (the first frame's) are shown at once; they are read again all the same.
	const [view, setView] = useState<RunsView>(() => (firstRuns ? {runs: newestFirst(firstRuns), loaded: true} : {runs: [], loaded: false}));
	const refresher = useRef<Refresher | undefined>(undefined);

	useEffect(() => {
		let cancelled = false;
		const read = async () => {
			try {
				const runs = newestFirst(await listRuns());
				if (!cancelled) {
					// The same rows (services keep unchanged ones) are no reason to draw again.
					setView(previous => (previous.loaded && !previous.error && sameRows(previous.runs, runs) ? previous : {runs, loaded: true}));
				}
			} catch (error) {
				if (!cancelled) {
					setView(previous => ({...previous, loaded: true, error: (error as Error).message}));
				}
			}
		};

		const watched = watchRuns !== undefined;
		const current = createRefresher(read, {
			// Watched, the periodic read is the engine's reconciling (and a net for a missed notification).
			period: watched ? Math.max(intervalMilliseconds, reconcileMilliseconds) : intervalMilliseconds,
			spacing: intervalMilliseconds,
			settle: settleMilliseconds,
		});
		refresher.current = current;
		current.start();
		const unwatch = watchRuns?.(() => {
			current.changed();
		});
		return () => {
			cancelled = true;
			current.close();
			unwatch?.();
			if (refresher.current === current) {
				refresher.current = undefined;
			}
		};
	}, [listRuns, watchRuns, intervalMilliseconds]);

	const changed = useCallback(() => {
		refresher.current?.changed();
	}, []);

	return {...view, changed};
}
