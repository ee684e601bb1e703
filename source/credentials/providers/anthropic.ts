import type {TokenProvider} from './provider.js';
import {check} from './provider-support.js';

/** The Anthropic API version moat's own checks speak (Claude's check as well). */
export const anthropicVersion = '2023-06-01';

/** An Anthropic API key: x-api-key on api.anthropic.com. */
export const anthropic: TokenProvider<'anthropic'> = {
	name: 'anthropic',
	title: 'Anthropic API key',
	aliases: [],
	help: {usage: 'anthropic', sources: 'ANTHROPIC_API_KEY'},
	grantWith: 'token',
	kinds: ['api-key'],
	enteredKind: 'api-key',
	environment: ['ANTHROPIC_API_KEY'],
	howToGet: 'Create a key at https://console.anthropic.com/settings/keys.',
	formatProblem(token) {
		if (token.startsWith('sk-ant-oat')) {
			return 'it is a Claude subscription token; grant it with moat grant claude';
		}

		return /^sk-ant-[\w-]{20,}$/.test(token) ? undefined : 'it is not an Anthropic API key (they start with sk-ant-)';
	},
	// No CLI keeps an API key in a file moat should read: the environment or the prompt only.
	async detect() {
		return [];
	},
	async validate({token}, http) {
		await check(http, 'Anthropic', 'https://api.anthropic.com/v1/models', {'x-api-key': token, 'anthropic-version': anthropicVersion}, 'Create a new key and run moat grant anthropic again.');
		return {login: null, scopes: []};
	},
	injection: [
		{hosts: ['api.anthropic.com'], headers: token => ({'x-api-key': token})},
	],
	answered: [],
	placeholders: {ANTHROPIC_API_KEY: 'sk-ant-api03-moat-placeholder'},
};
