import {execFile} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type {MoatEnvironment} from '../environment.js';
import {MoatError, usageError} from '../errors.js';
import {withFileLock} from '../runs/capture-lock.js';
import {npmCpu, versionPattern, type AgentPackage} from './agent-packages.js';

/**
 * Agent packages installed once per version on the host, under
 * `$MOAT_CACHE_DIR` (default `~/.cache/moat`), shared by every MOAT_HOME:
 * `agents/<package>@<version>/`. An install goes to a temporary folder and
 * is renamed into place whole, under a lock, so a bottle never mounts half
 * an install and two moat processes never install the same one twice.
 */
export function agentCacheDirectory(environment: MoatEnvironment): string {
	const configured = environment.variables.MOAT_CACHE_DIR;
	return configured ? path.resolve(configured) : path.join(environment.variables.XDG_CACHE_HOME ?? path.join(environment.userHome, '.cache'), 'moat');
}

export function agentVersion(environment: MoatEnvironment, agent: AgentPackage): string {
	const version = environment.variables[agent.versionVariable] ?? agent.version;
	if (!versionPattern.test(version)) {
		throw usageError(`${agent.versionVariable}=${version} is not a version.`, `Set it to a version such as ${agent.version}, or unset it.`);
	}

	return version;
}

function npm(args: readonly string[], variables: Readonly<Record<string, string | undefined>>): Promise<{stdout: string; stderr: string}> {
	return new Promise((resolve, reject) => {
		execFile('npm', [...args], {env: variables as NodeJS.ProcessEnv, timeout: 600_000, maxBuffer: 16 * 1024 * 1024}, (error, stdout, stderr) => {
			if (error) {
				reject(Object.assign(error, {stderr}));
			} else {
				resolve({stdout, stderr});
			}
		});
	});
}

/** The installed prefix of `agent` (installing it first if needed); its binary is `agent.binary` inside. */
export async function ensureAgentPackage(environment: MoatEnvironment, agent: AgentPackage, progress: (message: string) => void): Promise<string> {
	const version = agentVersion(environment, agent);
	const root = path.join(agentCacheDirectory(environment), 'agents');
	const directory = path.join(root, `${agent.packageName.replace('/', '+')}@${version}`);
	const installed = async () => fs.access(path.join(directory, agent.binary)).then(() => true, () => false);
	if (await installed()) {
		return directory;
	}

	await fs.mkdir(root, {recursive: true, mode: 0o755});
	return withFileLock(`${directory}.lock`, async () => {
		if (await installed()) {
			return directory;
		}

		progress(`Installing ${agent.title} ${version} for bottles (once; into ${directory})…`);
		const temporary = `${directory}.${process.pid}.${randomBytes(4).toString('hex')}`;
		await fs.mkdir(temporary, {recursive: true});
		try {
			await npm(['install', '--prefix', temporary, '--no-audit', '--no-fund', '--no-save', '--os=linux', `--cpu=${npmCpu(os.arch())}`, `${agent.packageName}@${version}`], environment.variables);
			await fs.access(path.join(temporary, agent.binary));
			// Everyone in the bottle (whatever UID it runs as) must be able to read and run it.
			await fs.chmod(temporary, 0o755);
			await fs.rename(temporary, directory);
			progress(`Installed ${agent.title} ${version}.`);
			return directory;
		} catch (error) {
			await fs.rm(temporary, {recursive: true, force: true});
			const detail = ((error as {stderr?: string}).stderr ?? (error as Error).message).trim().split('\n').filter(line => !/^npm warn/i.test(line)).slice(-3).join(' ');
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
				throw new MoatError(`Installing ${agent.title} needs npm, and there is no npm on PATH.`, 'Install Node.js with npm (20.19 or newer), then try again.');
			}

			throw new MoatError(`Could not install ${agent.packageName}@${version}: ${detail}`, `Check that npm can reach its registry (npm ping), or pin another version with ${agent.versionVariable}.`, 1, {cause: error});
		}
	});
}
