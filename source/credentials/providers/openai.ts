import path from 'node:path';
import {chatgptAuthHost} from '../chatgpt-login.js';
import type {TokenProvider} from './provider.js';
import {check, field, jwtExpiry, readJson} from './provider-support.js';

/**
 * OpenAI / Codex: an API key on api.openai.com, or a ChatGPT login (Codex's
 * `codex login`) that also reaches Codex's backend on chatgpt.com and whose
 * refreshes the proxy answers itself (see ../chatgpt-login.ts).
 */
export const openai: TokenProvider<'openai'> = {
	name: 'openai',
	title: 'OpenAI / Codex',
	aliases: ['codex'],
	listedAlias: 'codex',
	help: {usage: 'openai (codex)', sources: 'OPENAI_API_KEY, ~/.codex/auth.json'},
	grantWith: 'token',
	kinds: ['api-key', 'chatgpt'],
	enteredKind: 'api-key',
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
	injection: [
		{hosts: ['api.openai.com'], headers: token => ({authorization: `Bearer ${token}`})},
		{
			hosts: ['chatgpt.com'], kinds: ['chatgpt'],
			paths: ['/backend-api/codex/', '/backend-api/wham/', '/backend-api/ps/', '/backend-api/plugins/', '/backend-api/connectors/'],
			headers: token => ({authorization: `Bearer ${token}`}),
		},
	],
	// A ChatGPT login's refreshes: answered with placeholders, so a bottle never rotates the host's tokens.
	answered: [{hosts: [chatgptAuthHost], kinds: ['chatgpt']}],
	// A ChatGPT login's placeholder is Codex's auth.json instead (moat codex drops this one: Codex prefers a key).
	placeholders: {OPENAI_API_KEY: 'sk-moat-placeholder'},
};
