import {notFoundError} from '../errors.js';
import type {CommandContext} from './command.js';

/**
 * Which credential a bottle signs in with: one the user named, else the
 * first of `candidates` that is granted; none is exit 4 with the command
 * that fixes it.
 */
export async function chooseBottleGrant(context: CommandContext, asked: readonly string[], candidates: readonly string[], missing: {message: string; hint: string}): Promise<string[]> {
	if (asked.some(grant => candidates.includes(grant))) {
		return [...asked];
	}

	const {createDefaultGrantService} = await import('../credentials/grant-service.js');
	const service = await createDefaultGrantService(context.environment);
	for (const name of candidates) {
		// eslint-disable-next-line no-await-in-loop
		if (await service.store.get(name)) {
			return [...asked, name];
		}
	}

	throw notFoundError(missing.message, missing.hint);
}
