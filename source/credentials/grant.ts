import type {ProviderName} from './providers/provider-list.js';
import type {KeyringBackend} from './keyring.js';

/** Every provider a grant can be for: derived from the registered providers (providers/provider-list.ts). */
export type {ProviderName} from './providers/provider-list.js';

/** A stored credential, as kept (encrypted) in `credentials/<provider>.enc`. */
export type Grant = {
	provider: ProviderName;
	/** What runs ask for: the provider, or `ssh:HOST`. */
	name: string;
	/** Where the credential came from, for people: "gh CLI login", "GITHUB_TOKEN". */
	source: string;
	login: string | null;
	scopes: string[];
	expiresAt: string | null;
	createdAt: string;
	/** Non-secret facts: token kind, AWS role and region, SSH key fingerprint. */
	details: Record<string, string>;
	/** The secret itself. Never printed, logged or sent anywhere but the store. */
	secret: Record<string, string>;
};

/** A grant as `moat grant list` shows it: everything but the secret. */
export type GrantSummary = Omit<Grant, 'secret'>;

export function summarize(grant: Grant): GrantSummary {
	const {secret: _secret, ...summary} = grant;
	return summary;
}

/** "Granted github (as octocat; scopes repo) from gh CLI login.": what `moat grant` and the grant wizard say was saved. */
export function grantedLine(grant: Pick<Grant, 'name' | 'login' | 'scopes' | 'expiresAt' | 'source'>): string {
	const parts = [
		grant.login ? `as ${grant.login}` : '',
		grant.scopes.length > 0 ? `scopes ${grant.scopes.join(', ')}` : '',
		grant.expiresAt ? `expires ${grant.expiresAt}` : '',
	].filter(Boolean);
	return `Granted ${grant.name}${parts.length > 0 ? ` (${parts.join('; ')})` : ''} from ${grant.source}.`;
}

/** "Saved encrypted in FILE (key in the key file).": where it went, and whether the provider was asked. */
export function savedLine(file: string, keyringBackend: KeyringBackend, options: {notValidated?: boolean} = {}): string {
	return `Saved encrypted in ${file} (key in the ${keyringBackend === 'system' ? 'system keychain' : 'key file'}).${options.notValidated ? ' Not validated.' : ''}`;
}
