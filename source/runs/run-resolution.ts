import {notFoundError, usageError} from '../errors.js';
import type {RunMetadata} from './run-metadata.js';
import {newestFirst} from './run-presentation.js';
import {printable} from '../text/printable.js';

type Candidate = Pick<RunMetadata, 'id' | 'name' | 'createdAt'>;


/**
 * Finds the run a user meant (README: Running things): exact id, then a unique id prefix,
 * then a name (the newest run with it). No reference means the newest run.
 */
export function resolveRun<T extends Candidate>(runs: readonly T[], reference: string | undefined): T {
	if (reference === undefined || reference === '') {
		const [newest] = newestFirst(runs);
		if (!newest) {
			throw notFoundError('There are no runs.', 'Start one with moat run.');
		}

		return newest;
	}

	const exact = runs.find(run => run.id === reference);
	if (exact) {
		return exact;
	}

	// Only something that looks like an id is an id prefix: a run named
	// "run" (or "r") would otherwise match every id.
	const looksLikeId = /^(run_)?[\da-f]+$/.test(reference);
	const byPrefix = looksLikeId ? runs.filter(run => run.id.startsWith(reference) || run.id.startsWith(`run_${reference}`)) : [];
	if (byPrefix.length === 1) {
		return byPrefix[0]!;
	}

	if (byPrefix.length > 1) {
		const candidates = newestFirst(byPrefix).map(run => `${printable(run.id)} (${printable(run.name)})`);
		throw usageError(
			`"${printable(reference)}" matches ${byPrefix.length} runs: ${candidates.join(', ')}.`,
			'Type more of the run id.',
		);
	}

	const [byName] = newestFirst(runs.filter(run => run.name === reference));
	if (byName) {
		return byName;
	}

	throw notFoundError(`No run matches "${printable(reference)}".`, 'See moat list for run names and ids.');
}
