import path from 'node:path';
import {anthropicVersion} from './anthropic.js';
import type {DetectedCredential, TokenProvider} from './provider.js';
import {check, field, readJson} from './provider-support.js';

/** The beta flag Anthropic's API requires for OAuth (subscription) tokens. */
export const anthropicOauthBeta = 'oauth-2025-04-20';

/** A Claude subscription (Claude Code's OAuth login): a bearer token and the OAuth beta flag on api.anthropic.com. */
export const claude: TokenProvider<'claude'> = {
	name: 'claude',
	title: 'Claude subscription (Claude Code login)',
	aliases: [],
	help: {usage: 'claude', sources: 'claude setup-token, CLAUDE_CODE_OAUTH_TOKEN, ~/.claude/.credentials.json'},
	grantWith: 'token',
	kinds: ['oauth'],
	enteredKind: 'oauth',
	environment: ['CLAUDE_CODE_OAUTH_TOKEN'],
	howToGet: 'Run claude setup-token (a long-lived token) and paste what it prints.',
	// Claude Code's own login is short-lived; only setup-token gives one that lasts.
	expiredHint: 'Run claude setup-token for a long-lived token and pass it to moat grant claude.',
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
					// Not JSON we know: the keychain holds something else under that name; other sources may still have a login.
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
	injection: [
		{hosts: ['api.anthropic.com'], headers: token => ({authorization: `Bearer ${token}`}), merge: {'anthropic-beta': anthropicOauthBeta}},
	],
	answered: [],
	placeholders: {CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-moat-placeholder'},
};
