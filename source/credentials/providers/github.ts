import {MoatError} from '../../errors.js';
import type {TokenProvider} from './provider.js';
import {check, field} from './provider-support.js';

/** GitHub: the API with a bearer token, and git over HTTPS with Basic auth. */
export const github: TokenProvider<'github'> = {
	name: 'github',
	title: 'GitHub',
	// gh is accepted but not advertised: help and errors list the provider names.
	aliases: ['gh'],
	help: {usage: 'github', sources: 'gh auth token, GITHUB_TOKEN, GH_TOKEN'},
	grantWith: 'token',
	kinds: ['oauth', 'api-key'],
	enteredKind: 'api-key',
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
	injection: [
		{hosts: ['api.github.com'], headers: token => ({authorization: `Bearer ${token}`})},
		// git over HTTPS authenticates with Basic, user x-access-token.
		{hosts: ['github.com'], headers: token => ({authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`})},
	],
	answered: [],
	// gh reads GH_TOKEN first; git reaches github.com through the proxy, which adds the real token.
	placeholders: {GH_TOKEN: 'moat-placeholder-github-token'},
};
