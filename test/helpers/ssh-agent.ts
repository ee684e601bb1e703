import {spawn, type ChildProcess} from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {findExecutable, installHint, runCommand, runCommandOrThrow} from './ssh-tools.js';
import {waitDeadlineMilliseconds} from './deadline.js';

/** A key pair made by ssh-keygen for a test. */
export type GeneratedKey = {
	/** The OpenSSH private key file; its public half is `${privateKeyFile}.pub`. */
	privateKeyFile: string;
	publicKeyFile: string;
	/** One authorized_keys line: `ssh-ed25519 AAAA… comment`. */
	publicKey: string;
	/** `SHA256:…`, as `ssh-add -l` and `ssh-keygen -l` print it. */
	fingerprint: string;
	comment: string;
};

/**
 * Makes an unencrypted ed25519 key pair named `name` in `directory`
 * (ed25519 because generating it is instant). `name` is also the key's
 * comment, which `ssh-add -l` shows.
 */
export async function generateKey(directory: string, name: string): Promise<GeneratedKey> {
	if (!/^[\w.-]+$/.test(name)) {
		throw new Error(`Key name ${JSON.stringify(name)} must be a plain file name (letters, digits, '.', '_', '-').`);
	}

	const privateKeyFile = path.join(directory, name);
	await runCommandOrThrow('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', privateKeyFile]);
	const publicKeyFile = `${privateKeyFile}.pub`;
	const publicKey = (await fs.readFile(publicKeyFile, 'utf8')).trim();
	return {privateKeyFile, publicKeyFile, publicKey, fingerprint: await fingerprintOf(publicKeyFile), comment: name};
}

/** The `SHA256:…` fingerprint of a public (or private) key file. */
export async function fingerprintOf(keyFile: string): Promise<string> {
	// Prints "256 SHA256:abc… comment (ED25519)".
	const output = await runCommandOrThrow('ssh-keygen', ['-l', '-E', 'sha256', '-f', keyFile]);
	const fingerprint = output.trim().split(/\s+/)[1];
	if (!fingerprint?.startsWith('SHA256:')) {
		throw new Error(`Unexpected ssh-keygen -l output for ${keyFile}: ${output}`);
	}

	return fingerprint;
}

/** A real ssh-agent for a test, listening on a socket in its own directory. */
export type SshAgent = {
	/** The agent's socket: what SSH_AUTH_SOCK names. */
	socket: string;
	/** The agent's temporary directory, which also holds keys made by generateKey. */
	directory: string;
	/** The agent's process id, while it runs. */
	pid: number;
	/** process.env (or `base`) with SSH_AUTH_SOCK pointing at this agent and no SSH_AGENT_PID. */
	environment(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
	/** generateKey into this agent's directory; the key is not added. */
	generateKey(name: string): Promise<GeneratedKey>;
	/** `ssh-add FILE` against this agent. */
	addKey(privateKeyFile: string): Promise<void>;
	/** `ssh-add -d FILE` (needs FILE.pub next to it, as generateKey leaves it). */
	removeKey(privateKeyFile: string): Promise<void>;
	/** `ssh-add -D`. */
	removeAllKeys(): Promise<void>;
	/** Fingerprints of the keys the agent holds, from `ssh-add -l`. */
	listFingerprints(): Promise<string[]>;
	/**
	 * Stops the agent but keeps its directory and keys. SIGTERM (the
	 * default) lets ssh-agent remove its socket, so clients get ENOENT;
	 * SIGKILL leaves a stale socket file behind, so clients get
	 * ECONNREFUSED. Both are ways a real agent "goes away".
	 */
	stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
	/** Stops the agent and removes its directory. */
	close(): Promise<void>;
};

async function waitForExit(child: ChildProcess, timeoutMilliseconds = 5000): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) {
		return;
	}

	await new Promise<void>(resolve => {
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
		}, timeoutMilliseconds);
		child.once('exit', () => {
			clearTimeout(timer);
			resolve();
		});
	});
}

