import {canonicalHost, type IpAddress} from '../network/ip-address.js';
import {blockedResponseText, internalHostKind, type InternalKind, type PolicyDecision} from './network-policy.js';

/**
 * The proxy's per-request decisions that need no sockets: reading the run
 * token, parsing a CONNECT target, and whether a host may be dialled.
 */

/** The run token from `Proxy-Authorization` (Basic with the token as password, or Bearer). */
export function proxyToken(header: string | undefined): string | undefined {
	if (!header) {
		return undefined;
	}

	const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
	if (scheme.toLowerCase() === 'bearer') {
		return value || undefined;
	}

	if (scheme.toLowerCase() !== 'basic') {
		return undefined;
	}

	const decoded = Buffer.from(value, 'base64').toString('utf8');
	const colon = decoded.indexOf(':');
	const token = colon === -1 ? decoded : decoded.slice(colon + 1);
	return token || undefined;
}

/**
 * `host:port` or `[v6]:port` from a CONNECT line, the host in its canonical
 * spelling (an address as ip-address.ts writes it, so `0x7f.1` and
 * `[::ffff:7f00:1]` are both 127.0.0.1 to every check after); undefined
 * when malformed.
 */
export function parseConnectTarget(target: string): {host: string; port: number} | undefined {
	// A `*` is a pattern, not a host: it must never reach a log line that could become an allow entry.
	const match = /^(?:\[([\da-f:.]+)\]|([^\s:/[\]@%*]+)):(\d{1,5})$/i.exec(target);
	if (!match) {
		return undefined;
	}

	const port = Number(match[3]);
	if (port < 1 || port > 65_535) {
		return undefined;
	}

	const host = canonicalHost(match[1] ?? match[2]!);
	// Brackets hold IPv6 only (which may still be an IPv4-mapped address, written dotted from here on).
	if (host === undefined || (match[1] !== undefined && !match[1].includes(':'))) {
		return undefined;
	}

	return {host, port};
}

export type GateDecision = {allowed: true} | {allowed: false; reason: string; message: string};

/** The name under which a bottle reaches the ports of this machine it was given (network.host). */
export const hostServicesName = 'host.moat.internal';

/** Whether a run may reach this port of this machine: only the ones agent.yaml or --host-port opened, in every policy mode. */
export function hostPortDecision(port: number, hostPorts: readonly number[]): GateDecision {
	if (hostPorts.includes(port)) {
		return {allowed: true};
	}

	const reason = hostPorts.length > 0
		? `port ${port} of this machine is not open to the run (open: ${hostPorts.join(', ')}).`
		: `no port of this machine is open to the run.`;
	return {
		allowed: false,
		reason: `host port ${port} not open`,
		message: `Moat: request blocked by network policy.\nHost "${hostServicesName}:${port}" is refused: ${reason}\nAdd it to network.host in agent.yaml or pass --host-port ${port}.\n`,
	};
}

/** An internal address kind in words, for messages that say why it is refused. */
export const addressKindWords: Record<string, string> = {
	loopback: 'a loopback address',
	'link-local': 'a link-local address (cloud metadata lives there)',
	private: 'a private address',
	unspecified: 'an unspecified address',
	reserved: 'a reserved address',
	host: 'an address of the machine moat runs on',
	invalid: 'neither a host name nor an address',
};

/**
 * The first answer of a name's lookup that agents may never reach, judged
 * as a literal would be (any spelling a resolver returns: IPv4-mapped,
 * DNS64's NAT64 form, …). One such answer refuses the name: the dial may
 * use any of them.
 */
export function internalAnswer(answers: ReadonlyArray<{address: string}>, isHostAddress?: (address: IpAddress) => boolean): {address: string; kind: InternalKind} | undefined {
	for (const {address} of answers) {
		const kind = internalHostKind(address, isHostAddress);
		if (kind) {
			return {address, kind};
		}
	}

	return undefined;
}

/**
 * Whether a request to host:port may go out. Addresses inside the machine or
 * its networks are refused in every mode (an override is the user routing a
 * name there on purpose); then the run's policy decides.
 */
export function gateRequest(request: {host: string; port: number; overridden: boolean; policyDecision: PolicyDecision; isHostAddress?: (address: IpAddress) => boolean}): GateDecision {
	const name = canonicalHost(request.host) ?? request.host.toLowerCase();
	if (!request.overridden) {
		const kind = internalHostKind(request.host, request.isHostAddress);
		if (kind) {
			const reason = `it is ${addressKindWords[kind] ?? 'an internal address'}, which agents may never reach.`;
			return {allowed: false, reason: `internal address: ${kind}`, message: blockedResponseText(name, reason)};
		}
	}

	if (!request.policyDecision.allowed) {
		return {allowed: false, reason: request.policyDecision.reason, message: blockedResponseText(name)};
	}

	return {allowed: true};
}
