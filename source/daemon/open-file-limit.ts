import {execFileSync} from 'node:child_process';
import {readFileSync} from 'node:fs';

/**
 * The daemon's soft limit on open files. Node raises it to the hard limit
 * when it starts, so there is nothing left to raise: the proxy's connection
 * limits are sized against it instead (proxy/connection-limits.ts). Read
 * from /proc on Linux, from the shell's `ulimit -n` elsewhere (a child
 * inherits the limit); when neither answers, the traditional 1024.
 */
export function openFileLimit(procLimits = '/proc/self/limits'): number {
	try {
		const line = readFileSync(procLimits, 'utf8').split('\n').find(candidate => candidate.startsWith('Max open files'));
		const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
		if (soft === 'unlimited') {
			return Number.MAX_SAFE_INTEGER;
		}

		if (soft && /^\d+$/.test(soft)) {
			return Number(soft);
		}
	} catch {
		// Not Linux, or /proc not mounted: ask the shell.
	}

	try {
		const text = execFileSync('/bin/sh', ['-c', 'ulimit -n'], {encoding: 'utf8', timeout: 5000}).trim();
		if (text === 'unlimited') {
			return Number.MAX_SAFE_INTEGER;
		}

		if (/^\d+$/.test(text)) {
			return Number(text);
		}
	} catch {
		// No shell either: assume the traditional limit.
	}

	return 1024;
}
