import {addressKind, canonicalHost, formatIpAddress, parseHost, type AddressKind, type IpAddress} from '../network/ip-address.js';

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

	// An address entry is kept in its canonical spelling, so `0x7f.1` is seen for the 127.0.0.1 it is. A
	// wildcard over an address, or a name ending in a number that is no address, names no host.
	const wildcard = match[1] !== undefined;
	const host = parseHost(match[2]!);
	if (host.kind === 'invalid' || (host.kind === 'address' && wildcard)) {
		return undefined;
	}

	return {pattern: host.kind === 'address' ? formatIpAddress(host.address) : host.name, wildcard, ports: port === undefined ? defaultPorts : [port]};
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
export function internalEntryKind(entry: AllowEntry): InternalKind | undefined {
	if (entry.wildcard) {
		return entry.pattern === 'localhost' || entry.pattern.endsWith('.localhost') ? 'loopback' : undefined;
	}

	return internalHostKind(entry.pattern);
}

/**
 * `*.example.com` matches subdomains at any depth, never example.com
 * itself. An address matches only an entry naming that address, in any
 * spelling; no wildcard matches an address.
 */
export function entryMatches(entry: AllowEntry, host: string, port: number): boolean {
	const parsed = parseHost(host);
	if (parsed.kind === 'invalid' || !entry.ports.includes(port)) {
		return false;
	}

	if (parsed.kind === 'address') {
		return !entry.wildcard && canonicalHost(entry.pattern) === formatIpAddress(parsed.address);
	}

	return entry.wildcard ? parsed.name.endsWith(`.${entry.pattern}`) : parsed.name === entry.pattern;
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

/** Why a host is never dialled for an agent: its address's kind, this machine's own address, or no host any resolver agrees on. */
export type InternalKind = Exclude<AddressKind, 'public'> | 'host' | 'invalid';

/**
 * Whether a host, as a request or an allow entry names it, is a place
 * agents may never reach, and why: localhost and *.localhost; an address,
 * in any spelling, that is not public or leads to one that is not
 * (ip-address.ts); an address of this machine; a host that is neither a
 * name nor an address. Undefined for a public address and for any other
 * name: a name is judged again by what it resolves to, when dialled.
 */
export function internalHostKind(host: string, isHostAddress?: (address: IpAddress) => boolean): InternalKind | undefined {
	const parsed = parseHost(host);
	if (parsed.kind === 'invalid') {
		return 'invalid';
	}

	if (parsed.kind === 'name') {
		return parsed.name === 'localhost' || parsed.name.endsWith('.localhost') ? 'loopback' : undefined;
	}

	const kind = addressKind(parsed.address);
	if (kind !== 'public') {
		return kind;
	}

	return isHostAddress?.(parsed.address) ? 'host' : undefined;
}

/**
 * The CONNECT target, the TLS server name and the Host header must name the
 * same host: otherwise a request could be checked against one host and sent
 * to another.
 */
export function namesAgree(names: {connect?: string; serverName?: string; hostHeader?: string}): boolean {
	// One address has many spellings (::ffff:127.0.0.1 is ::ffff:7f00:1 is 127.0.0.1): compare the
	// canonical one. What a URL cannot spell (a zone id) agrees with nothing.
	const normalize = (value: string): string | undefined => {
		const host = value.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([^:]*):\d+$/, '$1');
		return host.includes('%') ? undefined : canonicalHost(host);
	};

	const present = [names.connect, names.serverName, names.hostHeader].filter((value): value is string => value !== undefined && value !== '').map(value => normalize(value));
	return present.every(value => value !== undefined && value === present[0]);
}
