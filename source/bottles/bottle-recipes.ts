import type {RecipeName} from './bottle-kinds.js';
import type {BottleRecipe} from './bottle-recipe.js';
import {claudeRecipe} from './claude-recipe.js';
import {codexRecipe} from './codex-recipe.js';
import {shellRecipe} from './shell-recipe.js';

/** Every kind of bottle moat starts, by the name users pick it with. */
export const bottleRecipes = {
	claude: claudeRecipe,
	codex: codexRecipe,
	shell: shellRecipe,
} as const satisfies Record<RecipeName, BottleRecipe>;

export type {RecipeName} from './bottle-kinds.js';
