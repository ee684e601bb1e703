import {isMoatError} from '../errors.js';
import type {GrantService} from './grant-service.js';
import type {RegisteredTokenProvider} from './providers/provider-list.js';
import type {DetectedCredential} from './providers/provider.js';

export type WizardProvider = {name: string; title: string};
export type WizardSource = {source: string; warning?: string; expiresAt?: string};
export type WizardResult = {name: string; login: string | null; scopes: string[]; expiresAt: string | null; source: string; file: string};

/** "Granted github as octocat (scopes repo) from gh CLI login.": what was saved, in one line. */
export function describeWizardResult(result: WizardResult): string {
	return `Granted ${result.name}${result.login ? ` as ${result.login}` : ''}${result.scopes.length > 0 ? ` (scopes ${result.scopes.join(', ')})` : ''} from ${result.source}.`;
}

/** What the wizard needs; the CLI provides the real grant service behind it. */
export type GrantWizardServices = {
	providers: WizardProvider[];
	detect(provider: string): Promise<WizardSource[]>;
	/** Grants from the detected source at `index`, or from a typed token. */
	grant(provider: string, choice: {index: number} | {token: string}): Promise<WizardResult>;
	/** A failure as the user should read it. */
	explain(error: unknown): {message: string; hint: string};
};

/**
 * What the grant wizard runs on — `moat grant` on a terminal and `c` in the
 * dashboard: the token providers, their detected sources, and granting one
 * (validated) or a typed token.
 */
export function grantWizardServices(service: GrantService, tokenProviders: readonly RegisteredTokenProvider[]): GrantWizardServices {
	const found = new Map<string, DetectedCredential[]>();
	const providerNamed = (name: string) => tokenProviders.find(provider => provider.name === name)!;
	return {
		providers: tokenProviders.map(provider => ({name: provider.name, title: provider.title})),
		async detect(name) {
			const sources = await service.sources(providerNamed(name));
			found.set(name, sources);
			return sources.map(source => ({source: source.source, warning: source.warning, expiresAt: source.expiresAt}));
		},
		async grant(name, choice) {
			const provider = providerNamed(name);
			const credential = 'token' in choice
				? {source: 'entered token', token: choice.token, kind: provider.enteredKind}
				: found.get(name)![choice.index]!;
			const grant = await service.grantToken(provider, credential, {validate: true});
			return {name: grant.name, login: grant.login, scopes: grant.scopes, expiresAt: grant.expiresAt, source: grant.source, file: service.store.fileFor(grant.provider)};
		},
		explain: error => (isMoatError(error) ? {message: error.message, hint: error.hint} : {message: String((error as Error).message ?? error), hint: 'Run moat grant again with -v for details.'}),
	};
}
