import {execFile, spawn, type ChildProcess} from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {waitDeadlineMilliseconds} from './deadline.js';

/** The built CLI, run exactly as a user's `moat` would be. */
export const cliPath = fileURLToPath(new URL('../../source/moat.js', import.meta.url));

export type MoatResult = {code: number; stdout: string; stderr: string};

export type Sandbox = {
	moatHome: string;
	userHome: string;
	env: Record<string, string>;
	cleanup(): Promise<void>;
};

/**
 * Stops the daemon a test's runs started (its PID is in daemon.lock), so
 * none outlives its MOAT_HOME.
 */
export async function stopDaemonOf(moatHome: string): Promise<void> {
	const pid = Number(await fs.readFile(path.join(moatHome, 'daemon.lock'), 'utf8').catch(() => ''));
	if (!Number.isInteger(pid) || pid <= 0) {
		return;
	}

	try {
		process.kill(pid, 'SIGTERM');
	} catch {
		return;
	}

	const deadline = Date.now() + waitDeadlineMilliseconds;
	while (Date.now() < deadline) {
		try {
			process.kill(pid, 0);
		} catch {
			return;
		}

		await new Promise(resolve => {
			setTimeout(resolve, 50);
		});
	}
}

/**
 * Removes what moat made in the engine for one MOAT_HOME: its gateway (which
 * outlives the daemon on purpose, to keep the next start quick), leftover
 * bottles and the networks. Each test's home has its own.
 */
export async function removeEngineObjectsOf(moatHome: string, env: Record<string, string>): Promise<void> {
	const run = async (...args: string[]) => (await execFileAsync('docker', args, {env}).catch(() => ({stdout: ''}))).stdout.trim();
	const containers = (await run('ps', '-aq', '--filter', `label=moat.home=${moatHome}`)).split('\n').filter(Boolean);
	if (containers.length > 0) {
		await run('rm', '-f', ...containers);
	}

	const networks = (await run('network', 'ls', '-q', '--filter', `label=moat.home=${moatHome}`)).split('\n').filter(Boolean);
	if (networks.length > 0) {
		await run('network', 'rm', ...networks);
	}
}

/** A private MOAT_HOME and HOME for one test. */
export async function createSandbox(): Promise<Sandbox> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-test-'));
	const moatHome = path.join(root, 'moat-home');
	const userHome = path.join(root, 'home');
	await fs.mkdir(userHome);
	const env: Record<string, string> = {...(process.env as Record<string, string>), MOAT_HOME: moatHome, HOME: userHome};
	delete env.MOAT_REQUIRE_DOCKER;
	return {
		moatHome,
		userHome,
		env,
		async cleanup() {
			await stopDaemonOf(moatHome);
			await removeEngineObjectsOf(moatHome, env);
			await fs.rm(root, {recursive: true, force: true});
		},
	};
}

/** A workspace directory owned by `uid` (tests run as root here). */
export async function createWorkspace(uid = 1000, gid = uid, files: Record<string, string> = {}): Promise<string> {
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-workspace-'));
	for (const [name, content] of Object.entries(files)) {
		await fs.writeFile(path.join(directory, name), content);
	}

	await fs.chown(directory, uid, gid);
	return directory;
}

export function spawnMoat(args: readonly string[], options: {env: Record<string, string>; cwd?: string}): ChildProcess {
	return spawn(process.execPath, [cliPath, ...args], {env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe']});
}

/** Runs moat to completion and collects its output. */
export async function moat(args: readonly string[], options: {env: Record<string, string>; cwd?: string}): Promise<MoatResult> {
	const child = spawnMoat(args, options);
	return collect(child);
}

export async function collect(child: ChildProcess): Promise<MoatResult> {
	let stdout = '';
	let stderr = '';
	child.stdout?.on('data', (chunk: Buffer) => {
		stdout += chunk.toString();
	});
	child.stderr?.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	return new Promise((resolve, reject) => {
		child.on('error', reject);
		child.on('close', (code, signal) => {
			resolve({code: code ?? (signal ? 128 : -1), stdout, stderr});
		});
	});
}

/** Resolves once the child has printed `text` on stdout or stderr. */
export async function waitForOutput(child: ChildProcess, text: string): Promise<void> {
	let seen = '';
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			reject(new Error(`timed out waiting for ${JSON.stringify(text)}; saw ${JSON.stringify(seen)}`));
		}, waitDeadlineMilliseconds);
		const check = (chunk: Buffer) => {
			seen += chunk.toString();
			if (seen.includes(text)) {
				clearTimeout(timer);
				resolve();
			}
		};

		child.stdout?.on('data', check);
		child.stderr?.on('data', check);
	});
}

const execFileAsync = promisify(execFile);

/** The real docker CLI, for changing things behind moat's back. */
export async function docker(...args: string[]): Promise<string> {
	const {stdout} = await execFileAsync('docker', args);
	return stdout.trim();
}

export async function readJson<T>(file: string): Promise<T> {
	return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/** Polls `condition` until it holds; fails after a deadline a loaded machine meets. */
export async function eventually(condition: () => Promise<boolean>): Promise<void> {
	const deadline = Date.now() + waitDeadlineMilliseconds;
	while (Date.now() < deadline) {
		if (await condition()) {
			return;
		}

		await new Promise(resolve => {
			setTimeout(resolve, 100);
		});
	}

	throw new Error(`condition did not hold in ${waitDeadlineMilliseconds / 1000} s`);
}

/** An audit entry as tests read it. */
export type AuditRecord = {seq: number; type: string; data: Record<string, unknown>};

/** The lines of a JSONL file under a run (network.jsonl, audit/entries.jsonl); none when it is missing. */
async function runJsonLines<T>(moatHome: string, runId: string, ...file: string[]): Promise<T[]> {
	const text = await fs.readFile(path.join(moatHome, 'runs', runId, ...file), 'utf8').catch(() => '');
	return text.split('\n').filter(Boolean).map(line => JSON.parse(line) as T);
}

export async function networkEntriesOf<T>(moatHome: string, runId: string): Promise<T[]> {
	return runJsonLines<T>(moatHome, runId, 'network.jsonl');
}

export async function auditRecordsOf(moatHome: string, runId: string): Promise<AuditRecord[]> {
	return runJsonLines<AuditRecord>(moatHome, runId, 'audit', 'entries.jsonl');
}

/** `moat list --json`, parsed. */
export async function listRuns<T>(env: Record<string, string>): Promise<T[]> {
	const result = await moat(['list', '--json'], {env});
	return JSON.parse(result.stdout || '[]') as T[];
}

/** Destroys every run of a MOAT_HOME, so a test leaves no containers behind whatever it did. */
export async function destroyRuns(env: Record<string, string>): Promise<void> {
	for (const run of await listRuns<{id: string}>(env).catch(() => [])) {
		await moat(['destroy', '-f', run.id], {env});
	}
}

/** The daemon's PID from daemon.lock (0 when there is none). */
export async function daemonPidOf(moatHome: string): Promise<number> {
	return Number(await fs.readFile(path.join(moatHome, 'daemon.lock'), 'utf8').catch(() => '0'));
}

export function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** A TCP port nothing listens on right now (for MOAT_ROUTER_PORT and the like). */
export async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const {port} = server.address() as net.AddressInfo;
			server.close(() => {
				resolve(port);
			});
		});
	});
}
