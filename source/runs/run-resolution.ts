import {notFoundError, usageError} from '../errors.js';
import type {DamagedRun, RunMetadata} from './run-metadata.js';
import {newestFirst} from './run-presentation.js';
import {printable} from '../text/printable.js';

type Candidate = Pick<RunMetadata, 'id' | 'name' | 'createdAt'>;
type DamagedCandidate = Pick<DamagedRun, 'id' | 'name' | 'createdAt'>;


/**
 * Finds the run a user meant (README: Running things): exact id, then a unique id prefix,
 * then a name (the newest run with it). No reference means the newest run.
 * Damaged runs (`damaged`) are found by id or id prefix only: their
 * records, name and time included, are not to be trusted, so they never
 * stand in for the newest run or for a name.
 */
export function resolveRun<T extends Candidate>(runs: readonly T[], reference: string | undefined): T;
export function resolveRun<T extends Candidate, D extends DamagedCandidate>(runs: readonly T[], reference: string | undefined, damaged: readonly D[]): T | D;
export function resolveRun<T extends Candidate, D extends DamagedCandidate>(runs: readonly T[], reference: string | undefined, damaged: readonly D[] = []): T | D {
	if (reference === undefined || reference === '') {
		const [newest] = newestFirst(runs);
		if (!newest) {
			throw notFoundError('There are no runs.', 'Start one with moat run.');
		}

		return newest;
	}

	const everyRun: ReadonlyArray<T | D> = [...runs, ...damaged];
	const damagedOnes = new Set<T | D>(damaged);
	const exact = everyRun.find(run => run.id === reference);
	if (exact) {
		return exact;
	}

	// Only something that looks like an id is an id prefix: a run named
	// "run" (or "r") would otherwise match every id.
	const looksLikeId = /^(run_)?[\da-f]+$/.test(reference);
	const byPrefix = looksLikeId ? everyRun.filter(run => run.id.startsWith(reference) || run.id.startsWith(`run_${reference}`)) : [];
	if (byPrefix.length === 1) {
		return byPrefix[0]!;
	}

	if (byPrefix.length > 1) {
		const candidates = newestFirst(byPrefix).map(run => `${printable(run.id)} (${damagedOnes.has(run) ? 'damaged' : printable(run.name ?? '')})`);
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
