import {isMoatError} from '../errors.js';
import {defaultAwsSessionDuration, parseDuration} from './grant-checks.js';
import type {Grant} from './grant.js';
import type {GrantService} from './grant-service.js';
import type {KeyringBackend} from './keyring.js';
import type {RegisteredProvider} from './providers/provider-list.js';
import type {DetectedCredential} from './providers/provider.js';

/**
 * A provider as the wizard offers it, by how it is granted: a token (found
 * or typed), a key of the user's SSH agent for a host, or an AWS role to
 * assume (with the region `moat grant aws` would default to).
 */
export type WizardProvider =
	| {name: string; title: string; grantWith: 'token'}
	| {name: string; title: string; grantWith: 'ssh-agent-key'}
	| {name: string; title: string; grantWith: 'aws-role'; region: string};
export type WizardSource = {source: string; warning?: string; expiresAt?: string};
/** A key the user's SSH agent holds, as the wizard lists it (the public half's facts only). */
export type WizardSshKey = {type: string; comment: string; fingerprint: string};
export type WizardResult = {name: string; login: string | null; scopes: string[]; expiresAt: string | null; source: string; file: string; keyringBackend: KeyringBackend};

/** What the wizard needs; the CLI provides the real grant service behind it. */
export type GrantWizardServices = {
	providers: WizardProvider[];
	detect(provider: string): Promise<WizardSource[]>;
	/** Grants from the detected source at `index`, or from a typed token. */
	grant(provider: string, choice: {index: number} | {token: string}): Promise<WizardResult>;
	/** The keys the user's SSH agent holds; fails saying what to do when there is no agent or no key. */
	sshKeys(): Promise<WizardSshKey[]>;
	/** Grants the agent's key with this fingerprint for `host`, as moat grant ssh --host HOST --key FINGERPRINT. */
	grantSsh(host: string, fingerprint: string): Promise<WizardResult>;
	/** Grants a role to assume, as moat grant aws --role ARN --region REGION (checked with STS first). */
	grantAws(roleArn: string, region: string): Promise<WizardResult>;
	/** A failure as the user should read it. */
	explain(error: unknown): {message: string; hint: string};
};

/**
 * What the grant wizard runs on — `moat grant` on a terminal and `c` in the
 * dashboard: every provider, and granting each the way `moat grant
 * PROVIDER` does, through the same grant service (so the same checks).
 */
export function grantWizardServices(service: GrantService, providers: readonly RegisteredProvider[]): GrantWizardServices {
	const found = new Map<string, DetectedCredential[]>();
	const providerNamed = (name: string) => providers.find(provider => provider.name === name)!;
	const tokenProviderNamed = (name: string) => {
		const provider = providerNamed(name);
		if (provider.grantWith !== 'token') {
			throw new Error(`${name} is not granted as a token`);
		}

		return provider;
	};

	const resultOf = (grant: Grant): WizardResult => ({
		name: grant.name,
		login: grant.login,
		scopes: grant.scopes,
		expiresAt: grant.expiresAt,
		source: grant.source,
		file: service.store.fileFor(grant.provider),
		keyringBackend: service.keyringBackend,
	});
	return {
		providers: providers.map((provider): WizardProvider => provider.grantWith === 'aws-role'
			? {name: provider.name, title: provider.title, grantWith: provider.grantWith, region: service.defaultAwsRegion()}
			: {name: provider.name, title: provider.title, grantWith: provider.grantWith}),
		async detect(name) {
			const sources = await service.sources(tokenProviderNamed(name));
			found.set(name, sources);
			return sources.map(source => ({source: source.source, warning: source.warning, expiresAt: source.expiresAt}));
		},
		async grant(name, choice) {
			const provider = tokenProviderNamed(name);
			const credential = 'token' in choice
				? {source: 'entered token', token: choice.token, kind: provider.enteredKind}
				: found.get(name)![choice.index]!;
			return resultOf(await service.grantToken(provider, credential, {validate: true}));
		},
		async sshKeys() {
			return (await service.agentIdentities()).map(({type, comment, fingerprint}) => ({type, comment, fingerprint}));
		},
		async grantSsh(host, fingerprint) {
			return resultOf(await service.grantSsh(host, fingerprint));
		},
		async grantAws(roleArn, region) {
			// The CLI's defaults for what the wizard does not ask: the default session length, no external id.
			return resultOf(await service.grantAws({roleArn, region, sessionDurationSeconds: parseDuration(defaultAwsSessionDuration)!}, {validate: true}));
		},
		explain: error => (isMoatError(error) ? {message: error.message, hint: error.hint} : {message: String((error as Error).message ?? error), hint: 'Run moat grant again with -v for details.'}),
	};
}
