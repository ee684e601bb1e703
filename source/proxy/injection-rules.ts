import type {AnsweredRule, InjectionRule} from '../credentials/providers/provider.js';
import {credentialProviders} from '../credentials/providers/provider-list.js';

/**
 * Which credential goes into which request (README: The network), as a rule table. Pure:
 * the proxy looks up a request's host here and applies the result. Values
 * are produced from the token only when a rule matches, and only over
 * verified TLS — a plain-HTTP request never carries a credential.
 *
 * The table is derived from the registered providers (each provider's file
 * in credentials/providers/ carries its rules); the functions take it as a
 * parameter, so they stay pure and can be fed any table.
 */

/** What a rule needs to know about a run's grant. */
export type InjectableGrant = {name: string; provider: string; kind: string; token: string};

export type Injection = {
	grant: string;
	/** Headers to set, replacing whatever the agent sent under those names. */
	set: Record<string, string>;
	/** List headers to extend: the agent's own values stay (see mergeHeaderList). */
	merge: Record<string, string>;
	/** Auth headers the agent may have sent that must never be forwarded. */
	remove: readonly string[];
};

/** A provider's rule, labelled with the provider it belongs to. */
export type ProviderRule = InjectionRule & {provider: string};
export type ProviderAnsweredRule = AnsweredRule & {provider: string};

const authHeaders = ['authorization', 'x-api-key', 'proxy-authorization'] as const;

/** Every provider's injection rules, in registration order. */
export const injectionRules: readonly ProviderRule[] = credentialProviders.flatMap(provider => provider.injection.map(rule => ({...rule, provider: provider.name})));

/**
 * Hosts the proxy answers itself for a grant instead of forwarding: a
 * ChatGPT login's refreshes (see credentials/chatgpt-login.ts), so a bottle
 * never rotates the host's tokens.
 */
export const answeredHosts: readonly ProviderAnsweredRule[] = credentialProviders.flatMap(provider => provider.answered.map(rule => ({...rule, provider: provider.name})));

/** The port a host declared without one means: credentials go over HTTPS. */
export const defaultInjectionPort = 443;

/**
 * A host and port from `name`, `name:port` or `[v6]:port`: a provider's host
 * declaration or a request's authority. Without a port it is the HTTPS one,
 * as in an https URL; a port is part of what is matched, so a credential
 * declared for a host's 443 never goes to its 9443.
 */
export function endpointOf(authority: string): {host: string; port: number} {
	const match = /^(?:\[([^\]]*)\]|([^:]*))(?::(\d+))?$/.exec(authority.trim().toLowerCase());
	const host = (match?.[1] ?? match?.[2] ?? authority.toLowerCase()).replace(/\.$/, '');
	return {host, port: match?.[3] === undefined ? defaultInjectionPort : Number(match[3])};
}

/** Whether a rule's host declaration names this request's host and port. */
function declares(rule: ProviderAnsweredRule, authority: string): boolean {
	const wanted = endpointOf(authority);
	return rule.hosts.some(entry => {
		const declared = endpointOf(entry);
		return declared.host === wanted.host && declared.port === wanted.port;
	});
}

function applies(rule: ProviderAnsweredRule, grant: Pick<InjectableGrant, 'provider' | 'kind'>): boolean {
	// A kind not known yet opens nothing that is only for some kinds.
	return rule.provider === grant.provider && (!rule.kinds || rule.kinds.includes(grant.kind));
}

/** Every host a grant injects into or is answered for, as declared (`name` or `name:port`): in strict mode these are allowed. */
export function injectedHosts(
	grants: ReadonlyArray<Pick<InjectableGrant, 'provider' | 'kind'>>,
	rules: readonly ProviderAnsweredRule[] = injectionRules,
	answered: readonly ProviderAnsweredRule[] = answeredHosts,
): string[] {
	return [...new Set(grants.flatMap(grant => [...rules, ...answered]
		.filter(rule => applies(rule, grant))
		.flatMap(rule => rule.hosts)))];
}

/** Every `host:port` a grant injects into or is answered for: where only TLS moat can read may go. */
export function injectedEndpoints(
	grants: ReadonlyArray<Pick<InjectableGrant, 'provider' | 'kind'>>,
	rules: readonly ProviderAnsweredRule[] = injectionRules,
	answered: readonly ProviderAnsweredRule[] = answeredHosts,
): string[] {
	return [...new Set(injectedHosts(grants, rules, answered).map(entry => {
		const {host, port} = endpointOf(entry);
		return `${host}:${port}`;
	}))];
}

/** The grant whose requests to `authority` (`host`, meaning port 443, or `host:port`) the proxy answers itself, if any (only over TLS the agent cannot read). */
export function answeringGrant(grants: readonly InjectableGrant[], authority: string, answered: readonly ProviderAnsweredRule[] = answeredHosts): InjectableGrant | undefined {
	return grants.find(grant => grant.kind !== '' && answered.some(rule => applies(rule, grant) && declares(rule, authority)));
}

/** The injection for a request to `authority` (`host`, meaning port 443, or `host:port`) and `path`, if one of the run's grants has a rule for it. */
export function injectionFor(grants: readonly InjectableGrant[], authority: string, overVerifiedTls: boolean, path = '/', rules: readonly ProviderRule[] = injectionRules): Injection | undefined {
	if (!overVerifiedTls) {
		return undefined;
	}

	const pathname = path.split('?')[0]!;
	for (const grant of grants) {
		const rule = rules.find(candidate => applies(candidate, grant) && declares(candidate, authority)
			&& (!candidate.paths || candidate.paths.some(prefix => pathname.startsWith(prefix))));
		if (rule) {
			return {
				grant: grant.name,
				set: rule.headers(grant.token),
				merge: {...rule.merge},
				remove: authHeaders,
			};
		}
	}

	return undefined;
}

/** Merges a comma-separated header value without repeating entries. */
export function mergeHeaderList(existing: string | undefined, required: string): string {
	const values = new Set((existing ?? '').split(',').map(value => value.trim()).filter(Boolean));
	for (const value of required.split(',').map(entry => entry.trim())) {
		values.add(value);
	}

	return [...values].join(',');
}

/**
 * What the container sees instead of real credentials: each granted
 * provider's placeholders, in the variables the CLIs look for, so they
 * start and send something the proxy then replaces.
 */
export function placeholderEnvironment(grants: ReadonlyArray<Pick<InjectableGrant, 'provider'>>): Record<string, string> {
	return Object.assign({}, ...grants.map(({provider}) => credentialProviders.find(candidate => candidate.name === provider)?.placeholders ?? {})) as Record<string, string>;
}
