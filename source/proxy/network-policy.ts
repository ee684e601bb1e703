import net from 'node:net';

/**
 * The proxy's network decisions (README: The network), as pure functions: which hosts a
 * run may reach, which addresses are never dialled for an agent, and the
 * answer a blocked request gets.
 */

export type PolicyMode = 'permissive' | 'strict';

/** One `network.allow` entry: `host`, `*.domain`, either with `:port`. */
export type AllowEntry = {pattern: string; wildcard: boolean; ports: readonly number[]};

export type NetworkPolicy = {mode: PolicyMode; allow: readonly AllowEntry[]};

/** A pattern without a port means the web ports. */
const defaultPorts = [80, 443] as const;

export function parseAllowEntry(entry: string): AllowEntry | undefined {
	const match = /^(\*\.)?([a-z\d]([a-z\d-]*[a-z\d])?(\.[a-z\d]([a-z\d-]*[a-z\d])?)*)(?::(\d{1,5}))?$/i.exec(entry.trim());
	if (!match) {
		return undefined;
	}

	const port = match[6] === undefined ? undefined : Number(match[6]);
	if (port !== undefined && (port < 1 || port > 65_535)) {
		return undefined;
	}

	return {pattern: match[2]!.toLowerCase(), wildcard: match[1] !== undefined, ports: port === undefined ? defaultPorts : [port]};
}

/** An entry as a run's allow list stores it: lowercased, with a port only when one was given. */
export function formatAllowEntry(entry: AllowEntry): string {
	return `${entry.wildcard ? '*.' : ''}${entry.pattern}${entry.ports.length === 1 ? `:${entry.ports[0]!}` : ''}`;
}

/**
 * The kind of internal address an entry names, if it names one for sure
 * (localhost, *.localhost, an internal address literal). The proxy refuses
 * those before it reads the allow list, in every mode, so no entry opens
 * them; a name that merely resolves to one is refused when it is dialled.
 */
export function internalEntryKind(entry: AllowEntry): AddressKind | undefined {
	if (entry.pattern === 'localhost' || entry.pattern.endsWith('.localhost')) {
		return 'loopback';
	}

	const kind = entry.wildcard ? 'public' : addressKind(entry.pattern);
	return kind === 'public' ? undefined : kind;
}

/** `*.example.com` matches subdomains at any depth, never example.com itself. */
export function entryMatches(entry: AllowEntry, host: string, port: number): boolean {
	const name = host.toLowerCase().replace(/\.$/, '');
	const hostMatches = entry.wildcard ? name.endsWith(`.${entry.pattern}`) : name === entry.pattern;
	return hostMatches && entry.ports.includes(port);
}

/** The API hosts an agent needs, allowed even in strict mode. */
export function agentHosts(agent: string | null | undefined): string[] {
	switch (agent) {
		case 'claude': {
			return ['api.anthropic.com'];
		}

		case 'codex': {
			return ['api.openai.com', 'chatgpt.com'];
		}

		default: {
			return [];
		}
	}
}

export type PolicyContext = {
	/** Hosts the run's grants inject into, `host` (ports 80 and 443) or `host:port` (allowed in strict mode). */
	grantHosts: readonly string[];
	/** Hosts of the run's ssh: grants, `host` or `host:port` (their SSH port is allowed in strict mode). */
	sshHosts?: readonly string[];
	agent: string | null;
};

export type PolicyDecision = {allowed: true} | {allowed: false; reason: string};

export function decide(policy: NetworkPolicy, host: string, port: number, context: PolicyContext): PolicyDecision {
	if (policy.mode === 'permissive') {
		return {allowed: true};
	}

	const name = host.toLowerCase();
	const implicit = [
		...[...context.grantHosts, ...agentHosts(context.agent)].flatMap(implicitHost => parseAllowEntry(implicitHost) ?? []),
		...(context.sshHosts ?? []).map(sshHost => ({pattern: sshHost.split(':')[0]!.toLowerCase(), wildcard: false, ports: [Number(sshHost.split(':')[1] ?? 22)]})),
	];
	if ([...implicit, ...policy.allow].some(entry => entryMatches(entry, name, port))) {
		return {allowed: true};
	}

	return {allowed: false, reason: `Host "${name}" is not in the allow list.`};
}

/** The plain-text answer to a blocked request, readable by the agent. */
export function blockedResponseText(host: string, internalReason?: string): string {
	if (internalReason !== undefined) {
		return [
			'Moat: request blocked by network policy.',
			`Host "${host}" is refused: ${internalReason}`,
			'Agents reach only public hosts, whatever the policy.',
			'',
		].join('\n');
	}

	return [
		'Moat: request blocked by network policy.',
		`Host "${host}" is not in the allow list.`,
		'Add it to network.allow in agent.yaml or use policy: permissive.',
		'',
	].join('\n');
}

