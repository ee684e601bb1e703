import {chatgptAuthHost} from '../credentials/chatgpt-login.js';
import {anthropicOauthBeta} from '../credentials/providers.js';

/**
 * Which credential goes into which request (SPEC §7), as a rule table. Pure:
 * the proxy looks up a request's host here and applies the result. Values
 * are produced from the token only when a rule matches, and only over
 * verified TLS — a plain-HTTP request never carries a credential.
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

type Rule = {
	provider: string;
	hosts: readonly string[];
	/** Only for tokens of this kind (ChatGPT logins reach chatgpt.com). */
	kinds?: readonly string[];
	/** Only for requests under these paths (a ChatGPT login opens the whole account; Codex needs its backend only). */
	paths?: readonly string[];
	headers(token: string): Record<string, string>;
};

const authHeaders = ['authorization', 'x-api-key', 'proxy-authorization'] as const;

/** Comma-separated headers the agent also uses (Claude Code sends its own beta flags). */
const listHeaders = new Set(['anthropic-beta']);

export const injectionRules: readonly Rule[] = [
	{provider: 'github', hosts: ['api.github.com'], headers: token => ({authorization: `Bearer ${token}`})},
	// git over HTTPS authenticates with Basic, user x-access-token.
	{provider: 'github', hosts: ['github.com'], headers: token => ({authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`})},
	{provider: 'anthropic', hosts: ['api.anthropic.com'], headers: token => ({'x-api-key': token})},
	{provider: 'claude', hosts: ['api.anthropic.com'], headers: token => ({authorization: `Bearer ${token}`, 'anthropic-beta': anthropicOauthBeta})},
	{provider: 'openai', hosts: ['api.openai.com'], headers: token => ({authorization: `Bearer ${token}`})},
	{
		provider: 'openai', hosts: ['chatgpt.com'], kinds: ['chatgpt'],
		paths: ['/backend-api/codex/', '/backend-api/wham/', '/backend-api/ps/', '/backend-api/plugins/', '/backend-api/connectors/'],
		headers: token => ({authorization: `Bearer ${token}`}),
	},
];

/**
 * Hosts the proxy answers itself for a grant instead of forwarding: a
 * ChatGPT login's refreshes (see credentials/chatgpt-login.ts), so a bottle
 * never rotates the host's tokens.
 */
export const answeredHosts: ReadonlyArray<Omit<Rule, 'headers'>> = [
	{provider: 'openai', hosts: [chatgptAuthHost], kinds: ['chatgpt']},
];

function applies(rule: Omit<Rule, 'headers'>, grant: Pick<InjectableGrant, 'provider' | 'kind'>): boolean {
	// A kind not known yet opens nothing that is only for some kinds.
	return rule.provider === grant.provider && (!rule.kinds || rule.kinds.includes(grant.kind));
}

/** Every host a grant injects into or is answered for: in strict mode these are allowed. */
export function injectedHosts(grants: ReadonlyArray<Pick<InjectableGrant, 'provider' | 'kind'>>): string[] {
	return [...new Set(grants.flatMap(grant => [...injectionRules, ...answeredHosts]
		.filter(rule => applies(rule, grant))
		.flatMap(rule => rule.hosts)))];
}

/** The grant whose requests to `host` the proxy answers itself, if any (only over TLS the agent cannot read). */
export function answeringGrant(grants: readonly InjectableGrant[], host: string): InjectableGrant | undefined {
	const name = host.toLowerCase().replace(/:\d+$/, '');
	return grants.find(grant => grant.kind !== '' && answeredHosts.some(rule => applies(rule, grant) && rule.hosts.includes(name)));
}

/** The injection for a request to `host` (and `path`), if one of the run's grants has a rule for it. */
export function injectionFor(grants: readonly InjectableGrant[], host: string, overVerifiedTls: boolean, path = '/'): Injection | undefined {
	if (!overVerifiedTls) {
		return undefined;
	}

	const name = host.toLowerCase().replace(/:\d+$/, '');
	const pathname = path.split('?')[0]!;
	for (const grant of grants) {
		const rule = injectionRules.find(candidate => candidate.provider === grant.provider && candidate.hosts.includes(name) && (!candidate.kinds || candidate.kinds.includes(grant.kind))
			&& (!candidate.paths || candidate.paths.some(prefix => pathname.startsWith(prefix))));
		if (rule) {
			const headers = Object.entries(rule.headers(grant.token));
			return {
				grant: grant.name,
				set: Object.fromEntries(headers.filter(([header]) => !listHeaders.has(header))),
				merge: Object.fromEntries(headers.filter(([header]) => listHeaders.has(header))),
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
 * What the container sees instead of real credentials: placeholders in the
 * variables the CLIs look for, so they start and send something the proxy
 * then replaces.
 */
export function placeholderEnvironment(grants: ReadonlyArray<Pick<InjectableGrant, 'provider'>>): Record<string, string> {
	const placeholders: Record<string, string> = {};
	for (const {provider} of grants) {
		switch (provider) {
			case 'github': {
				placeholders.GH_TOKEN = 'moat-placeholder-github-token';
				break;
			}

			case 'anthropic': {
				placeholders.ANTHROPIC_API_KEY = 'sk-ant-api03-moat-placeholder';
				break;
			}

			case 'claude': {
				placeholders.CLAUDE_CODE_OAUTH_TOKEN = 'sk-ant-oat01-moat-placeholder';
				break;
			}

			case 'openai': {
				// A ChatGPT login's placeholder is Codex's auth.json instead (moat codex drops this one: Codex prefers a key).
				placeholders.OPENAI_API_KEY = 'sk-moat-placeholder';
				break;
			}

			default:
		}
	}

	return placeholders;
}
