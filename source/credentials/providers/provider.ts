import type {OutboundHttp} from '../../network/outbound-http.js';
import type {AgentIdentity} from '../../sshagent/agent-client.js';
import type {AwsRole} from '../aws-role.js';
import type {AwsCredentials} from '../aws-signature.js';

/**
 * What a credential provider is, in moat's own types. Each provider is one
 * file in this folder, registered once in provider-list.ts; the grant
 * command, the grant wizard, the proxy's injection table, strict mode's
 * hosts and the bottle's placeholders are all derived from that list.
 */

/** What detection may look at: passed in, so tests use a fake HOME and PATH. */
export type DetectionContext = {
	variables: Readonly<Record<string, string | undefined>>;
	userHome: string;
	platform: NodeJS.Platform;
	/** Runs a program; its trimmed stdout, or undefined if it failed or is missing. */
	runCommand(command: string, args: readonly string[]): Promise<string | undefined>;
	now: Date;
};

/** A credential found on the machine, before validation. */
export type DetectedCredential = {
	/** For people: "gh CLI login", "GITHUB_TOKEN", "~/.claude/.credentials.json". */
	source: string;
	token: string;
	expiresAt?: string;
	/** The kind of token, kept in the grant's details ("api-key", "oauth", "chatgpt"). */
	kind: string;
	warning?: string;
};

/** What a provider's check says about a token that works. */
export type Validation = {login: string | null; scopes: string[]; expiresAt?: string};

/**
 * Which of a grant's requests carry its credential, and how. The proxy
 * applies a rule only over verified TLS, to the exact host (never a
 * subdomain) on a declared port, and only for a grant of the rule's kinds.
 */
export type InjectionRule = {
	/**
	 * `host` (port 443) or `host:port`: the credential goes to exactly these
	 * endpoints, so the same name on another port gets nothing.
	 */
	hosts: readonly string[];
	/** Only for tokens of these kinds (ChatGPT logins reach chatgpt.com). A grant whose kind is not known yet matches none. */
	kinds?: readonly string[];
	/** Only for requests under these path prefixes (a ChatGPT login opens the whole account; Codex needs its backend only). */
	paths?: readonly string[];
	/** Headers to set, replacing whatever the agent sent under those names. */
	headers(token: string): Record<string, string>;
	/** Comma-separated list headers to extend, keeping the agent's own values (Claude Code sends its own beta flags). */
	merge?: Readonly<Record<string, string>>;
};

/**
 * Hosts the proxy answers itself for a grant instead of forwarding (a
 * ChatGPT login's refreshes, so a bottle never rotates the host's tokens).
 */
export type AnsweredRule = Pick<InjectionRule, 'hosts' | 'kinds'>;

/** What every provider declares, whatever way it is granted. */
type ProviderBase<Name extends string> = {
	/** The canonical name: what grants are stored and asked for by. */
	name: Name;
	/** For people: the wizard's choices, prompts and messages. */
	title: string;
	/** Other names `moat grant` accepts (gh, codex). */
	aliases: readonly string[];
	/** The alias help and errors mention beside the name, as in "openai (or codex)". */
	listedAlias?: string;
	/** Its entry in `moat grant --help`: how to ask for it, and where its credential is found. */
	help: {usage: string; sources?: string};
	/**
	 * Requests that get the credential. Strict mode allows exactly these hosts
	 * and `answered`'s for a grant (see injectedHosts), so there is no second
	 * list to drift from them.
	 */
	injection: readonly InjectionRule[];
	answered: readonly AnsweredRule[];
	/** What the bottle sees instead of the credential: variables the CLIs look for, holding placeholders the proxy replaces. */
	placeholders: Readonly<Record<string, string>>;
	/** Debian packages moat's own helpers for this grant need in the image (ssh for ssh:, curl for the AWS helper). */
	containerPackages?: readonly string[];
};

/** A provider granted as a bearer-like token: found, typed or piped, checked, stored and injected into headers. */
export type TokenProvider<Name extends string = string> = ProviderBase<Name> & {
	grantWith: 'token';
	/** Every kind a grant's token may be ("api-key", "oauth", "chatgpt"). */
	kinds: readonly string[];
	/** The kind of a token read from the environment, typed or piped (detection names its own). */
	enteredKind: string;
	/** Environment variables that may hold the token, in order. */
	environment: readonly string[];
	/** What to tell a user who has no token yet. */
	howToGet: string;
	/** What to tell a user whose imported credential has expired (default: sign in again). */
	expiredHint?: string;
	/** Why the text cannot be this provider's token, or undefined. */
	formatProblem(token: string): string | undefined;
	/** Credentials from existing CLI logins and their files (not the environment). */
	detect(context: DetectionContext): Promise<DetectedCredential[]>;
	validate(credential: {token: string; kind: string}, http: OutboundHttp): Promise<Validation>;
};

/**
 * AWS: the grant is a role to assume, never a key. The host's own
 * credentials assume it (in the daemon, per run); the bottle reaches the
 * session through a credential_process helper, not through headers.
 */
export type AwsRoleProvider = ProviderBase<'aws'> & {
	grantWith: 'aws-role';
	/** The host's own credentials, which assume the role: they never leave the host. */
	detect(context: DetectionContext): Promise<AwsCredentials | undefined>;
	/** Assumes the role once, as runs will, to prove it works. */
	validate(role: AwsRole, credentials: AwsCredentials | undefined, http: OutboundHttp, now: Date): Promise<{expiresAt?: string}>;
};

/**
 * SSH: the grant maps one key of the user's SSH agent to one host. Only the
 * public key is stored; the bottle's agent signs through the user's, for that
 * host only. Strict mode allows each grant's own host on its SSH port.
 */
export type SshKeyProvider = ProviderBase<'ssh'> & {
	grantWith: 'ssh-agent-key';
	/** The keys the user's agent holds. */
	detect(context: DetectionContext): Promise<AgentIdentity[]>;
	/** The host keys to record for `host`, or undefined when moat pins them already. */
	validate(host: string, context: DetectionContext): Promise<string[] | undefined>;
};

export type CredentialProvider = TokenProvider<string> | AwsRoleProvider | SshKeyProvider;
