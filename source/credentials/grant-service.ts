import {execFile} from 'node:child_process';
import type {MoatEnvironment} from '../environment.js';
import {environmentVariables} from '../environment.js';
import {MoatError, notFoundError, usageError} from '../errors.js';
import {createOutboundHttp, type OutboundHttp} from '../network/outbound-http.js';
import type {AgentIdentity} from '../sshagent/agent-client.js';
import {createCredentialStore, type CredentialStore} from './credential-store.js';
import {defaultAwsRegion, sshHostProblem} from './grant-checks.js';
import type {Grant} from './grant.js';
import {openKeyring, type Keyring} from './keyring.js';
import {aws} from './providers/aws.js';
import type {DetectedCredential, DetectionContext, TokenProvider} from './providers/provider.js';
import {checkNotExpired, type RegisteredTokenProvider} from './providers/provider-list.js';
import {ssh} from './providers/ssh.js';
import {printable} from '../text/printable.js';

function runCommand(command: string, args: readonly string[], variables: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
	return new Promise(resolve => {
		execFile(command, [...args], {env: variables as NodeJS.ProcessEnv, timeout: 10_000}, (error, stdout) => {
			resolve(error ? undefined : stdout.trim() || undefined);
		});
	});
}

export type GrantServiceDependencies = {
	environment: MoatEnvironment;
	store: CredentialStore;
	http: OutboundHttp;
	keyring: Keyring;
};

/**
 * A grant that changes under running runs changes what they can do: each
 * active run that uses it gets a `grant.changed` entry in its audit log.
 */
function auditedStore(store: CredentialStore, environment: MoatEnvironment): CredentialStore {
	const recordChange = async (name: string, action: 'granted' | 'revoked') => {
		const [{createRunStore}, {createAuditLog, SealedLogError}, {isActive}] = await Promise.all([
			import('../runs/run-store.js'),
			import('../audit/audit-log.js'),
			import('../runs/run-metadata.js'),
		]);
		const audit = createAuditLog(environment.moatHome, environment.now);
		const provider = name.startsWith('ssh:') ? name : name.split(':')[0]!;
		for (const run of (await createRunStore(environment.moatHome).list()).filter(candidate => isActive(candidate))) {
			if (run.grants.some(grant => grant === name || (!grant.startsWith('ssh:') && grant.split(':')[0] === provider))) {
				await audit.record(run.id, 'grant.changed', {grant: name, action}).catch((error: unknown) => {
					// The run ended since it was listed: the grant no longer reaches it.
					if (!(error instanceof SealedLogError)) {
						throw error;
					}
				});
			}
		}
	};

	return {
		...store,
		async save(grant) {
			await store.save(grant);
			await recordChange(grant.name, 'granted');
		},
		async remove(name) {
			const removed = await store.remove(name);
			if (removed) {
				await recordChange(name, 'revoked');
			}

			return removed;
		},
	};
}

/** Builds the grant service on the real keyring, store and network. */
export async function createDefaultGrantService(environment: MoatEnvironment) {
	const keyring = await openKeyring(environment);
	return createGrantService({
		environment,
		keyring,
		store: auditedStore(createCredentialStore(environment.moatHome, keyring), environment),
		http: createOutboundHttp(environment.variables[environmentVariables.upstreamOverrides]),
	});
}

