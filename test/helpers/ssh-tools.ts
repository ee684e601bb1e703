import {execFile} from 'node:child_process';
import {accessSync, constants} from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import {waitDeadlineMilliseconds} from './deadline.js';

/**
 * Where Debian's openssh-server puts the daemon. sshd refuses to re-exec
 * itself unless started by absolute path, so the helpers never look it up
 * on PATH.
 */
export const sshdPath = '/usr/sbin/sshd';

/** Host programs the SSH fixtures drive, and the Debian package that has each. */
export const sshTools = {
	[sshdPath]: 'openssh-server',
	ssh: 'openssh-client',
	'ssh-agent': 'openssh-client',
	'ssh-add': 'openssh-client',
	'ssh-keygen': 'openssh-client',
	git: 'git',
} as const;

export type SshTool = keyof typeof sshTools;

function isExecutable(file: string): boolean {
	try {
		accessSync(file, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/** The absolute path of `name` (searched on PATH unless already absolute), or undefined. */
export function findExecutable(name: string, searchPath: string = process.env.PATH ?? ''): string | undefined {
	if (path.isAbsolute(name)) {
		return isExecutable(name) ? name : undefined;
	}

	return searchPath.split(path.delimiter).filter(Boolean).map(directory => path.join(directory, name)).find(file => isExecutable(file));
}

/** The tools among `tools` that this machine lacks. */
export function missingSshTools(tools: readonly SshTool[] = Object.keys(sshTools) as SshTool[]): SshTool[] {
	return tools.filter(tool => findExecutable(tool) === undefined);
}

/** What to tell someone whose machine lacks `tools`. */
export function installHint(tools: readonly SshTool[]): string {
	const packages = [...new Set(tools.map(tool => sshTools[tool]))];
	return `apt-get install -y ${packages.join(' ')}`;
}

export type CommandResult = {exitCode: number; stdout: string; stderr: string};

/**
 * Runs `file` and resolves with its exit code and output whatever the exit
 * code, so tests can assert on failures (a refused login) as easily as on
 * successes. Rejects only when the program cannot be started or times out.
 */
export async function runCommand(file: string, args: readonly string[], options: {env?: NodeJS.ProcessEnv; cwd?: string; timeoutMilliseconds?: number; input?: string} = {}): Promise<CommandResult> {
	return new Promise((resolve, reject) => {
		const child = execFile(file, args, {env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMilliseconds ?? waitDeadlineMilliseconds, maxBuffer: 16 * 1024 * 1024}, (error, stdout, stderr) => {
			if (error && typeof error.code !== 'number') {
				reject(new Error(`${file} ${args.join(' ')} did not run to completion: ${error.message}`, {cause: error}));
				return;
			}

			resolve({exitCode: error ? Number(error.code) : 0, stdout, stderr});
		});
		// A program that exits without reading its input (ssh-keygen, a
		// refused ssh) closes the pipe; that EPIPE is not the caller's error.
		child.stdin?.on('error', () => {});
		child.stdin?.end(options.input ?? '');
	});
}

/** Like runCommand, but a non-zero exit is an error that carries the program's stderr. */
export async function runCommandOrThrow(file: string, args: readonly string[], options: Parameters<typeof runCommand>[2] = {}): Promise<string> {
	const result = await runCommand(file, args, options);
	if (result.exitCode !== 0) {
		throw new Error(`${file} ${args.join(' ')} exited with ${result.exitCode}: ${result.stderr.trim() || result.stdout.trim()}`);
	}

	return result.stdout;
}
