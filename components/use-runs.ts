import {useEffect, useState} from 'react';
import type {RunMetadata} from '../source/runs/run-metadata.js';
import {newestFirst} from '../source/runs/run-presentation.js';
import {useServices} from './services-context.js';

export type RunsView = {runs: RunMetadata[]; loaded: boolean; error?: string};

/** The runs, newest first, refreshed every `intervalMilliseconds`. */
export function useRuns(intervalMilliseconds: number): RunsView {
	const {listRuns} = useServices();
	const [view, setView] = useState<RunsView>({runs: [], loaded: false});

	useEffect(() => {
		let cancelled = false;
		let timer: NodeJS.Timeout | undefined;
		const refresh = async () => {
			try {
				const runs = newestFirst(await listRuns());
				if (!cancelled) {
					setView({runs, loaded: true});
				}
			} catch (error) {
				if (!cancelled) {
					setView(previous => ({...previous, loaded: true, error: (error as Error).message}));
				}
			}

			if (!cancelled) {
				timer = setTimeout(refresh, intervalMilliseconds);
			}
		};

		void refresh();
		return () => {
			cancelled = true;
			clearTimeout(timer);
		};
	}, [listRuns, intervalMilliseconds]);

	return view;
}
