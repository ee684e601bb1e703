import {usageError} from '../errors.js';
import {printable} from '../text/printable.js';

/** Where moat's own outbound connections to a host go instead (tests' local stand-ins). */
export type UpstreamTarget = {address: string; port: number};
export type UpstreamOverrides = ReadonlyMap<string, UpstreamTarget>;

/**
 * Parses MOAT_UPSTREAM_OVERRIDES: `host[:port]=ip:port,…`. A key with a port
 * applies to that port only; without one, to every port of the host.
 */
export function parseUpstreamOverrides(text: string | undefined): UpstreamOverrides {
	const overrides = new Map<string, UpstreamTarget>();
	for (const entry of (text ?? '').split(',').map(part => part.trim()).filter(Boolean)) {
		const match = /^([a-z\d.-]+)(?::(\d+))?=(\[[\da-f:]+\]|[\d.]+|[a-z\d.-]+):(\d+)$/i.exec(entry);
		if (!match) {
			throw usageError(
				`MOAT_UPSTREAM_OVERRIDES entry "${printable(entry)}" is not host[:port]=address:port.`,
				'Write entries such as api.github.com=127.0.0.1:8443, separated by commas.',
			);
		}

		const [, host, port, address, targetPort] = match;
		if ([port, targetPort].some(value => value !== undefined && (Number(value) < 1 || Number(value) > 65_535))) {
			throw usageError(`MOAT_UPSTREAM_OVERRIDES entry "${printable(entry)}" has a port outside 1–65535.`, 'Fix the port number.');
		}

		overrides.set(port ? `${host!.toLowerCase()}:${port}` : host!.toLowerCase(), {
			address: address!.replace(/^\[|\]$/g, ''),
			port: Number(targetPort),
		});
	}

	return overrides;
}

/** Where to connect for host:port: its override if any, else the host itself. */
export function resolveUpstream(overrides: UpstreamOverrides, host: string, port: number): UpstreamTarget & {overridden: boolean} {
	const key = host.toLowerCase();
	const target = overrides.get(`${key}:${port}`) ?? overrides.get(key);
	return target ? {...target, overridden: true} : {address: host, port, overridden: false};
}
