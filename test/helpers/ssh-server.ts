import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {installHint, runCommandOrThrow, sshdPath} from './ssh-tools.js';
import {waitDeadlineMilliseconds} from './deadline.js';

export type HostKeyType = 'ed25519' | 'ecdsa';

export type SshServerOptions = {
	/** authorized_keys lines (`ssh-ed25519 AAAA… comment`, options allowed) the login user may log in with. */
	authorizedKeys: readonly string[];
	/** The address to listen on; known_hosts entries name it too. Defaults to 127.0.0.1. */
	host?: string;
	/** Host key types to generate, each a fresh key. Defaults to ed25519 only. */
	hostKeyTypes?: readonly HostKeyType[];
	/** More sshd_config lines (MaxAuthTries 2, LogLevel DEBUG3, Match blocks, …); they win over the defaults. */
	extraConfiguration?: readonly string[];
	timeoutMilliseconds?: number;
};

/** A real OpenSSH server for one test, running as the current user. */
export type SshServer = {
	host: string;
	port: number;
	/** The only user who can log in: whoever runs the tests (sshd cannot switch users unless it is root). */
	user: string;
	/** `user@host`, for ssh's destination argument. */
	destination: string;
	/** Public host keys in known_hosts form without a host: `ssh-ed25519 AAAA…`. */
	hostKeys: string[];
	/** The private host key files sshd was given. */
	hostKeyFiles: string[];
	/** known_hosts content naming this server: `[127.0.0.1]:PORT ssh-ed25519 AAAA…` lines. */
	knownHosts: string;
	/** A file holding `knownHosts`. */
	knownHostsFile: string;
	authorizedKeysFile: string;
	/** sshd's own log (LogLevel VERBOSE): accepted and refused keys are listed here. */
	logFile: string;
	/** The server's temporary directory (config, keys, pid file, log). */
	directory: string;
	/**
	 * ssh options that trust exactly this server's host keys and ignore the
	 * user's ssh config and known_hosts; BatchMode so a refused key fails
	 * instead of prompting. Add `-p PORT` and a destination.
	 */
	clientOptions: string[];
	/** A GIT_SSH_COMMAND value with clientOptions (git adds -p itself from the URL). */
	gitSshCommand: string;
	/** `ssh://user@host:port/ABSOLUTE/PATH` for a repository on this machine. */
	repositoryUrl(absolutePath: string): string;
	/** Replaces authorized_keys; sshd rereads it on every login attempt, so no restart is needed. */
	setAuthorizedKeys(keys: readonly string[]): Promise<void>;
	/** The log so far, for assertions and failure messages. */
	log(): Promise<string>;
	/** Stops sshd (and with it new logins) and removes the directory. */
	close(): Promise<void>;
};

function shellQuote(word: string): string {
	return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll('\'', String.raw`'\''`)}'`;
}

async function freePort(host: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, host, () => {
			const {port} = server.address() as net.AddressInfo;
			server.close(() => {
				resolve(port);
			});
		});
	});
}

function knownHostsName(host: string, port: number): string {
	return port === 22 ? host : `[${host}]:${port}`;
}

function sshdConfiguration(options: {directory: string; host: string; port: number; hostKeyFiles: readonly string[]; authorizedKeysFile: string; extra: readonly string[]}): string {
	// For most keywords sshd keeps the first value it reads, so the caller's
	// lines go before the defaults to override them, except a Match block,
	// which runs to the end of the file and so must come last.
	const firstMatch = options.extra.findIndex(line => /^\s*match\s/i.test(line));
	const overrides = firstMatch === -1 ? options.extra : options.extra.slice(0, firstMatch);
	const matchBlocks = firstMatch === -1 ? [] : options.extra.slice(firstMatch);
	return [
		...overrides,
		`ListenAddress ${options.host}:${options.port}`,
		...options.hostKeyFiles.map(file => `HostKey ${file}`),
		`PidFile ${path.join(options.directory, 'sshd.pid')}`,
		`AuthorizedKeysFile ${options.authorizedKeysFile}`,
		// Only keys get in. PAM is off because sshd not running as root cannot
		// use it, and running as root it would consult the machine's policy.
		'UsePAM no',
		'PubkeyAuthentication yes',
		'PasswordAuthentication no',
		'KbdInteractiveAuthentication no',
		'HostbasedAuthentication no',
		'GSSAPIAuthentication no',
		// Tests run as root on CI; root may log in, but only by key.
		'PermitRootLogin prohibit-password',
		// The temp directory's owner and modes are not what sshd demands of a home directory.
		'StrictModes no',
		// Reverse lookups of 127.0.0.1 only add delays.
		'UseDNS no',
		// The user's ~/.ssh/rc must not run inside test sessions.
		'PermitUserRC no',
		'PrintMotd no',
		'PrintLastLog no',
		'X11Forwarding no',
		'AllowAgentForwarding yes',
		'AllowTcpForwarding yes',
		'Subsystem sftp internal-sftp',
		'LoginGraceTime 30',
		// Parallel test connections must not be throttled as an attack.
		'MaxStartups 100',
		'LogLevel VERBOSE',
		...matchBlocks,
		'',
	].join('\n');
}

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

