import {useEffect, useRef} from 'react';
import type {RunWatchPurpose} from '../source/dashboard/dashboard-types.js';
import {useServices} from './services-context.js';

/**
 * Watches the runs `ids` for `purpose` while they are on screen: a run's
 * watch opens when it comes into view and closes when it leaves (scrolled
 * away, filtered out, destroyed), so what is watched stays what is shown.
 * Returns whether the services can watch at all (if not, the caller reads
 * on a timer instead).
 */
export function useRunWatches(ids: readonly string[], purpose: RunWatchPurpose, changed: (id: string) => void): boolean {
	const {watchRun} = useServices();
	const watches = useRef(new Map<string, () => void>());
	const onChange = useRef(changed);
	useEffect(() => {
		onChange.current = changed;
	}, [changed]);

	// One string, so the same runs in a new array do not reopen anything.
	const key = ids.join('\n');
	useEffect(() => {
		if (!watchRun) {
			return;
		}

		const wanted = new Set(key === '' ? [] : key.split('\n'));
		for (const [id, close] of watches.current) {
			if (!wanted.has(id)) {
				close();
				watches.current.delete(id);
			}
		}

		for (const id of wanted) {
			if (!watches.current.has(id)) {
				watches.current.set(id, watchRun(id, purpose, () => {
					onChange.current(id);
				}));
			}
		}
	}, [watchRun, purpose, key]);

	useEffect(() => {
		const open = watches.current;
		return () => {
			// Unmounted (or another purpose or services): every watch goes.
			for (const close of open.values()) {
				close();
			}

			open.clear();
		};
	}, [watchRun, purpose]);

	return watchRun !== undefined;
}