async function canConnect(socket: string): Promise<boolean> {
	return new Promise(resolve => {
		const connection = net.createConnection(socket);
		connection.once('connect', () => {
			connection.destroy();
			resolve(true);
		});
		connection.once('error', () => {
			resolve(false);
		});
	});
}

/**
 * Starts `ssh-agent -D -a SOCKET` as a child process and waits until its
 * socket accepts connections.
 */
export async function startSshAgent(options: {timeoutMilliseconds?: number} = {}): Promise<SshAgent> {
	if (!findExecutable('ssh-agent')) {
		throw new Error(`ssh-agent is not installed. Install it with \`${installHint(['ssh-agent'])}\`.`);
	}

	// A unix socket path is limited to about 108 bytes, so the directory is
	// kept short rather than nested deep in a test's own temp tree.
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-ssh-agent-'));
	const socket = path.join(directory, 'agent.sock');
	// -D keeps it in the foreground (no fork, so it is our child and dies
	// when we kill it); -a puts the socket where we say instead of a random
	// /tmp/ssh-XXXX directory.
	const child = spawn('ssh-agent', ['-D', '-a', socket], {stdio: ['ignore', 'pipe', 'pipe']});
	let output = '';
	child.stdout.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	child.stderr.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	// If the test process dies without close(), the agent must not outlive it.
	const killOnExit = () => {
		child.kill('SIGKILL');
	};

	process.once('exit', killOnExit);
	const exited = new Promise<void>(resolve => {
		child.once('exit', () => {
			process.off('exit', killOnExit);
			resolve();
		});
	});

	const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill(signal);
		}

		await waitForExit(child);
	};

	try {
		const deadline = Date.now() + (options.timeoutMilliseconds ?? waitDeadlineMilliseconds);
		for (;;) {
			if (await canConnect(socket)) {
				break;
			}

			if (child.exitCode !== null || child.signalCode !== null) {
				throw new Error(`ssh-agent exited before listening on ${socket}: ${output.trim()}`);
			}

			if (Date.now() > deadline) {
				throw new Error(`ssh-agent did not listen on ${socket} in time: ${output.trim()}`);
			}

			await Promise.race([exited, new Promise(resolve => {
				setTimeout(resolve, 20);
			})]);
		}
	} catch (error) {
		await stop('SIGKILL');
		await fs.rm(directory, {recursive: true, force: true});
		throw error;
	}

	const environment = (base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => {
		const variables: NodeJS.ProcessEnv = {...base, SSH_AUTH_SOCK: socket};
		delete variables.SSH_AGENT_PID;
		// No askpass dialogs: the keys have no passphrase, and a prompt would hang.
		delete variables.SSH_ASKPASS;
		delete variables.DISPLAY;
		return variables;
	};

	const sshAdd = async (...args: string[]) => runCommandOrThrow('ssh-add', args, {env: environment()});

	return {
		socket,
		directory,
		pid: child.pid!,
		environment,
		async generateKey(name) {
			return generateKey(directory, name);
		},
		async addKey(privateKeyFile) {
			await sshAdd('-q', privateKeyFile);
		},
		async removeKey(privateKeyFile) {
			await sshAdd('-q', '-d', privateKeyFile);
		},
		async removeAllKeys() {
			await sshAdd('-q', '-D');
		},
		async listFingerprints() {
			// `ssh-add -l` exits 1 with "The agent has no identities." when empty.
			const result = await runCommand('ssh-add', ['-l', '-E', 'sha256'], {env: environment()});
			if (result.exitCode === 1 && /no identities/i.test(result.stdout + result.stderr)) {
				return [];
			}

			if (result.exitCode !== 0) {
				throw new Error(`ssh-add -l exited with ${result.exitCode}: ${result.stderr.trim()}`);
			}

			return result.stdout.trim().split('\n').map(line => line.split(/\s+/)[1]!).filter(Boolean);
		},
		stop,
		async close() {
			await stop();
			await fs.rm(directory, {recursive: true, force: true});
		},
	};
}
