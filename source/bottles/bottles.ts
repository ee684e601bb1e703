import fs from 'node:fs/promises';
import path from 'node:path';
import type {Grant} from '../credentials/grant.js';
import {notFoundError} from '../errors.js';
import type {RunMetadata} from '../runs/run-metadata.js';
import type {RunService} from '../runs/run-service.js';
import type {AgentOptions, BottleRecipe, RecipeContext} from './bottle-recipe.js';
import {bottleRecipes, type RecipeName} from './bottle-recipes.js';
import {launchRun, type LaunchDependencies, type PreparedRun, type RunRequest} from './run-launcher.js';

/**
 * A bottle to start: a run request, and which recipe fills in the agent.
 * Without a recipe it is a plain run of `command`; with one, `command` is
 * what goes to the agent before moat's own arguments (a first message).
 */
export type BottleRequest = Omit<RunRequest, 'agent' | 'prepareAgent'> & {
	recipe?: RecipeName;
	options?: AgentOptions;
};

export type BottleDependencies = LaunchDependencies & {
	runs: Pick<RunService, 'list' | 'find'>;
	/** A stored grant by name, secret included (Codex reads a ChatGPT login's claims). */
	loadGrant(name: string): Promise<Grant | undefined>;
};

/**
 * Which grants a bottle signs in with: the user's, when they name one of the
 * recipe's; else the first of the recipe's that is stored. None is exit 4
 * with the command that fixes it.
 */
async function signInGrants(recipe: BottleRecipe, asked: readonly string[], exists: (name: string) => Promise<boolean>): Promise<string[]> {
	if (recipe.signInGrants.length === 0 || asked.some(grant => recipe.signInGrants.includes(grant))) {
		return [...asked];
	}

	for (const name of recipe.signInGrants) {
		// In order: the first the user has is the one preferred.
		if (await exists(name)) {
			return [...asked, name];
		}
	}

	throw notFoundError(recipe.missingGrant?.message ?? 'None of the grants this bottle signs in with is stored.', recipe.missingGrant?.hint ?? `Store one with moat grant ${recipe.signInGrants[0]}.`);
}

/**
 * Where every bottle starts, whoever asks (`moat run`, `moat claude`,
 * `moat codex`, the dashboard's new-bottle dialog): the request and its
 * recipe become a checked, registered, started run.
 */
export function createBottles(dependencies: BottleDependencies) {
	const context: RecipeContext = {
		environment: dependencies.environment,
		reporter: dependencies.reporter,
		runs: dependencies.runs,
		loadGrant: dependencies.loadGrant,
	};
	const exists = dependencies.grantExists ?? (async (name: string) => (await dependencies.loadGrant(name)) !== undefined);

	return {
		/**
		 * Creates and starts the bottle. `beforeStart` runs once the
		 * container exists but before it starts: an attached run connects
		 * there so that not a byte of output is missed.
		 */
		async start(request: BottleRequest, beforeStart?: (prepared: PreparedRun) => Promise<void>): Promise<RunMetadata> {
			const {recipe: name, options: asked = {}, ...run} = request;
			if (!name) {
				return launchRun(dependencies, run, beforeStart);
			}

			const recipe = bottleRecipes[name];
			const absolute = path.resolve(run.cwd, run.workspace);
			const workspace = await fs.realpath(absolute).catch(() => absolute);
			const options = recipe.resolve ? await recipe.resolve(asked, workspace, context) : asked;
			const grants = await signInGrants(recipe, run.grants, exists);
			const headless = options.prompt !== undefined;
			return launchRun(dependencies, {
				...run,
				workspace,
				grants,
				// Headless answers stream as output; otherwise the agent needs the terminal.
				interactive: recipe.terminal === 'always' ? true : (headless ? false : run.interactive ?? true),
				command: recipe.command(options, run.command),
				...recipe.agent ? {agent: recipe.agent} : {},
				...recipe.prepare ? {prepareAgent: async owner => recipe.prepare!({...owner, grants}, context)} : {},
			}, beforeStart);
		},
	};
}

export type Bottles = ReturnType<typeof createBottles>;
