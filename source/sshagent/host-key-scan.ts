import {execFile} from 'node:child_process';
import {MoatError} from '../errors.js';
import {resolveUpstream, type UpstreamOverrides} from '../network/upstream-overrides.js';
import {printable} from '../text/printable.js';

/**
 * The host keys a server presents, asked with OpenSSH's ssh-keyscan (at the
 * address MOAT_UPSTREAM_OVERRIDES gives, if any), so a grant for a host
 * moat has no pinned keys for records the keys it was granted against.
 */
export async function scanHostKeys(host: string, overrides: UpstreamOverrides): Promise<string[]> {
	const [name, portText] = host.split(':');
	const target = resolveUpstream(overrides, name!, Number(portText ?? 22));
	const output = await new Promise<string>((resolve, reject) => {
		execFile('ssh-keyscan', ['-T', '10', '-p', String(target.port), '-t', 'ed25519,ecdsa,rsa', target.address], {timeout: 30_000}, (error, stdout, stderr) => {
			if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
				reject(new MoatError('ssh-keyscan is not installed, so moat cannot record the host\'s keys.', 'Install OpenSSH\'s client (apt-get install openssh-client), then try again.'));
				return;
			}

			if (error && stdout.trim() === '') {
				reject(new MoatError(`Cannot read ${printable(host)}'s SSH host keys: ${printable(stderr.trim().split('\n').pop() ?? error.message)}.`, `Check that ${printable(host)} answers SSH on port ${target.port}, then try again.`));
				return;
			}

			resolve(stdout);
		});
	});
	return parseKeyscan(output);
}

/** `ADDRESS TYPE BASE64` lines (comments skipped) as `TYPE BASE64`. Pure. */
export function parseKeyscan(output: string): string[] {
	return [...new Set(output.split('\n')
		.map(line => line.trim())
		.filter(line => line !== '' && !line.startsWith('#'))
		.map(line => line.split(/\s+/).slice(1, 3))
		.filter(parts => parts.length === 2 && /^(ssh-|ecdsa-)/.test(parts[0]!))
		.map(parts => parts.join(' ')))];
}
