import {BuildError, type Engine} from '../engine/engine.js';
import {MoatError} from '../errors.js';
import type {DependencyPlan} from './dependencies.js';
import {imageRecipe} from './dockerfile.js';
import {printable} from '../text/printable.js';

export const imageLabels = {managed: 'moat.managed', hash: 'moat.image-hash', base: 'moat.base-image'} as const;

export type EnsureImageOptions = {
	rebuild: boolean;
	/** Called once when a build starts, then with each line of build output. */
	onBuildStart?: (tag: string, baseImage: string) => void;
	onProgress?: (line: string) => void;
};

/**
 * Returns the tag of the image for a plan, building it only when no image
 * with the same input hash exists (or when asked to rebuild).
 */
export async function ensureImage(engine: Engine, plan: DependencyPlan, options: EnsureImageOptions): Promise<string> {
	const recipe = imageRecipe(plan);
	if (!options.rebuild && (await engine.findImage(recipe.tag))) {
		return recipe.tag;
	}

	options.onBuildStart?.(recipe.tag, recipe.baseImage);
	try {
		await engine.buildImage({
			tag: recipe.tag,
			labels: {[imageLabels.managed]: 'true', [imageLabels.hash]: recipe.hash, [imageLabels.base]: recipe.baseImage},
			files: recipe.files,
			onProgress: options.onProgress,
		});
	} catch (error) {
		if (error instanceof BuildError) {
			const step = error.failingStep.map(line => `  ${printable(line)}`).join('\n');
			throw new MoatError(
				`Building the image from ${printable(recipe.baseImage)} failed: ${printable(error.message)}\n${step}`,
				`Check dependencies and base_image in agent.yaml; run with -v for the whole build log.`,
				1,
				{cause: error},
			);
		}

		throw error;
	}

	return recipe.tag;
}
