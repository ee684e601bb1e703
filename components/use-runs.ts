import {useEffect, useState} from 'react';
import {newestFirst} from '../source/runs/run-presentation.js';
import type {RunRow} from './dashboard-reducer.js';
import {useServices} from './services-context.js';

export type RunsView = {runs: RunRow[]; loaded: boolean; error?: string};

function sameRows(a: readonly RunRow[], b: readonly RunRow[]): boolean {
	return a.length === b.length && a.every((row, index) => row === b[index]);
}

/** Changes that arrive together (a run's files, the engine's events) make one refresh. */
const settleMilliseconds = 150;

/**
 * The runs, newest first: read again when the services say something
 * changed (debounced, so a burst of writes is one refresh and states do not
 * flicker), and every `intervalMilliseconds` in any case.
 */
export function useRuns(intervalMilliseconds: number): RunsView {
	const {listRuns, watchRuns} = useServices();
	const [view, setView] = useState<RunsView>({runs: [], loaded: false});

	useEffect(() => {
		let cancelled = false;
		let timer: NodeJS.Timeout | undefined;
		let running = false;
		let again = false;
		const refresh = async () => {
			clearTimeout(timer);
			if (running) {
				again = true;
				return;
			}

			running = true;
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
			} finally {
				running = false;
			}

			if (!cancelled) {
				timer = setTimeout(() => void refresh(), again ? settleMilliseconds : intervalMilliseconds);
				again = false;
			}
		};

		const changed = () => {
			clearTimeout(timer);
			timer = setTimeout(() => void refresh(), settleMilliseconds);
		};

		void refresh();
		const unwatch = watchRuns?.(changed);
		return () => {
			cancelled = true;
			clearTimeout(timer);
			unwatch?.();
		};
	}, [listRuns, watchRuns, intervalMilliseconds]);

	return view;
}
