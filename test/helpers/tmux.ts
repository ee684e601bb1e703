import {execFile} from 'node:child_process';
import process from 'node:process';
import {promisify} from 'node:util';
import {waitDeadlineMilliseconds} from './deadline.js';
import {cliPath, eventually} from './moat.js';

const execFileAsync = promisify(execFile);

let sessions = 0;

function shellQuote(word: string): string {
	return `'${word.replaceAll('\'', String.raw`'\''`)}'`;
}

/**
 * A real terminal for whole-program tests: moat runs inside a tmux pane, the
 * test types keys and reads the screen. Each session has its own tmux server
 * so tests never see each other's panes.
 */
export class TmuxSession {
	static async start(moatArguments: readonly string[], options: {env: Record<string, string>; rows?: number; columns?: number; cwd?: string}): Promise<TmuxSession> {
		const session = new TmuxSession(`moat-test-${process.pid}-${++sessions}`);
		const variables = Object.entries(options.env)
			.filter(([name]) => /^(MOAT_|HOME$|PATH$|DOCKER_HOST$|NODE_EXTRA_CA_CERTS$|SSH_AUTH_SOCK$|AWS_)/.test(name))
			.map(([name, value]) => `${name}=${shellQuote(value)}`)
			.join(' ');
		// After moat exits the pane stays open and reports the exit code and
		// the terminal's line settings, so tests can check what was left behind.
		const script = `env ${variables} TERM=xterm-256color ${shellQuote(process.execPath)} ${shellQuote(cliPath)} ${moatArguments.map(argument => shellQuote(argument)).join(' ')}; echo "EXITED $?"; stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo|isig)$' | tr '\\n' ' '; echo; sleep 600`;
		await session.tmux('new-session', '-d', '-x', String(options.columns ?? 100), '-y', String(options.rows ?? 20), ...(options.cwd ? ['-c', options.cwd] : []), script);
		return session;
	}

	private constructor(readonly socket: string) {}

	async tmux(...args: string[]): Promise<string> {
		const {stdout} = await execFileAsync('tmux', ['-L', this.socket, ...args]);
		return stdout;
	}

	/** Keys in tmux's notation: 'Enter', 'C-c', 'C-_' (Ctrl-/). */
	async keys(...keys: string[]): Promise<void> {
		await this.tmux('send-keys', ...keys);
	}

	/** Literal text, typed as is. */
	async type(text: string): Promise<void> {
		await this.tmux('send-keys', '-l', text);
	}

	async screen(): Promise<string> {
		return this.tmux('capture-pane', '-p');
	}

	async display(format: string): Promise<string> {
		return (await this.tmux('display-message', '-p', format)).trim();
	}

	/** Waits until the screen satisfies `condition`; returns that screen. There is no shorter deadline: tests say what, not how fast. */
	async waitFor(condition: string | RegExp | ((screen: string) => boolean)): Promise<string> {
		const test = typeof condition === 'function' ? condition : (screen: string) => (typeof condition === 'string' ? screen.includes(condition) : condition.test(screen));
		const deadline = Date.now() + waitDeadlineMilliseconds;
		let screen = '';
		while (Date.now() < deadline) {
			screen = await this.screen();
			if (test(screen)) {
				return screen;
			}

			await new Promise(resolve => {
				setTimeout(resolve, 100);
			});
		}

		throw new Error(`screen never matched ${String(condition)} in ${waitDeadlineMilliseconds / 1000} s; last screen:\n${screen}`);
	}

	/** The exit code moat returned, once it has exited. */
	async exitCode(): Promise<number> {
		const screen = await this.waitFor(/EXITED \d+/);
		return Number(/EXITED (\d+)/.exec(screen)![1]);
	}

	/** The PID of the moat process running in the pane. */
	async moatPid(): Promise<number> {
		const shell = await this.display('#{pane_pid}');
		// The pane's shell has one child while moat runs: moat (meow renames
		// its process title, so it cannot be found by command line).
		const {stdout} = await execFileAsync('pgrep', ['-P', shell]);
		return Number(stdout.trim().split('\n')[0]);
	}

	async kill(): Promise<void> {
		await this.tmux('kill-server').catch(() => undefined);
	}
}

/** The terminal state tmux sees once moat has exited, and the line settings the pane's shell printed after it. */
export async function terminalState(session: TmuxSession): Promise<{modes: string; stty: string}> {
	const screen = await session.waitFor(/EXITED \d+\n.*echo/);
	return {
		modes: await session.display('#{alternate_on} #{mouse_any_flag} #{cursor_flag}'),
		stty: /EXITED \d+\n(.*)\n/.exec(screen)![1]!.trim(),
	};
}

/** Alternate screen and mouse off, cursor shown; canonical input, echo and signals on. */
export const saneTerminal = {modes: '0 0 1', stty: 'isig icanon echo'} as const;

/**
 * Ink switches the terminal to raw mode in an effect after its first frame;
 * keys typed before that would sit in the cooked line buffer.
 */
export async function rawModeOn(session: TmuxSession): Promise<void> {
	const tty = await session.display('#{pane_tty}');
	await eventually(async () => {
		const {stdout} = await execFileAsync('stty', ['-F', tty, '-a']);
		return /(^|\s)-icanon(\s|$)/.test(stdout);
	});
}
