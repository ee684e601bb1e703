import type {Bottles} from '../bottles/bottles.js';
import type {GrantService} from '../credentials/grant-service.js';
import type {Engine} from '../engine/engine.js';
import type {MoatEnvironment} from '../environment.js';
import type {Reporter, RunService} from '../runs/run-service.js';
import type {RunStore} from '../runs/run-store.js';

/** A writable text stream: process.stdout in the CLI, a buffer in tests. */
export type Output = {write(text: string | Uint8Array): unknown; isTTY?: boolean};

/** Everything a command may use, built once by the composition root. */
export type CommandContext = {
	/** Positional arguments after the command name. */
	input: string[];
	/** Arguments after `--`. */
	rest: string[];
	flags: Record<string, unknown>;
	environment: MoatEnvironment;
	stdout: Output;
	stderr: Output;
	stdinIsTTY: boolean;
	cwd: string;
	reporter: Reporter;
	/** Built on first use so commands that never touch Docker work without it. */
	services(): Promise<{engine: Engine; store: RunStore; runs: RunService; bottles: Bottles}>;
	/** Resolves when the user interrupts (Ctrl+C); each call waits for the next one. */
	nextInterrupt(): Promise<void>;
	/** Asks a yes/no question on the terminal. */
	confirm(question: string): Promise<boolean>;
	/** Runs the interactive grant wizard (an Ink UI, so the composition root provides it). */
	openGrantWizard(service: GrantService): Promise<number>;
};

export type FlagDefinition = {
	type: 'string' | 'boolean' | 'number';
	shortFlag?: string;
	isMultiple?: boolean;
	aliases?: string[];
	/** A string flag that may also stand alone (`-r` as well as `-r ID`): alone, its value is ''. */
	optionalValue?: boolean;
};

/**
 * A command as `moat --help` lists it, known without loading the command:
 * the registry (commands/index.ts) holds one per command, and only the
 * command asked for is loaded, so a start pays for what it uses and no more.
 */
export type CommandEntry = {
	name: string;
	aliases?: string[];
	/** Left out of `moat --help` (internal entry points). */
	hidden?: boolean;
	/** One line for the command list. */
	summary: string;
	/** Imports the command's module: its help, flags and run. */
	load(): Promise<Command>;
};

/** A command itself, in its own module, loaded when it is the one asked for. */
export type Command = {
	/** Usage and flags, shown by `moat <command> --help`. */
	help: string;
	flags: Record<string, FlagDefinition>;
	/**
	 * The words it takes besides flags, by name, as its usage writes them;
	 * more is a usage error before it runs. Absent: the command checks its
	 * own (a subcommand, a path and a command after it).
	 */
	operands?: readonly string[];
	/** Returns the exit code. */
	run(context: CommandContext): Promise<number>;
};
