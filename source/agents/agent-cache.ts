import {execFile} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {MoatError, usageError} from '../errors.js';
import {withFileLock} from '../files/file-lock.js';
import {elfMachines, npmCpu, versionPattern, type AgentPackage} from './agent-packages.js';
import {printable} from '../text/printable.js';

/**
 * Agent packages installed once per version and CPU on the host, under
 * `$MOAT_CACHE_DIR` (default `~/.cache/moat`), shared by every MOAT_HOME:
 * `agents/<package>@<version>-linux-<cpu>/`. npm installs the Linux
 * platform package with scripts off (nothing from the package runs on the
 * host), into a temporary folder that is checked (a Linux executable for
 * that CPU), opened to every user and renamed into place whole, under a
 * lock: a bottle never mounts half an install, and two moat processes never
 * install the same one twice.
 */
export function agentCacheDirectory(environment: MoatEnvironment): string {
	const configured = environment.variables[environmentVariables.cacheDirectory];
	if (configured) {
		return path.resolve(configured);
	}

	const xdg = environment.variables[environmentVariables.xdgCacheHome];
	return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(environment.userHome, '.cache'), 'moat');
}

export function agentVersion(environment: MoatEnvironment, agent: AgentPackage): string {
	const version = environment.variables[agent.versionVariable] ?? agent.version;
	if (!versionPattern.test(version)) {
		throw usageError(`${agent.versionVariable}=${printable(version)} is not a version.`, `Set it to a version such as ${agent.version}, or unset it.`);
	}

	return version;
}

function npm(args: readonly string[], variables: Readonly<Record<string, string | undefined>>): Promise<{stdout: string; stderr: string}> {
	return new Promise((resolve, reject) => {
		execFile('npm', [...args], {env: variables as NodeJS.ProcessEnv, timeout: 1_800_000, maxBuffer: 16 * 1024 * 1024}, (error, stdout, stderr) => {
			if (error) {
				// eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an Error; @types/node builds ExecFileException with Omit<>, which hides that
				reject(Object.assign(error, {stderr, npmFailed: true}));
			} else {
				resolve({stdout, stderr});
			}
		});
	});
}

/** Readable and runnable by whatever UID the bottle's user has, whatever the umask was. */
async function openToEveryone(target: string): Promise<void> {
	const stat = await fs.lstat(target);
	if (stat.isSymbolicLink()) {
		return;
	}

	await fs.chmod(target, stat.mode | (stat.isDirectory() || (stat.mode & 0o100) !== 0 ? 0o555 : 0o444));
	if (stat.isDirectory()) {
		for (const entry of await fs.readdir(target)) {
			await openToEveryone(path.join(target, entry));
		}
	}
}

/** An ELF executable for the CPU, not a stub or a script. */
async function checkExecutable(file: string, cpu: string): Promise<void> {
	const handle = await fs.open(file, 'r');
	try {
		const header = Buffer.alloc(20);
		await handle.read(header, 0, 20, 0);
		if (header.subarray(0, 4).toString('latin1') !== '\u007FELF' || header.readUInt16LE(18) !== elfMachines[cpu]) {
			throw new Error(`${file} is not a Linux ${cpu} executable`);
		}
	} finally {
		await handle.close();
	}
}

/** The installed prefix of `agent` (installing it first if needed); its binary is `agent.binary(cpu)` inside. */
export async function ensureAgentPackage(environment: MoatEnvironment, agent: AgentPackage, progress: (message: string) => void): Promise<{directory: string; binary: string}> {
	const version = agentVersion(environment, agent);
	const cpu = npmCpu(os.arch());
	const root = path.join(agentCacheDirectory(environment), 'agents');
	const name = `${agent.packageName.replace('/', '+')}@${version}-linux-${cpu}`;
	const directory = path.join(root, name);
	const result = {directory, binary: agent.binary(cpu)};
	const marker = path.join(directory, '.moat-installed');
	const installed = async () => fs.access(marker).then(() => true, () => false);
	if (await installed()) {
		return result;
	}

	await fs.mkdir(root, {recursive: true, mode: 0o755});
	let waited = false;
	const waiting = setTimeout(() => {
		waited = true;
		progress(`Waiting for another moat process to finish installing ${agent.title} ${version}…`);
	}, 1000);
	try {
		return await withFileLock(`${directory}.lock`, async () => {
			clearTimeout(waiting);
			if (await installed()) {
				return result;
			}

			// Installs cut short (Ctrl+C, a crash) leave temporary folders: sweep them under the lock.
			for (const entry of await fs.readdir(root)) {
				if (entry.startsWith(`${name}.`) && !entry.endsWith('.lock')) {
					await fs.rm(path.join(root, entry), {recursive: true, force: true});
				}
			}

			await fs.rm(directory, {recursive: true, force: true});
			progress(`Installing ${agent.title} ${version} for bottles (once, about 400 MB from npm, into ${directory})…`);
			const temporary = `${directory}.${process.pid}.${randomBytes(4).toString('hex')}`;
			await fs.mkdir(temporary, {recursive: true});
			try {
				await npm(['install', '--prefix', temporary, '--no-audit', '--no-fund', '--no-save', '--ignore-scripts', '--os=linux', `--cpu=${cpu}`, '--libc=glibc', `${agent.packageName}@${version}`], environment.variables);
				await checkExecutable(path.join(temporary, result.binary), cpu);
				await openToEveryone(temporary);
				await fs.writeFile(path.join(temporary, '.moat-installed'), `${agent.packageName}@${version} linux-${cpu}\n`, {mode: 0o644});
				await fs.rename(temporary, directory);
				progress(`Installed ${agent.title} ${version}.`);
				return result;
			} catch (error) {
				await fs.rm(temporary, {recursive: true, force: true});
				if ((error as NodeJS.ErrnoException).code === 'ENOENT' && (error as {npmFailed?: boolean}).npmFailed) {
					throw new MoatError(`Installing ${agent.title} needs npm, and there is no npm on PATH.`, 'Install Node.js with npm (20.19 or newer), then try again.');
				}

				const detail = ((error as {stderr?: string}).stderr || (error as Error).message).trim().split('\n').filter(line => !/^npm warn/i.test(line)).slice(-3).join(' ');
				throw new MoatError(`Could not install ${agent.packageName}@${version} for linux-${cpu}: ${printable(detail) || 'npm stopped without saying why'}`, `Check that npm can reach its registry (npm ping), or pin another version with ${agent.versionVariable}.`, 1, {cause: error});
			}
		});
	} finally {
		clearTimeout(waiting);
		if (waited) {
			progress(`${agent.title} ${version} is ready.`);
		}
	}
}
