import {usageError} from '../../errors.js';
import {anthropic} from './anthropic.js';
import {aws} from './aws.js';
import {claude} from './claude.js';
import {github} from './github.js';
import {openai} from './openai.js';
import type {CredentialProvider, DetectedCredential, TokenProvider} from './provider.js';
import {ssh} from './ssh.js';
import {printable} from '../../text/printable.js';

/**
 * Every credential provider, registered once. The order is the order people
 * see them in (help, errors, the grant wizard); within a provider, the
 * order of its injection rules is the order the proxy tries them.
 */
export const credentialProviders = [github, anthropic, claude, openai, aws, ssh] as const satisfies readonly CredentialProvider[];

/** One of the registered providers, with its own name's type. */
export type RegisteredProvider = (typeof credentialProviders)[number];

/** Every provider a grant can be for. */
export type ProviderName = RegisteredProvider['name'];

export const providerNames: readonly ProviderName[] = credentialProviders.map(provider => provider.name);

/** A registered provider granted as a token, with its own name's type. */
export type RegisteredTokenProvider = Extract<RegisteredProvider, {grantWith: 'token'}>;

/** The providers granted as tokens (found, typed or piped). */
export const tokenProviders: readonly RegisteredTokenProvider[] = credentialProviders.filter((provider): provider is RegisteredTokenProvider => provider.grantWith === 'token');

/** Provider names users may type, with their canonical name: each name, then its aliases. */
export const providerAliases: Readonly<Record<string, ProviderName>> = Object.fromEntries(credentialProviders.flatMap((provider): Array<[string, ProviderName]> => [
	[provider.name, provider.name],
	...provider.aliases.map((alias): [string, ProviderName] => [alias, provider.name]),
]));

export function credentialProvider(name: ProviderName): RegisteredProvider {
	return credentialProviders.find(provider => provider.name === name)!;
}

export function tokenProvider(name: ProviderName): RegisteredTokenProvider | undefined {
	return tokenProviders.find(provider => provider.name === name);
}

/** Refuses an imported credential that has already expired. */
export function checkNotExpired(credential: DetectedCredential, provider: TokenProvider, now: Date): void {
	if (credential.expiresAt && new Date(credential.expiresAt) <= now) {
		throw usageError(
			`The ${provider.title} credential from ${printable(credential.source)} expired at ${printable(credential.expiresAt)}.`,
			provider.expiredHint ?? `Sign in again, then run moat grant ${provider.name}.`,
		);
	}
}

/** The packages moat's helpers need in a run's image for these grants (`ssh:HOST` is the ssh provider's). */
export function containerPackagesFor(grants: readonly string[]): string[] {
	const providers = new Set(grants.map(grant => grant.split(':')[0]));
	return [...new Set(credentialProviders.filter(provider => providers.has(provider.name)).flatMap(provider => provider.containerPackages ?? []))];
}
