import type {SignalSource, TerminalInput} from './terminal-session.js';

/** Ctrl+C as the terminal sends it in raw mode. */
const controlC = 0x03;

export type Interrupts = {
	/** Resolves at the next interrupt (Ctrl+C), or at once for one that came while nobody waited. */
	next(): Promise<void>;
	/** Gives the terminal back as it was. */
	close(): void;
};

/**
 * Ctrl+C for commands that stream a run's output. Until a command first
 * asks, nothing is installed and SIGINT keeps its default (exit 130). Then
 * each interrupt wakes the waiters. On a terminal, Ctrl+C is read as a key
 * (raw mode) rather than left to the terminal's SIGINT: the kernel merges
 * signals that arrive together, so two presses in one read (a quick double
 * press, a burst over a slow link) would count as one. An interrupt that
 * comes while nobody waits is kept for the next call, so the second of a
 * burst reaches the wait for a second press.
 */
export function createInterrupts(input: TerminalInput, signals: Pick<SignalSource, 'on' | 'off'>): Interrupts {
	let waiters: Array<() => void> = [];
	let unclaimed = 0;
	let installed = false;
	const interrupt = () => {
		const current = waiters;
		waiters = [];
		if (current.length === 0) {
			unclaimed++;
		}

		for (const wake of current) {
			wake();
		}
	};

	const onKeys = (chunk: Buffer | string) => {
		for (const byte of Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)) {
			if (byte === controlC) {
				interrupt();
			}
		}
	};

	const keys = Boolean(input.isTTY && input.setRawMode);
	return {
		async next() {
			if (!installed) {
				installed = true;
				signals.on('SIGINT', interrupt);
				if (keys) {
					input.setRawMode!(true);
					input.on('data', onKeys);
					input.resume();
				}
			}

			if (unclaimed > 0) {
				unclaimed--;
				return;
			}

			return new Promise<void>(resolve => {
				waiters.push(resolve);
			});
		},
		close() {
			if (!installed) {
				return;
			}

			installed = false;
			signals.off('SIGINT', interrupt);
			if (keys) {
				input.off('data', onKeys);
				input.setRawMode!(false);
				input.pause();
			}
		},
	};
}