async function readIfPresent(file: string): Promise<string> {
	try {
		return await fs.readFile(file, 'utf8');
	} catch {
		return '';
	}
}

/**
 * Without PAM, sshd refuses even key logins to an account whose password
 * field starts with '!' ("User root not allowed because account is locked"
 * in its log, "Permission denied (publickey)" at the client). Some images
 * lock root that way; say so up front rather than fail every login. Only
 * root can read /etc/shadow, and only a root sshd reads it: an sshd run by
 * an ordinary user cannot, and does not apply this check to a real user.
 */
async function assertAccountNotLocked(user: string, shadowFile = '/etc/shadow'): Promise<void> {
	const entry = (await readIfPresent(shadowFile)).split('\n').find(line => line.startsWith(`${user}:`));
	const password = entry?.split(':')[1] ?? '';
	if (password.startsWith('!')) {
		throw new Error(`sshd will refuse every login as ${user}: the account is locked (its password field in ${shadowFile} starts with '!'), and the test sshd runs without PAM. Unlock it for key logins with \`usermod -p '*' ${user}\`.`);
	}
}

type StartAttempt = {child: ChildProcess; port: number} | {portTaken: true};

/**
 * Starts sshd on `port` and waits until its log says it listens. The free
 * port was only free when we looked; if another process took it meanwhile
 * the caller tries again with a new one.
 */
