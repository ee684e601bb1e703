import {bottleKinds} from './bottle-kinds.js';
import type {BottleRecipe} from './bottle-recipe.js';

/** A terminal in the bottle: bash when the image has it, else sh. A prompt means nothing to a shell. */
export const shellRecipe: BottleRecipe = {
	agent: undefined,
	signInGrants: bottleKinds.shell.signInGrants,
	terminal: 'always',
	command: () => ['sh', '-c', 'if command -v bash >/dev/null; then exec bash; else exec sh; fi'],
};
