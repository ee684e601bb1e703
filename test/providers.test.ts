import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import type {ProviderName} from '../source/credentials/grant.js';
import {anthropicOauthBeta} from '../source/credentials/providers/claude.js';
import type {DetectedCredential, DetectionContext, TokenProvider} from '../source/credentials/providers/provider.js';
import {checkNotExpired, providerAliases, tokenProvider, tokenProviders} from '../source/credentials/providers/provider-list.js';
import {jwtExpiry} from '../source/credentials/providers/provider-support.js';
import {exitCodes, MoatError} from '../source/errors.js';
import type {HttpResponse, OutboundHttp} from '../source/network/outbound-http.js';

function provider(name: ProviderName): TokenProvider {
	const found = tokenProvider(name);
	if (!found) {
		throw new Error(`no token provider ${name}`);
	}

	return found;
}

/** An unsigned JWT with the given payload; only its shape and `exp` matter to moat. */
function jwt(payload: Record<string, unknown>): string {
	const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
	return `${part({alg: 'RS256', typ: 'JWT'})}.${part(payload)}.c2lnbmF0dXJl`;
}

const chatgptToken = jwt({exp: 2_000_000_000, sub: 'user'});
const githubToken = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
const anthropicKey = 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789';
const claudeToken = 'sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123456789';
const openaiKey = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789';

test('there is a token provider for github, anthropic, claude and openai, and none for aws or ssh', t => {
	t.deepEqual(tokenProviders.map(each => each.name), ['github', 'anthropic', 'claude', 'openai']);
	t.is(tokenProvider('aws'), undefined);
	t.is(tokenProvider('ssh'), undefined);
});

test('the aliases gh and codex name github and openai', t => {
	t.is(providerAliases.gh, 'github');
	t.is(providerAliases.codex, 'openai');
	for (const each of tokenProviders) {
		t.is(providerAliases[each.name], each.name);
	}
});

