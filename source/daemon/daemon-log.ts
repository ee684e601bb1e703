import {writeSync} from 'node:fs';

/**
 * Writes a line to daemon.log (the daemon's stdout), or, when it cannot be
 * written (its disk is full), drops it and says how many went once lines get
 * through again. Never throws and never emits: a failed write of the log
 * must not become an error that is logged, which fails again, and so on.
 */
export function createDaemonLog(write: (text: string) => void = text => {
	const bytes = Buffer.from(text);
	for (let written = 0; written < bytes.length;) {
		written += writeSync(1, bytes, written);
	}
}, now: () => Date = () => new Date()): (message: string) => void {
	let dropped = 0;
	return message => {
		try {
			if (dropped > 0) {
				write(`${now().toISOString()} (${dropped} line${dropped === 1 ? '' : 's'} of this log could not be written, most likely for want of space)\n`);
				dropped = 0;
			}

			write(`${now().toISOString()} ${message}\n`);
		} catch {
			dropped++;
		}
	};
}
