import net from 'node:net';

/**
 * The proxy's network decisions (SPEC §7), as pure functions: which hosts a
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
	/** Hosts the run's grants inject into (allowed in strict mode). */
	grantHosts: readonly string[];
	agent: string | null;
};

export type PolicyDecision = {allowed: true} | {allowed: false; reason: string};

export function decide(policy: NetworkPolicy, host: string, port: number, context: PolicyContext): PolicyDecision {
	if (policy.mode === 'permissive') {
		return {allowed: true};
	}

	const name = host.toLowerCase();
	const implicit = [...context.grantHosts, ...agentHosts(context.agent)].map(implicitHost => ({pattern: implicitHost, wildcard: false, ports: defaultPorts}));
	if ([...implicit, ...policy.allow].some(entry => entryMatches(entry, name, port))) {
		return {allowed: true};
	}

	return {allowed: false, reason: `Host "${name}" is not in the allow list.`};
}

/** The plain-text answer to a blocked request, readable by the agent. */
export function blockedResponseText(host: string): string {
	return [
		'Moat: request blocked by network policy.',
		`Host "${host}" is not in the allow list.`,
		'Add it to network.allow in agent.yaml or use policy: permissive.',
		'',
	].join('\n');
}

export type AddressKind = 'loopback' | 'link-local' | 'private' | 'unspecified' | 'public';

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

	return 'public';
}

/**
 * What kind of address the proxy would dial. Loopback, link-local (cloud
 * metadata at 169.254.169.254) and private ranges are never dialled for an
 * agent, whatever the policy; IPv4-mapped IPv6 is judged as the IPv4 it is.
 */
export function addressKind(address: string): AddressKind {
	const family = net.isIP(address);
	if (family === 4) {
		return ipv4Kind(address);
	}

	if (family !== 6) {
		return 'public';
	}

	const lower = address.toLowerCase();
	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
	if (mapped) {
		return ipv4Kind(mapped[1]!);
	}

	if (lower === '::1') {
		return 'loopback';
	}

	if (lower === '::') {
		return 'unspecified';
	}

	if (/^fe[89ab]/.test(lower)) {
		return 'link-local';
	}

	if (/^f[cd]/.test(lower)) {
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
	const normalize = (value: string) => value.toLowerCase().replace(/:\d+$/, '').replace(/^\[|\]$/g, '').replace(/\.$/, '');
	const present = [names.connect, names.serverName, names.hostHeader].filter((value): value is string => value !== undefined && value !== '').map(value => normalize(value));
	return present.every(value => value === present[0]);
}