/** [provider, token, undefined when accepted or a pattern the refusal must match]. */
const formats: Array<[ProviderName, string, RegExp | undefined]> = [
	['github', githubToken, undefined],
	['github', 'gho_abcdefghijklmnopqrstuvwxyz0123456789', undefined],
	['github', 'ghu_abcdefghijklmnopqrstuvwxyz0123456789', undefined],
	['github', 'ghs_abcdefghijklmnopqrstuvwxyz0123456789', undefined],
	['github', 'ghr_abcdefghijklmnopqrstuvwxyz0123456789', undefined],
	['github', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz', undefined],
	['github', '0123456789abcdef0123456789abcdef01234567', undefined],
	['github', '', /not a GitHub token/],
	['github', 'ghp_short', /not a GitHub token/],
	['github', 'gha_abcdefghijklmnopqrstuvwxyz0123456789', /not a GitHub token/],
	['github', ` ${githubToken}`, /not a GitHub token/],
	['github', `${githubToken}\n`, /not a GitHub token/],
	['github', 'ghp_abcdefghij klmnopqrstuvwxyz0123456789', /not a GitHub token/],
	['github', '0123456789abcdef0123456789abcdef0123456', /not a GitHub token/],
	['github', anthropicKey, /not a GitHub token/],
	['anthropic', anthropicKey, undefined],
	['anthropic', 'sk-ant-admin01-abcdefghijklmnopqrstuvwxyz', undefined],
	['anthropic', claudeToken, /Claude subscription token.*moat grant claude/],
	['anthropic', 'sk-ant-oat', /moat grant claude/],
	['anthropic', '', /not an Anthropic API key/],
	['anthropic', 'sk-ant-short', /not an Anthropic API key/],
	['anthropic', openaiKey, /not an Anthropic API key/],
	['anthropic', githubToken, /not an Anthropic API key/],
	['anthropic', `${anthropicKey} `, /not an Anthropic API key/],
	['claude', claudeToken, undefined],
	['claude', anthropicKey, /Anthropic API key.*moat grant anthropic/],
	['claude', 'sk-ant-api', /moat grant anthropic/],
	['claude', '', /not a Claude OAuth token/],
	['claude', 'sk-ant-oat01-short', /not a Claude OAuth token/],
	['claude', openaiKey, /not a Claude OAuth token/],
	['claude', githubToken, /not a Claude OAuth token/],
	['openai', openaiKey, undefined],
	['openai', 'sk-abcdefghijklmnopqrstuvwxyz0123456789', undefined],
	['openai', chatgptToken, undefined],
	['openai', '', /not an OpenAI API key/],
	['openai', 'sk-short', /not an OpenAI API key/],
	['openai', githubToken, /not an OpenAI API key/],
	['openai', 'eyJonlyone.part', /not an OpenAI API key/],
	['openai', `${openaiKey}\n`, /not an OpenAI API key/],
];

for (const [name, token, refusal] of formats) {
	const label = token.length > 24 ? `${token.slice(0, 20)}…` : JSON.stringify(token);
	test(`${name} ${refusal ? 'refuses' : 'accepts'} the token ${label}`, t => {
		const problem = provider(name).formatProblem(token);
		if (refusal) {
			t.regex(problem ?? '', refusal);
			if (token !== '') {
				t.false(problem!.includes(token));
			}
		} else {
			t.is(problem, undefined);
		}
	});
}

type CommandCall = {command: string; args: readonly string[]};

async function temporaryHome(t: ExecutionContext): Promise<string> {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-providers-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	return home;
}

async function writeJson(file: string, value: unknown): Promise<void> {
	await fs.mkdir(path.dirname(file), {recursive: true});
	await fs.writeFile(file, typeof value === 'string' ? value : JSON.stringify(value));
}

function detectionContext(
	userHome: string,
	options: {platform?: NodeJS.Platform; answers?: Record<string, string>} = {},
): DetectionContext & {calls: CommandCall[]} {
	const calls: CommandCall[] = [];
	return {
		calls,
		variables: {},
		userHome,
		platform: options.platform ?? 'linux',
		now: new Date('2025-06-01T00:00:00Z'),
		async runCommand(command, args) {
			calls.push({command, args});
			return options.answers?.[[command, ...args].join(' ')];
		},
	};
}

test('github detects the gh CLI login from `gh auth token`', async t => {
	const context = detectionContext(await temporaryHome(t), {answers: {'gh auth token': githubToken}});
	t.deepEqual(await provider('github').detect(context), [{source: 'gh CLI login', token: githubToken, kind: 'oauth'}]);
	t.deepEqual(context.calls, [{command: 'gh', args: ['auth', 'token']}]);
});

test('github detects nothing when gh is missing or not logged in', async t => {
	const context = detectionContext(await temporaryHome(t));
	t.deepEqual(await provider('github').detect(context), []);
});

test('anthropic detects nothing from CLI logins and runs nothing', async t => {
	const home = await temporaryHome(t);
	await writeJson(path.join(home, '.claude', '.credentials.json'), {claudeAiOauth: {accessToken: claudeToken}});
	const context = detectionContext(home, {platform: 'darwin', answers: {'gh auth token': githubToken}});
	t.deepEqual(await provider('anthropic').detect(context), []);
	t.deepEqual(context.calls, []);
});

const expiresAtMilliseconds = Date.UTC(2025, 6, 1, 12, 0, 0);

test('claude detects ~/.claude/.credentials.json with expiresAt read as milliseconds and a warning to use setup-token', async t => {
	const home = await temporaryHome(t);
	await writeJson(path.join(home, '.claude', '.credentials.json'), {claudeAiOauth: {accessToken: claudeToken, refreshToken: 'sk-ant-ort01-refresh', expiresAt: expiresAtMilliseconds}});
	const context = detectionContext(home);
	const found = await provider('claude').detect(context);
	t.is(found.length, 1);
	const [credential] = found;
	t.is(credential!.source, '~/.claude/.credentials.json');
	t.is(credential!.token, claudeToken);
	t.is(credential!.kind, 'oauth');
	t.is(credential!.expiresAt, '2025-07-01T12:00:00.000Z');
	t.regex(credential!.warning ?? '', /claude setup-token/);
	t.false(credential!.warning!.includes(claudeToken));
	// Off macOS there is no keychain item to ask for.
	t.deepEqual(context.calls, []);
});

test('claude detects a login without expiresAt as having no expiry', async t => {
	const home = await temporaryHome(t);
	await writeJson(path.join(home, '.claude', '.credentials.json'), {claudeAiOauth: {accessToken: claudeToken}});
	const [credential] = await provider('claude').detect(detectionContext(home));
	t.is(credential?.expiresAt, undefined);
});

const unusableClaudeFiles: Array<[string, unknown]> = [
	['not JSON', '{"claudeAiOauth": '],
	['without claudeAiOauth', {other: {accessToken: claudeToken}}],
	['with an empty accessToken', {claudeAiOauth: {accessToken: ''}}],
	['with a numeric accessToken', {claudeAiOauth: {accessToken: 42}}],
	['holding null', null],
];

for (const [label, content] of unusableClaudeFiles) {
	test(`claude detects nothing from a credentials file ${label}`, async t => {
		const home = await temporaryHome(t);
		await writeJson(path.join(home, '.claude', '.credentials.json'), content === null ? 'null' : content);
		t.deepEqual(await provider('claude').detect(detectionContext(home)), []);
	});
}

test('claude detects nothing without ~/.claude', async t => {
	t.deepEqual(await provider('claude').detect(detectionContext(await temporaryHome(t))), []);
});

const securityCommand = 'security find-generic-password -s Claude Code-credentials -w';

test('on macOS claude also reads the Claude Code-credentials keychain item through security', async t => {
	const home = await temporaryHome(t);
	const keychainToken = `${claudeToken}-keychain`;
	await writeJson(path.join(home, '.claude', '.credentials.json'), {claudeAiOauth: {accessToken: claudeToken, expiresAt: expiresAtMilliseconds}});
	const context = detectionContext(home, {
		platform: 'darwin',
		answers: {[securityCommand]: JSON.stringify({claudeAiOauth: {accessToken: keychainToken, expiresAt: expiresAtMilliseconds + 1000}})},
	});
	const found = await provider('claude').detect(context);
	t.deepEqual(found.map(each => [each.source, each.token, each.expiresAt]), [
		['~/.claude/.credentials.json', claudeToken, '2025-07-01T12:00:00.000Z'],
		['macOS keychain (Claude Code-credentials)', keychainToken, '2025-07-01T12:00:01.000Z'],
	]);
	t.deepEqual(context.calls, [{command: 'security', args: ['find-generic-password', '-s', 'Claude Code-credentials', '-w']}]);
});

test('on macOS claude ignores a keychain item that is not JSON', async t => {
	const context = detectionContext(await temporaryHome(t), {platform: 'darwin', answers: {[securityCommand]: 'not json'}});
	t.deepEqual(await provider('claude').detect(context), []);
});

test('on macOS claude detects nothing when security finds no item', async t => {
	const context = detectionContext(await temporaryHome(t), {platform: 'darwin'});
	t.deepEqual(await provider('claude').detect(context), []);
	t.is(context.calls.length, 1);
});

test('openai detects the API key in ~/.codex/auth.json', async t => {
	const home = await temporaryHome(t);
	await writeJson(path.join(home, '.codex', 'auth.json'), {OPENAI_API_KEY: openaiKey, tokens: {access_token: chatgptToken}});
	t.deepEqual(await provider('openai').detect(detectionContext(home)), [{source: '~/.codex/auth.json (API key)', token: openaiKey, kind: 'api-key'}]);
});

for (const [label, apiKey] of [['null', null], ['empty', ''], ['absent', undefined]] as const) {
	test(`openai detects the ChatGPT login when OPENAI_API_KEY is ${label}, with the JWT's expiry`, async t => {
		const home = await temporaryHome(t);
		await writeJson(path.join(home, '.codex', 'auth.json'), {OPENAI_API_KEY: apiKey, tokens: {access_token: chatgptToken, refresh_token: 'refresh'}});
		const found = await provider('openai').detect(detectionContext(home));
		t.is(found.length, 1);
		t.is(found[0]!.source, '~/.codex/auth.json (ChatGPT login)');
		t.is(found[0]!.token, chatgptToken);
		t.is(found[0]!.kind, 'chatgpt');
		t.is(found[0]!.expiresAt, new Date(2_000_000_000_000).toISOString());
		t.regex(found[0]!.warning ?? '', /does not refresh/);
	});
}

for (const [label, content] of [['missing', undefined], ['not JSON', '{'], ['empty', {}], ['with empty tokens', {tokens: {}}]] as const) {
	test(`openai detects nothing when ~/.codex/auth.json is ${label}`, async t => {
		const home = await temporaryHome(t);
		if (content !== undefined) {
			await writeJson(path.join(home, '.codex', 'auth.json'), content);
		}

		t.deepEqual(await provider('openai').detect(detectionContext(home)), []);
	});
}

const expiries: Array<[string, string, Date | undefined]> = [
	['a numeric exp', jwt({exp: 1_700_000_000}), new Date(1_700_000_000_000)],
	['a fractional exp', jwt({exp: 1_700_000_000.5}), new Date(1_700_000_000_500)],
	['no exp', jwt({sub: 'user'}), undefined],
	['a string exp', jwt({exp: '1700000000'}), undefined],
	['a payload that is not JSON', `eyJhbGciOiJub25lIn0.${Buffer.from('not json').toString('base64url')}.sig`, undefined],
	['no dots', openaiKey, undefined],
	['an empty payload', 'header..sig', undefined],
	['an empty string', '', undefined],
];

for (const [label, token, expected] of expiries) {
	test(`jwtExpiry of a token with ${label} is ${expected ? expected.toISOString() : 'undefined'}`, t => {
		t.deepEqual(jwtExpiry(token), expected);
	});
}

const now = new Date('2025-06-01T00:00:00.000Z');

function credential(expiresAt: string | undefined, token = claudeToken): DetectedCredential {
	return {source: '~/.claude/.credentials.json', token, kind: 'oauth', expiresAt};
}

for (const [label, expiresAt] of [['an hour ago', '2025-05-31T23:00:00.000Z'], ['exactly now', now.toISOString()]] as const) {
	test(`checkNotExpired refuses a claude credential that expired ${label}, exit 2, pointing at claude setup-token`, t => {
		const error = t.throws(() => {
			checkNotExpired(credential(expiresAt), provider('claude'), now);
		}, {instanceOf: MoatError});
		t.is(error.exitCode, exitCodes.usage);
		t.true(error.message.includes(expiresAt));
		t.true(error.message.includes('~/.claude/.credentials.json'));
		t.is(error.hint, 'Run claude setup-token for a long-lived token and pass it to moat grant claude.');
		t.false(error.message.includes(claudeToken));
		t.false(error.hint.includes(claudeToken));
	});
}

for (const name of ['github', 'anthropic', 'openai'] as const) {
	test(`checkNotExpired refuses an expired ${name} credential telling the user to sign in again`, t => {
		const token = name === 'openai' ? chatgptToken : name === 'github' ? githubToken : anthropicKey;
		const error = t.throws(() => {
			checkNotExpired(credential('2025-01-01T00:00:00.000Z', token), provider(name), now);
		}, {instanceOf: MoatError});
		t.is(error.exitCode, 2);
		t.is(error.hint, `Sign in again, then run moat grant ${name}.`);
		t.false(error.message.includes(token));
	});
}

for (const [label, expiresAt] of [['expires in a second', '2025-06-01T00:00:01.000Z'], ['has no expiry', undefined]] as const) {
	test(`checkNotExpired accepts a credential that ${label}`, t => {
		t.notThrows(() => {
			checkNotExpired(credential(expiresAt), provider('claude'), now);
		});
	});
}

type Request = {url: string; headers: Record<string, string>};

/** An OutboundHttp that answers every request with one response (or error) and records the requests. */
function fakeHttp(answer: Partial<HttpResponse> | Error): OutboundHttp & {requests: Request[]} {
	const requests: Request[] = [];
	return {
		requests,
		async get(url, headers) {
			requests.push({url, headers});
			if (answer instanceof Error) {
				throw answer;
			}

			return {status: 200, headers: {}, body: '', ...answer};
		},
	};
}

/** Fails the test if the token shows up anywhere in what the user would see. */
function assertTokenAbsent(t: ExecutionContext, error: MoatError, token: string): void {
	t.false(error.message.includes(token), 'the message contains the token');
	t.false(error.hint.includes(token), 'the hint contains the token');
}

test('github validation reads the login from GET /user and the scopes from x-oauth-scopes', async t => {
	const http = fakeHttp({status: 200, headers: {'x-oauth-scopes': 'repo, read:org,  gist'}, body: JSON.stringify({login: 'octocat', id: 1})});
	t.deepEqual(await provider('github').validate({token: githubToken, kind: 'oauth'}, http), {login: 'octocat', scopes: ['repo', 'read:org', 'gist']});
	t.is(http.requests.length, 1);
	const [request] = http.requests;
	t.is(request!.url, 'https://api.github.com/user');
	t.is(request!.headers.authorization, `Bearer ${githubToken}`);
	t.is(request!.headers.accept, 'application/vnd.github+json');
	t.is(request!.headers['user-agent'], 'moat');
	t.false(request!.url.includes(githubToken));
});

test('github validation of a fine-grained token without x-oauth-scopes has no scopes', async t => {
	const http = fakeHttp({status: 200, body: JSON.stringify({login: 'octocat'})});
	t.deepEqual(await provider('github').validate({token: githubToken, kind: 'oauth'}, http), {login: 'octocat', scopes: []});
});

test('github validation with an empty x-oauth-scopes has no scopes and a body without login has login null', async t => {
	const http = fakeHttp({status: 200, headers: {'x-oauth-scopes': ''}, body: JSON.stringify({id: 1})});
	t.deepEqual(await provider('github').validate({token: githubToken, kind: 'oauth'}, http), {login: null, scopes: []});
});

/** [provider, token, kind, response or network error, expected message, hint pattern]. */
const failures: Array<[ProviderName, string, string, Partial<HttpResponse> | Error, string | RegExp, RegExp]> = [
	['github', githubToken, 'oauth', {status: 401, body: '{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}'}, 'GitHub rejected the token: Bad credentials.', /moat grant github again/],
	['github', githubToken, 'oauth', {status: 403, body: '<html>Forbidden</html>'}, 'GitHub rejected the token: HTTP 403.', /moat grant github again/],
	['github', githubToken, 'oauth', {status: 401, body: 'null'}, 'GitHub rejected the token: HTTP 401.', /moat grant github again/],
	['github', githubToken, 'oauth', new Error('connect ECONNREFUSED 127.0.0.1:443'), 'Could not check the token with GitHub: connect ECONNREFUSED 127.0.0.1:443.', /--no-validate/],
	['github', githubToken, 'oauth', {status: 500, body: 'oops'}, 'GitHub answered HTTP 500 when checking the token.', /--no-validate/],
	['github', githubToken, 'oauth', {status: 302, body: ''}, 'GitHub answered HTTP 302 when checking the token.', /--no-validate/],
	['anthropic', anthropicKey, 'api-key', {status: 401, body: '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'}, 'Anthropic rejected the token: invalid x-api-key.', /moat grant anthropic again/],
	['anthropic', anthropicKey, 'api-key', new Error('getaddrinfo ENOTFOUND api.anthropic.com'), /^Could not check the token with Anthropic: /, /--no-validate/],
	['anthropic', anthropicKey, 'api-key', {status: 529, body: '{"error":{"message":"Overloaded"}}'}, 'Anthropic answered HTTP 529 when checking the token.', /Try again later/],
	['claude', claudeToken, 'oauth', {status: 401, body: '{"error":{"message":"OAuth token has expired"}}'}, 'Anthropic rejected the token: OAuth token has expired.', /claude setup-token/],
	['claude', claudeToken, 'oauth', new Error('socket hang up'), 'Could not check the token with Anthropic: socket hang up.', /--no-validate/],
	['openai', openaiKey, 'api-key', {status: 401, body: '{"error":{"message":"Incorrect API key provided"}}'}, 'OpenAI rejected the token: Incorrect API key provided.', /moat grant openai again/],
	['openai', openaiKey, 'api-key', {status: 403, body: '{"error":"forbidden"}'}, 'OpenAI rejected the token: forbidden.', /moat grant openai again/],
	['openai', openaiKey, 'api-key', {status: 503, body: ''}, 'OpenAI answered HTTP 503 when checking the token.', /--no-validate/],
];

for (const [name, token, kind, answer, message, hint] of failures) {
	const what = answer instanceof Error ? `a network error (${answer.message})` : `HTTP ${answer.status}`;
	const expected = typeof message === 'string' ? message : message.source;
	test(`${name} validation turns ${what} into the error ${JSON.stringify(expected)} without the token`, async t => {
		const error = await t.throwsAsync(provider(name).validate({token, kind}, fakeHttp(answer)), {instanceOf: MoatError});
		if (typeof message === 'string') {
			t.is(error.message, message);
		} else {
			t.regex(error.message, message);
		}

		t.regex(error.hint, hint);
		t.is(error.exitCode, exitCodes.failure);
		assertTokenAbsent(t, error, token);
		if (answer instanceof Error) {
			t.is(error.cause, answer);
		}
	});
}

test('anthropic validation sends the key as x-api-key with anthropic-version, and no bearer token', async t => {
	const http = fakeHttp({status: 200, body: '{"data":[]}'});
	t.deepEqual(await provider('anthropic').validate({token: anthropicKey, kind: 'api-key'}, http), {login: null, scopes: []});
	t.is(http.requests.length, 1);
	const [request] = http.requests;
	t.is(request!.url, 'https://api.anthropic.com/v1/models');
	t.is(request!.headers['x-api-key'], anthropicKey);
	t.is(request!.headers['anthropic-version'], '2023-06-01');
	t.is(request!.headers.authorization, undefined);
	t.is(request!.headers['anthropic-beta'], undefined);
});

test('claude validation sends a bearer token with anthropic-version and the OAuth beta, and no x-api-key', async t => {
	const http = fakeHttp({status: 200, body: '{"data":[]}'});
	t.deepEqual(await provider('claude').validate({token: claudeToken, kind: 'oauth'}, http), {login: null, scopes: []});
	const [request] = http.requests;
	t.is(request!.url, 'https://api.anthropic.com/v1/models');
	t.is(request!.headers.authorization, `Bearer ${claudeToken}`);
	t.is(request!.headers['anthropic-version'], '2023-06-01');
	t.is(request!.headers['anthropic-beta'], anthropicOauthBeta);
	t.is(anthropicOauthBeta, 'oauth-2025-04-20');
	t.is(request!.headers['x-api-key'], undefined);
});

test('openai validation of an API key sends it as a bearer token to /v1/models', async t => {
	const http = fakeHttp({status: 200, body: '{"data":[]}'});
	t.deepEqual(await provider('openai').validate({token: openaiKey, kind: 'api-key'}, http), {login: null, scopes: []});
	const [request] = http.requests;
	t.is(request!.url, 'https://api.openai.com/v1/models');
	t.is(request!.headers.authorization, `Bearer ${openaiKey}`);
});

for (const kind of ['chatgpt', 'api-key'] as const) {
	test(`openai validation of a ChatGPT JWT (kind ${kind}) makes no request and reports the JWT's expiry`, async t => {
		const http = fakeHttp(new Error('no network expected'));
		t.deepEqual(await provider('openai').validate({token: chatgptToken, kind}, http), {login: null, scopes: [], expiresAt: new Date(2_000_000_000_000).toISOString()});
		t.is(http.requests.length, 0);
	});
}

test('every provider\'s howToGet and title name no token', t => {
	for (const each of tokenProviders) {
		t.true(each.howToGet.length > 0);
		for (const token of [githubToken, anthropicKey, claudeToken, openaiKey]) {
			t.false(each.howToGet.includes(token));
		}
	}
});

for (const token of ['sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789', 'sk-ant-oat01-abcdefghijklmnopqrstuvwxyz0123456789']) {
	test(`openai refuses the Anthropic token ${token.slice(0, 10)}… and names the right provider`, t => {
		const problem = provider('openai').formatProblem(token);
		t.regex(problem ?? '', token.startsWith('sk-ant-oat') ? /moat grant claude/ : /moat grant anthropic/);
	});
}

test('a 200 answer to the GitHub check that is not JSON (a captive portal) is a clear MoatError', async t => {
	const error = await t.throwsAsync(provider('github').validate({token: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', kind: 'oauth'}, fakeHttp({status: 200, body: '<html>captive portal</html>'})), {instanceOf: MoatError});
	t.regex(error!.message, /not GitHub's API/);
	t.regex(error!.hint, /--no-validate/);
});