/** Finding, checking, storing and removing grants. */
export function createGrantService({environment, store, http, keyring}: GrantServiceDependencies) {
	const detection: DetectionContext = {
		variables: environment.variables,
		userHome: environment.userHome,
		platform: environment.platform,
		runCommand: async (command, args) => runCommand(command, args, environment.variables),
		now: environment.now(),
	};

	return {
		keyringBackend: keyring.backend,
		store,

		/** Every credential found for a provider: CLI logins and files first, then the environment. */
		async sources(provider: TokenProvider): Promise<DetectedCredential[]> {
			const fromEnvironment = provider.environment
				.filter(name => (environment.variables[name] ?? '').trim() !== '')
				.map(name => ({source: name, token: environment.variables[name]!.trim(), kind: provider.enteredKind}));
			return [...(await provider.detect(detection)), ...fromEnvironment];
		},

		/** Checks a token's form, expiry and (unless told not to) the provider's answer, then stores it. */
		async grantToken(provider: RegisteredTokenProvider, credential: DetectedCredential, options: {validate: boolean}): Promise<Grant> {
			const token = credential.token.trim();
			if (token === '') {
				throw usageError(`The ${provider.title} token is empty.`, provider.howToGet);
			}

			const problem = provider.formatProblem(token);
			if (problem) {
				throw usageError(`That ${provider.title} token does not look right: ${problem}.`, provider.howToGet);
			}

			checkNotExpired(credential, provider, environment.now());
			const validation = options.validate ? await provider.validate({token, kind: credential.kind}, http) : {login: null, scopes: []};
			const grant: Grant = {
				provider: provider.name,
				name: provider.name,
				source: credential.source,
				login: validation.login,
				scopes: validation.scopes,
				expiresAt: credential.expiresAt ?? validation.expiresAt ?? null,
				createdAt: environment.now().toISOString(),
				details: {kind: credential.kind, validated: String(options.validate)},
				secret: {token},
			};
			await store.save(grant);
			return grant;
		},

		/**
		 * Stores an AWS role to assume for runs. Unless told not to, the role
		 * is assumed once now with the host's own credentials, to prove it works.
		 */
		async grantAws(role: {roleArn: string; region: string; sessionDurationSeconds: number; externalId?: string}, options: {validate: boolean}): Promise<Grant> {
			const check = options.validate
				? await aws.validate(role, await aws.detect(detection), http, environment.now())
				: undefined;
			const grant: Grant = {
				provider: 'aws',
				name: 'aws',
				source: 'role to assume',
				login: role.roleArn,
				scopes: [],
				expiresAt: null,
				createdAt: environment.now().toISOString(),
				details: {
					roleArn: role.roleArn,
					region: role.region,
					sessionDurationSeconds: String(role.sessionDurationSeconds),
					validated: String(options.validate),
					...(check?.expiresAt ? {checkedSessionExpiry: check.expiresAt} : {}),
				},
				secret: role.externalId ? {externalId: role.externalId} : {},
			};
			await store.save(grant);
			return grant;
		},

		/** The region a role grant gets when none is named (AWS_REGION, AWS_DEFAULT_REGION, us-east-1). */
		defaultAwsRegion(): string {
			return defaultAwsRegion(environment.variables);
		},

		/** The keys the user's SSH agent holds; an error saying what to do when there is no agent or it holds none. */
		async agentIdentities(): Promise<AgentIdentity[]> {
			const identities = await ssh.detect(detection);
			if (identities.length === 0) {
				throw usageError('The SSH agent holds no keys.', 'Add one with ssh-add, then try again.');
			}

			return identities;
		},

		/**
		 * Maps one key from the user's SSH agent to a host. `key` picks it by
		 * fingerprint, comment or public key; by default the agent's first key.
		 * Only the public key is stored: the private key stays in the agent.
		 */
		async grantSsh(host: string, key: string | undefined, publicKeyText?: string): Promise<Grant> {
			const hostProblem = sshHostProblem(host);
			if (hostProblem) {
				throw usageError(hostProblem, 'Pass the host the key is for, as in moat grant ssh --host github.com.');
			}

			const identities = await this.agentIdentities();

			const wanted = publicKeyText?.trim().split(/\s+/).slice(0, 2).join(' ');
			const identity = key === undefined && wanted === undefined
				? identities[0]!
				: identities.find(candidate => candidate.fingerprint === key || candidate.comment === key || (wanted !== undefined && candidate.publicKey.startsWith(wanted)));
			if (!identity) {
				throw usageError(
					`The SSH agent has no key matching "${printable(String(key))}".`,
					`Pass one of: ${printable(identities.map(candidate => `${candidate.fingerprint} (${candidate.comment || candidate.type})`).join(', '))}.`,
				);
			}

			const hostKeys = await ssh.validate(host, detection);
			if (hostKeys?.length === 0) {
				throw new MoatError(`${host} presented no SSH host keys moat can use.`, `Check that ${host} is an SSH server, then try again.`);
			}

			const grant: Grant = {
				provider: 'ssh',
				name: `ssh:${host.toLowerCase()}`,
				source: `SSH agent key ${identity.comment || identity.type}`,
				login: null,
				scopes: [],
				expiresAt: null,
				createdAt: environment.now().toISOString(),
				details: {host: host.toLowerCase(), fingerprint: identity.fingerprint, type: identity.type, comment: identity.comment, ...hostKeys === undefined ? {} : {hostKeys: hostKeys.join('\n')}},
				secret: {publicKey: identity.publicKey},
			};
			await store.save(grant);
			return grant;
		},

		async list(): Promise<Grant[]> {
			return store.list();
		},

		async revoke(name: string): Promise<void> {
			if (!(await store.remove(name))) {
				throw notFoundError(`There is no ${name} grant to revoke.`, 'See moat grant list for the grants you have.');
			}
		},
	};
}

export type GrantService = ReturnType<typeof createGrantService>;