async function startOnce(configurationFile: string, logFile: string, host: string, port: number, deadline: number): Promise<StartAttempt> {
	await fs.rm(logFile, {force: true});
	// -D: stay in the foreground as our child. -e is not given, so with -E
	// everything (including each connection's child) logs to the file.
	const child = spawn(sshdPath, ['-D', '-f', configurationFile, '-E', logFile], {stdio: ['ignore', 'pipe', 'pipe']});
	let output = '';
	child.stdout!.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	child.stderr!.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	// If the test process dies without close(), sshd must not outlive it.
	const killOnExit = () => {
		child.kill('SIGKILL');
	};

	process.once('exit', killOnExit);
	child.once('exit', () => {
		process.off('exit', killOnExit);
	});
	const listening = `Server listening on ${host} port ${port}.`;
	for (;;) {
		const log = await readIfPresent(logFile);
		if (log.includes(listening)) {
			return {child, port};
		}

		if (child.exitCode !== null || child.signalCode !== null) {
			if (/Address already in use/.test(log)) {
				return {portTaken: true};
			}

			throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before listening on ${host}:${port}.\n${output}${log}`.trim());
		}

		if (Date.now() > deadline) {
			child.kill('SIGKILL');
			await waitForExit(child);
			throw new Error(`sshd did not listen on ${host}:${port} in time.\n${output}${log}`.trim());
		}

		// Polling the log costs nothing here, and unlike probing the port it
		// leaves no "connection closed [preauth]" lines for tests to trip on.
		await new Promise(resolve => {
			setTimeout(resolve, 20);
		});
	}
}

/**
 * Starts a real OpenSSH sshd (Debian's openssh-server) on a free port of
 * 127.0.0.1, with fresh host keys and its own config, letting the current
 * user in with any of `authorizedKeys`. No system users are made: the login
 * user is whoever runs the tests (root on CI).
 */
export async function startSshServer(options: SshServerOptions): Promise<SshServer> {
	if (!existsSync(sshdPath)) {
		throw new Error(`OpenSSH server is not installed (${sshdPath} is missing). Install it with \`${installHint([sshdPath])}\`.`);
	}

	const host = options.host ?? '127.0.0.1';
	const user = os.userInfo().username;
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-sshd-'));
	let child: ChildProcess | undefined;
	try {
		if (process.getuid?.() === 0) {
			// Running as root, sshd chroots its unprivileged pre-auth child
			// into this directory and refuses to start without it. Debian's
			// init script makes it at boot, but no init script runs here.
			await fs.mkdir('/run/sshd', {recursive: true, mode: 0o755});
			await assertAccountNotLocked(user);
		}

		const hostKeyFiles: string[] = [];
		const hostKeys: string[] = [];
		for (const type of options.hostKeyTypes ?? ['ed25519']) {
			const file = path.join(directory, `ssh_host_${type}_key`);
			await runCommandOrThrow('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `moat-test-host-${type}`, '-f', file]);
			hostKeyFiles.push(file);
			const [algorithm, key] = (await fs.readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/);
			hostKeys.push(`${algorithm!} ${key!}`);
		}

		const authorizedKeysFile = path.join(directory, 'authorized_keys');
		const writeAuthorizedKeys = async (keys: readonly string[]) => {
			await fs.writeFile(authorizedKeysFile, keys.map(key => `${key.trim()}\n`).join(''), {mode: 0o600});
		};

		await writeAuthorizedKeys(options.authorizedKeys);
		const configurationFile = path.join(directory, 'sshd_config');
		const logFile = path.join(directory, 'sshd.log');
		const deadline = Date.now() + (options.timeoutMilliseconds ?? waitDeadlineMilliseconds);
		let port = 0;
		for (let attempt = 1; child === undefined; attempt++) {
			const candidate = await freePort(host);
			await fs.writeFile(configurationFile, sshdConfiguration({directory, host, port: candidate, hostKeyFiles, authorizedKeysFile, extra: options.extraConfiguration ?? []}));
			const started = await startOnce(configurationFile, logFile, host, candidate, deadline);
			if ('child' in started) {
				child = started.child;
				port = started.port;
			} else if (attempt >= 5) {
				throw new Error(`sshd found no free port on ${host} after ${attempt} attempts.`);
			}
		}

		const knownHosts = hostKeys.map(key => `${knownHostsName(host, port)} ${key}\n`).join('');
		const knownHostsFile = path.join(directory, 'known_hosts');
		await fs.writeFile(knownHostsFile, knownHosts);
		const clientOptions = [
			'-F', '/dev/null',
			'-o', `UserKnownHostsFile=${knownHostsFile}`,
			'-o', 'GlobalKnownHostsFile=/dev/null',
			'-o', 'StrictHostKeyChecking=yes',
			'-o', 'BatchMode=yes',
			'-o', 'IdentitiesOnly=no',
			'-o', 'ConnectTimeout=10',
		];
		const running = child;
		return {
			host,
			port,
			user,
			destination: `${user}@${host}`,
			hostKeys,
			hostKeyFiles,
			knownHosts,
			knownHostsFile,
			authorizedKeysFile,
			logFile,
			directory,
			clientOptions,
			gitSshCommand: ['ssh', ...clientOptions].map(word => shellQuote(word)).join(' '),
			repositoryUrl(absolutePath) {
				if (!path.isAbsolute(absolutePath)) {
					throw new Error(`repositoryUrl needs an absolute path, got ${absolutePath}`);
				}

				return `ssh://${user}@${host.includes(':') ? `[${host}]` : host}:${port}${absolutePath}`;
			},
			setAuthorizedKeys: writeAuthorizedKeys,
			async log() {
				return readIfPresent(logFile);
			},
			async close() {
				if (running.exitCode === null && running.signalCode === null) {
					running.kill('SIGTERM');
				}

				await waitForExit(running);
				await fs.rm(directory, {recursive: true, force: true});
			},
		};
	} catch (error) {
		if (child) {
			child.kill('SIGKILL');
			await waitForExit(child);
		}

		await fs.rm(directory, {recursive: true, force: true});
		throw error;
	}
}

/** The text the README of createGitRepository's commit contains. */
export const gitReadmeMarker = 'moat ssh fixture repository 4f1c9e';

/** Git without the machine's or the user's configuration, and with a fixed identity and clock. */
const gitEnvironment = (): NodeJS.ProcessEnv => ({
	...process.env,
	GIT_CONFIG_NOSYSTEM: '1',
	GIT_CONFIG_GLOBAL: '/dev/null',
	GIT_AUTHOR_NAME: 'moat test',
	GIT_AUTHOR_EMAIL: 'moat-test@example.invalid',
	GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
	GIT_COMMITTER_NAME: 'moat test',
	GIT_COMMITTER_EMAIL: 'moat-test@example.invalid',
	GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
});

/**
 * Makes a bare repository `name` in `directory` whose branch `main` has
 * one commit with README.md containing `readme` (gitReadmeMarker by
 * default). Returns its absolute path, for
 * `git clone ssh://USER@HOST:PORT/ABSOLUTE/PATH` (see repositoryUrl).
 * The commit is built with plumbing, so no working tree is involved.
 */
export async function createGitRepository(directory: string, options: {name?: string; readme?: string} = {}): Promise<string> {
	const repository = path.resolve(directory, options.name ?? 'repository.git');
	const env = gitEnvironment();
	const git = async (args: string[], input?: string) => (await runCommandOrThrow('git', ['--git-dir', repository, ...args], {env, input})).trim();
	await runCommandOrThrow('git', ['init', '--quiet', '--bare', '--initial-branch=main', repository], {env});
	const readme = options.readme ?? `# Test repository\n\n${gitReadmeMarker}\n`;
	const blob = await git(['hash-object', '-w', '--stdin'], readme);
	const tree = await git(['mktree'], `100644 blob ${blob}\tREADME.md\n`);
	const commit = await git(['commit-tree', tree, '-m', 'Initial commit']);
	await git(['update-ref', 'refs/heads/main', commit]);
	return repository;
}
