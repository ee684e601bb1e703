import fs from 'node:fs/promises';
import path from 'node:path';
import {MoatError, usageError} from '../errors.js';
import {decodeClaims} from './chatgpt-login.js';
import type {OutboundHttp} from '../network/outbound-http.js';
import type {ProviderName} from './grant.js';

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

export type Validation = {login: string | null; scopes: string[]; expiresAt?: string};

/** A token-based provider: where its credentials come from and how they are checked. */
export type TokenProvider = {
	name: Exclude<ProviderName, 'aws' | 'ssh'>;
	title: string;
	/** Environment variables that may hold the token, in order. */
	environment: readonly string[];
	/** What to tell a user who has no token yet. */
	howToGet: string;
	/** Why the text cannot be this provider's token, or undefined. */
	formatProblem(token: string): string | undefined;
	/** Credentials from existing CLI logins and their files (not the environment). */
	detect(context: DetectionContext): Promise<DetectedCredential[]>;
	validate(credential: {token: string; kind: string}, http: OutboundHttp): Promise<Validation>;
};

async function readJson(file: string): Promise<unknown> {
	try {
		return JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
	} catch {
		return undefined;
	}
}

function field(value: unknown, ...keys: string[]): unknown {
	let current = value;
	for (const key of keys) {
		current = current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
	}

	return current;
}

/** The `exp` of a JWT, without trusting anything else in it. */
export function jwtExpiry(token: string): Date | undefined {
	const exp = decodeClaims(token)?.exp;
	return typeof exp === 'number' ? new Date(exp * 1000) : undefined;
}

function rejected(provider: string, status: number, body: string, fix: string): MoatError {
	let reason = `HTTP ${status}`;
	try {
		const parsed = JSON.parse(body) as {message?: string; error?: {message?: string} | string};
		const message = parsed.message ?? (typeof parsed.error === 'string' ? parsed.error : parsed.error?.message);
		if (message) {
			reason = message;
		}
	} catch {
		// Not JSON (a proxy's HTML page, say): the HTTP status is the reason.
	}

	return new MoatError(`${provider} rejected the token: ${reason}.`, fix);
}

function unreachable(provider: string, error: unknown): MoatError {
	return new MoatError(
		`Could not check the token with ${provider}: ${(error as Error).message}.`,
		'Check your network, or pass --no-validate to store it unchecked.',
		1,
		{cause: error},
	);
}

async function check(
	http: OutboundHttp,
	provider: string,
	url: string,
	headers: Record<string, string>,
	fix: string,
): Promise<{body: string; headers: Record<string, string | string[] | undefined>}> {
	let response;
	try {
		response = await http.get(url, {'user-agent': 'moat', ...headers});
	} catch (error) {
		throw unreachable(provider, error);
	}

	if (response.status === 401 || response.status === 403) {
		throw rejected(provider, response.status, response.body, fix);
	}

	if (response.status < 200 || response.status >= 300) {
		throw new MoatError(`${provider} answered HTTP ${response.status} when checking the token.`, 'Try again later, or pass --no-validate to store it unchecked.');
	}

	return response;
}

const anthropicVersion = '2023-06-01';
/** The beta flag Anthropic's API requires for OAuth (subscription) tokens. */
export const anthropicOauthBeta = 'oauth-2025-04-20';

const github: TokenProvider = {
	name: 'github',
	title: 'GitHub',
	environment: ['GITHUB_TOKEN', 'GH_TOKEN'],
	howToGet: 'Run gh auth login, or create a token at https://github.com/settings/tokens.',
	formatProblem(token) {
		return /^(gh[pousr]_\w{20,}|github_pat_\w{20,}|[\da-f]{40})$/.test(token)
			? undefined
			: 'it is not a GitHub token (they start with ghp_, gho_, ghu_, ghs_, ghr_ or github_pat_)';
	},
	async detect(context) {
		const token = await context.runCommand('gh', ['auth', 'token']);
		return token ? [{source: 'gh CLI login', token, kind: 'oauth'}] : [];
	},
	async validate({token}, http) {
		const response = await check(http, 'GitHub', 'https://api.github.com/user', {authorization: `Bearer ${token}`, accept: 'application/vnd.github+json'}, 'Create a new token (or run gh auth login) and run moat grant github again.');
		let body: unknown;
		try {
			body = JSON.parse(response.body);
		} catch (error) {
			// A captive portal or proxy answering in GitHub's place.
			throw new MoatError('GitHub answered the token check with something that is not GitHub\'s API.', 'Check your network (a captive portal or proxy?), or pass --no-validate.', 1, {cause: error});
		}

		const login = field(body, 'login');
		const scopes = String(response.headers['x-oauth-scopes'] ?? '').split(',').map(scope => scope.trim()).filter(Boolean);
		return {login: typeof login === 'string' ? login : null, scopes};
	},
};

const anthropic: TokenProvider = {
	name: 'anthropic',
	title: 'Anthropic API key',
	environment: ['ANTHROPIC_API_KEY'],
	howToGet: 'Create a key at https://console.anthropic.com/settings/keys.',
	formatProblem(token) {
		if (token.startsWith('sk-ant-oat')) {
			return 'it is a Claude subscription token; grant it with moat grant claude';
		}

		return /^sk-ant-[\w-]{20,}$/.test(token) ? undefined : 'it is not an Anthropic API key (they start with sk-ant-)';
	},
	async detect() {
		return [];
	},
	async validate({token}, http) {
		await check(http, 'Anthropic', 'https://api.anthropic.com/v1/models', {'x-api-key': token, 'anthropic-version': anthropicVersion}, 'Create a new key and run moat grant anthropic again.');
		return {login: null, scopes: []};
	},
};

