/**
 * The kinds of bottle moat starts, and the grants each signs in with,
 * preferred first: the one fact about a recipe that the new-bottle dialog
 * needs, kept apart from the recipes so the dashboard draws without loading
 * them (they bring the agent cache, the image plans and the config parser).
 * Each recipe in bottle-recipes.ts is registered under one of these names.
 */
export const bottleKinds = {
	claude: {signInGrants: ['claude', 'anthropic']},
	codex: {signInGrants: ['openai']},
	shell: {signInGrants: []},
} as const satisfies Record<string, {signInGrants: readonly string[]}>;

export type RecipeName = keyof typeof bottleKinds;
