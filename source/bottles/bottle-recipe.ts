import type {Grant} from '../credentials/grant.js';
import type {MoatEnvironment} from '../environment.js';
import type {Reporter, RunService} from '../runs/run-service.js';
import type {AgentSetup} from './run-launcher.js';

/** What the agent is asked to do: `moat claude` / `moat codex` flags, or the dashboard's dialog. */
export type AgentOptions = {
	/** One question or task, answered headless (the run streams its output and ends). */
	prompt?: string;
	/** Continue the workspace's latest conversation. */
	continue?: boolean;
	/** Resume a conversation ('' for the agent's own picker, where it has one). */
	resume?: string;
	/** Keep the agent's own permission prompts and sandbox. */
	noyolo?: boolean;
};

/** What a recipe may read while it prepares a bottle. */
export type RecipeContext = {
	environment: MoatEnvironment;
	reporter: Reporter;
	/** The runs (for conversations named by the run that had them). */
	runs: Pick<RunService, 'list' | 'find'>;
	/** A stored grant by name, secret included; undefined when there is none. */
	loadGrant(name: string): Promise<Grant | undefined>;
};

/** The run's user and workspace, known once the workspace is checked, with the grants chosen. */
export type BottleOwner = {workspace: string; uid: number; gid: number; grants: readonly string[]};

/**
 * One kind of bottle as data the bottle module reads: which agent it is,
 * which grants it can sign in with, the command it runs, and the state it
 * prepares. Adding an agent is one file like claude-recipe.ts plus its line
 * in bottle-recipes.ts and its name in bottle-kinds.ts.
 */
export type BottleRecipe = {
	/** Recorded on the run; undefined for a plain shell. */
	agent: string | undefined;
	/** The grants it signs in with, the preferred first; empty when it needs none. */
	signInGrants: readonly string[];
	/** Said (exit 4) when none of signInGrants is stored. */
	missingGrant?: {message: string; hint: string};
	/** Whether it takes the terminal: always (a shell), or unless a prompt makes it headless. */
	terminal: 'always' | 'unless-headless';
	/**
	 * Checks the options against moat's state before anything starts and
	 * returns them as the agent takes them (a run name for -r becomes the
	 * session id). Throws a MoatError for what the user must fix.
	 */
	resolve?(options: AgentOptions, workspace: string, context: RecipeContext): Promise<AgentOptions>;
	/** The command: `extra` is what the user put after `--` (a first message, or the agent's own flags). */
	command(options: AgentOptions, extra: readonly string[]): string[];
	/** The agent's binary, state and variables for this workspace and user. */
	prepare?(owner: BottleOwner, context: RecipeContext): Promise<AgentSetup>;
};