export type AddressKind = 'loopback' | 'link-local' | 'private' | 'unspecified' | 'reserved' | 'public';

function ipv4Kind(address: string): AddressKind {
	const [a = 0, b = 0] = address.split('.').map(Number);
	if (a === 127) {
		return 'loopback';
	}

	if (a === 169 && b === 254) {
		return 'link-local';
	}

	if (a === 0) {
		return 'unspecified';
	}

	if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) {
		return 'private';
	}

	// IETF protocol assignments, benchmarking, multicast and the reserved block: no public service lives there.
	const [, , c = 0] = address.split('.').map(Number);
	if ((a === 192 && b === 0 && c === 0) || (a === 198 && (b === 18 || b === 19)) || a >= 224) {
		return 'reserved';
	}

	return 'public';
}

/** The 16 bytes of an IPv6 address (any textual form), or undefined. */
function ipv6Bytes(address: string): number[] | undefined {
	let text = address.toLowerCase().replace(/%.*$/, '');
	// A trailing dotted IPv4 (::ffff:1.2.3.4) becomes two hextets.
	const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
	if (dotted) {
		const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
		text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
	}

	const [head = '', tail] = text.split('::');
	const left = head === '' ? [] : head.split(':');
	const right = tail === undefined || tail === '' ? [] : tail.split(':');
	const missing = 8 - left.length - right.length;
	if ((tail === undefined && missing !== 0) || missing < 0) {
		return undefined;
	}

	const hextets = [...left, ...Array.from({length: tail === undefined ? 0 : missing}, () => '0'), ...right].map(part => Number.parseInt(part, 16));
	return hextets.flatMap(hextet => [hextet >> 8, hextet & 0xFF]);
}

/**
 * What kind of address the proxy would dial. Loopback, link-local (cloud
 * metadata at 169.254.169.254) and private ranges are never dialled for an
 * agent, whatever the policy. IPv6 forms that carry an IPv4 address —
 * mapped (::ffff:0:0/96), compatible (::/96) and NAT64 (64:ff9b::/96) — are
 * judged as the IPv4 address they carry, in any spelling.
 */
export function addressKind(address: string): AddressKind {
	const family = net.isIP(address);
	if (family === 4) {
		return ipv4Kind(address);
	}

	if (family !== 6) {
		return 'public';
	}

	const bytes = ipv6Bytes(address);
	if (!bytes) {
		return 'public';
	}

	const embedded = bytes.slice(12).join('.');
	const zeros = (from: number, to: number) => bytes.slice(from, to).every(byte => byte === 0);
	if (zeros(0, 10) && bytes[10] === 0xFF && bytes[11] === 0xFF) {
		return ipv4Kind(embedded);
	}

	if (zeros(0, 12)) {
		if (zeros(12, 15) && bytes[15] === 1) {
			return 'loopback';
		}

		return zeros(12, 16) ? 'unspecified' : ipv4Kind(embedded);
	}

	if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xFF && bytes[3] === 0x9B && zeros(4, 12)) {
		return ipv4Kind(embedded);
	}

	if (bytes[0] === 0xFE && (bytes[1]! & 0xC0) === 0x80) {
		return 'link-local';
	}

	// fc00::/7 unique local, and the deprecated site-local fec0::/10.
	if ((bytes[0]! & 0xFE) === 0xFC || (bytes[0] === 0xFE && (bytes[1]! & 0xC0) === 0xC0)) {
		return 'private';
	}

	return 'public';
}

/**
 * The CONNECT target, the TLS server name and the Host header must name the
 * same host: otherwise a request could be checked against one host and sent
 * to another.
 */
export function namesAgree(names: {connect?: string; serverName?: string; hostHeader?: string}): boolean {
	const normalize = (value: string): string | undefined => {
		const host = value.toLowerCase().replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([^:]*):\d+$/, '$1').replace(/\.$/, '');
		if (net.isIP(host) !== 6) {
			return host;
		}

		// One IPv6 address has many spellings (::ffff:127.0.0.1 is ::ffff:7f00:1): compare the
		// canonical one. What URL cannot spell (a zone id) agrees with nothing.
		try {
			return new URL(`http://[${host}]/`).hostname.replace(/^\[|\]$/g, '');
		} catch {
			return undefined;
		}
	};

	const present = [names.connect, names.serverName, names.hostHeader].filter((value): value is string => value !== undefined && value !== '').map(value => normalize(value));
	return present.every(value => value !== undefined && value === present[0]);
}
