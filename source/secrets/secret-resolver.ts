import {spawn} from 'node:child_process';
import os from 'node:os';
import {
	maximumValueBytes,
	secretError,
	secretLookup,
	secretValueFromOutput,
	unusableValueReason,
	type ProgramLookup,
	type SecretBackend,
	type SecretProblem,
} from './secret-references.js';

/** One secret as read on the host: where it came from, and its value (which goes nowhere but the container). */
export type ResolvedSecret = {backend: SecretBackend; value: string};

/** Reads the secrets agent.yaml names, on the host, when a run starts. */
export type SecretResolver = {
	/**
	 * Reads one secret. Fails with a MoatError that names the secret, its
	 * reference and the fix — never the value.
	 */
	resolve(name: string, reference: string): Promise<ResolvedSecret>;
};

export type SecretResolverOptions = {
	/** How long a CLI may take; `op` may be waiting for the user to approve it in the 1Password app. */
	timeoutMilliseconds?: number;
	/** Where the CLIs run: the user's home, never the workspace (whose files the agent writes). */
	userHome?: string;
};

type ProgramResult =
	| {kind: 'exited'; exitCode: number | null; signal: string | null; stdout: Buffer; stderr: string; tooLarge: boolean}
	| {kind: 'not found'}
	| {kind: 'spawn failed'; detail: string}
	| {kind: 'timed out'};

/**
 * Reads secrets by running the `op` and `aws` CLIs, and from `variables`
 * (moat's environment, which is also theirs: PATH finds them, and their
 * sessions and profiles — OP_SESSION_*, AWS_PROFILE — carry over).
 */
export function createSecretResolver(
	variables: Readonly<Record<string, string | undefined>>,
	{timeoutMilliseconds = 120_000, userHome = os.homedir()}: SecretResolverOptions = {},
): SecretResolver {
	const childEnvironment: Record<string, string> = {};
	for (const [name, value] of Object.entries(variables)) {
		if (value !== undefined) {
			childEnvironment[name] = value;
		}
	}

	// AWS CLI v2 pipes output through a pager (less) by default; with no
	// terminal that pager could wait forever or garble the value.
	childEnvironment.AWS_PAGER = '';

	async function runProgram(lookup: ProgramLookup): Promise<ProgramResult> {
		return new Promise(resolve => {
			let settled = false;
			const settle = (result: ProgramResult) => {
				if (!settled) {
					settled = true;
					clearTimeout(timer);
					resolve(result);
				}
			};

			// No stdin: a CLI that wants to prompt (op asking for a password)
			// fails at once and says so, rather than waiting on a terminal
			// moat is about to hand to the run.
			// Not in the workspace (the agent's to write): a PATH with "." must not find its ./op.
			const child = spawn(lookup.program, [...lookup.args], {env: childEnvironment, cwd: userHome, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true});
			const stdout: Buffer[] = [];
			let stdoutBytes = 0;
			let tooLarge = false;
			let stderr = '';
			child.stdout.on('data', (chunk: Buffer) => {
				stdoutBytes += chunk.length;
				if (stdoutBytes > maximumValueBytes + 2) {
					tooLarge = true;
					return;
				}

				stdout.push(chunk);
			});
			child.stderr.on('data', (chunk: Buffer) => {
				// Enough to explain a failure; a CLI that talks more is cut off.
				if (stderr.length < 16_384) {
					stderr += chunk.toString('utf8');
				}
			});

			const timer = setTimeout(() => {
				child.kill('SIGKILL');
				// A grandchild may still hold the pipes open: answer now, not at 'close'.
				settle({kind: 'timed out'});
			}, timeoutMilliseconds);

			child.once('error', (error: NodeJS.ErrnoException) => {
				settle(error.code === 'ENOENT' ? {kind: 'not found'} : {kind: 'spawn failed', detail: error.code ?? error.message});
			});
			child.once('close', (exitCode, signal) => {
				settle({kind: 'exited', exitCode, signal, stdout: Buffer.concat(stdout), stderr, tooLarge});
			});
		});
	}

	return {
		async resolve(name, reference) {
			const lookup = secretLookup(name, reference);
			const fail = (problem: SecretProblem) => secretError(name, reference, lookup, problem);

			if (lookup.backend === 'env') {
				const value = variables[lookup.variable];
				if (value === undefined) {
					throw fail({kind: 'variable unset'});
				}

				const unusable = unusableValueReason(value);
				if (unusable) {
					throw fail({kind: 'unusable value', reason: unusable});
				}

				return {backend: 'env', value};
			}

			const result = await runProgram(lookup);
			switch (result.kind) {
				case 'not found': {
					throw fail({kind: 'program missing'});
				}

				case 'spawn failed': {
					throw fail({kind: 'program missing', detail: result.detail});
				}

				case 'timed out': {
					throw fail({kind: 'timed out', seconds: timeoutMilliseconds / 1000});
				}

				case 'exited': {
					if (result.exitCode !== 0) {
						throw fail({kind: 'program failed', exitCode: result.exitCode, signal: result.signal, output: result.stderr});
					}

					const value = secretValueFromOutput(result.stdout.toString('utf8'));
					const unusable = result.tooLarge
						? `the value is more than an environment variable can hold (${maximumValueBytes / 1024} KiB)`
						: unusableValueReason(value);
					if (unusable) {
						throw fail({kind: 'unusable value', reason: unusable});
					}

					return {backend: lookup.backend, value};
				}
			}
		},
	};
}