const claude: TokenProvider = {
	name: 'claude',
	title: 'Claude subscription (Claude Code login)',
	environment: ['CLAUDE_CODE_OAUTH_TOKEN'],
	howToGet: 'Run claude setup-token (a long-lived token) and paste what it prints.',
	formatProblem(token) {
		if (/^sk-ant-api/.test(token)) {
			return 'it is an Anthropic API key; grant it with moat grant anthropic';
		}

		return /^sk-ant-oat[\w-]{20,}$/.test(token) ? undefined : 'it is not a Claude OAuth token (they start with sk-ant-oat)';
	},
	async detect(context) {
		const found: DetectedCredential[] = [];
		const warning = 'This is Claude Code\'s own short-lived login; moat does not refresh it (that would sign Claude Code out). For a token that lasts, run claude setup-token.';
		const fromCredentials = async (source: string, value: unknown) => {
			const token = field(value, 'claudeAiOauth', 'accessToken');
			const expiresAt = field(value, 'claudeAiOauth', 'expiresAt');
			if (typeof token === 'string' && token !== '') {
				found.push({
					source,
					token,
					kind: 'oauth',
					expiresAt: typeof expiresAt === 'number' ? new Date(expiresAt).toISOString() : undefined,
					warning,
				});
			}
		};

		await fromCredentials('~/.claude/.credentials.json', await readJson(path.join(context.userHome, '.claude', '.credentials.json')));
		if (context.platform === 'darwin') {
			const stored = await context.runCommand('security', ['find-generic-password', '-s', 'Claude Code-credentials', '-w']);
			if (stored) {
				try {
					await fromCredentials('macOS keychain (Claude Code-credentials)', JSON.parse(stored));
				} catch {
					// Not JSON: the keychain item holds nothing moat can use.
				}
			}
		}

		return found;
	},
	async validate({token}, http) {
		await check(
			http,
			'Anthropic',
			'https://api.anthropic.com/v1/models',
			{authorization: `Bearer ${token}`, 'anthropic-version': anthropicVersion, 'anthropic-beta': anthropicOauthBeta},
			'Run claude setup-token for a new token and run moat grant claude again.',
		);
		return {login: null, scopes: []};
	},
};

const openai: TokenProvider = {
	name: 'openai',
	title: 'OpenAI / Codex',
	environment: ['OPENAI_API_KEY'],
	howToGet: 'Create a key at https://platform.openai.com/api-keys, or sign in with codex login.',
	formatProblem(token) {
		if (token.startsWith('sk-ant-')) {
			return `it is an Anthropic token; grant it with moat grant ${token.startsWith('sk-ant-oat') ? 'claude' : 'anthropic'}`;
		}

		return /^sk-[\w-]{20,}$/.test(token) || /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(token)
			? undefined
			: 'it is not an OpenAI API key (they start with sk-) or a ChatGPT login token';
	},
	async detect(context) {
		const auth = await readJson(path.join(context.userHome, '.codex', 'auth.json'));
		const apiKey = field(auth, 'OPENAI_API_KEY');
		if (typeof apiKey === 'string' && apiKey !== '') {
			return [{source: '~/.codex/auth.json (API key)', token: apiKey, kind: 'api-key'}];
		}

		const accessToken = field(auth, 'tokens', 'access_token');
		if (typeof accessToken === 'string' && accessToken !== '') {
			return [{
				source: '~/.codex/auth.json (ChatGPT login)',
				token: accessToken,
				kind: 'chatgpt',
				expiresAt: jwtExpiry(accessToken)?.toISOString(),
				warning: 'This is Codex\'s own ChatGPT login; moat does not refresh it.',
			}];
		}

		return [];
	},
	async validate({token, kind}, http) {
		if (kind === 'chatgpt' || token.startsWith('eyJ')) {
			// ChatGPT logins have no public check; their expiry was checked instead.
			return {login: null, scopes: [], expiresAt: jwtExpiry(token)?.toISOString()};
		}

		await check(http, 'OpenAI', 'https://api.openai.com/v1/models', {authorization: `Bearer ${token}`}, 'Create a new key and run moat grant openai again.');
		return {login: null, scopes: []};
	},
};

export const tokenProviders: readonly TokenProvider[] = [github, anthropic, claude, openai];

/** Provider names users may type, with their canonical name. */
export const providerAliases: Readonly<Record<string, ProviderName>> = {
	github: 'github',
	gh: 'github',
	anthropic: 'anthropic',
	claude: 'claude',
	openai: 'openai',
	codex: 'openai',
	aws: 'aws',
	ssh: 'ssh',
};

export function tokenProvider(name: ProviderName): TokenProvider | undefined {
	return tokenProviders.find(provider => provider.name === name);
}

/** Refuses an imported credential that has already expired. */
export function checkNotExpired(credential: DetectedCredential, provider: TokenProvider, now: Date): void {
	if (credential.expiresAt && new Date(credential.expiresAt) <= now) {
		throw usageError(
			`The ${provider.title} credential from ${credential.source} expired at ${credential.expiresAt}.`,
			provider.name === 'claude' ? 'Run claude setup-token for a long-lived token and pass it to moat grant claude.' : `Sign in again, then run moat grant ${provider.name}.`,
		);
	}
}
