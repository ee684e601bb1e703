import test from 'ava';
import {answeringGrant, injectedEndpoints, injectedHosts, injectionFor, mergeHeaderList, placeholderEnvironment, type InjectableGrant, type ProviderRule} from '../source/proxy/injection-rules.js';
import {decide} from '../source/proxy/network-policy.js';

const token = 'real-secret-token-value';
const grant = (provider: string, kind = 'api-key'): InjectableGrant => ({name: provider, provider, kind, token});

const cases: Array<{title: string; grants: InjectableGrant[]; host: string; path?: string; tls?: boolean; set?: Record<string, string>; merge?: Record<string, string>}> = [
	{title: 'github puts a Bearer token on api.github.com', grants: [grant('github')], host: 'api.github.com', set: {authorization: `Bearer ${token}`}},
	{title: 'github puts Basic x-access-token on github.com for git', grants: [grant('github')], host: 'github.com', set: {authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`}},
	{title: 'anthropic puts x-api-key on api.anthropic.com', grants: [grant('anthropic')], host: 'api.anthropic.com', set: {'x-api-key': token}},
	{title: 'claude puts a Bearer token and the OAuth beta flag on api.anthropic.com', grants: [grant('claude', 'oauth')], host: 'api.anthropic.com', set: {authorization: `Bearer ${token}`}, merge: {'anthropic-beta': 'oauth-2025-04-20'}},
	{title: 'openai puts a Bearer token on api.openai.com', grants: [grant('openai')], host: 'api.openai.com', set: {authorization: `Bearer ${token}`}},
	{title: 'a ChatGPT login also reaches Codex\'s backend on chatgpt.com', grants: [grant('openai', 'chatgpt')], host: 'chatgpt.com', path: '/backend-api/codex/responses', set: {authorization: `Bearer ${token}`}},
	{title: 'a ChatGPT login reaches Codex\'s account checks', grants: [grant('openai', 'chatgpt')], host: 'chatgpt.com', path: '/backend-api/wham/accounts/check?x=1', set: {authorization: `Bearer ${token}`}},
	{title: 'a ChatGPT login does not reach the rest of the account (conversations)', grants: [grant('openai', 'chatgpt')], host: 'chatgpt.com', path: '/backend-api/conversations'},
	{title: 'a ChatGPT login does not reach a path that only starts like Codex\'s', grants: [grant('openai', 'chatgpt')], host: 'chatgpt.com', path: '/backend-api/codexevil'},
	{title: 'an OpenAI API key does not go to chatgpt.com', grants: [grant('openai')], host: 'chatgpt.com'},
	{title: 'a host declared without a port is its port 443', grants: [grant('github')], host: 'api.github.com:443', set: {authorization: `Bearer ${token}`}},
	{title: 'another port of an injected host gets nothing', grants: [grant('github')], host: 'api.github.com:9443'},
	{title: 'port 80 of an injected host gets nothing, even over TLS', grants: [grant('github')], host: 'github.com:80'},
	{title: 'nothing is injected on plain HTTP, even for an injected host', grants: [grant('github')], host: 'api.github.com', tls: false},
	{title: 'nothing is injected into an unrelated host', grants: [grant('github'), grant('anthropic')], host: 'example.com'},
	{title: 'a lookalike host gets nothing', grants: [grant('github')], host: 'api.github.com.evil.com'},
	{title: 'a subdomain of an injected host gets nothing', grants: [grant('github')], host: 'gist.github.com'},
];

for (const testCase of cases) {
	test(`injection: ${testCase.title}`, t => {
		const injection = injectionFor(testCase.grants, testCase.host, testCase.tls ?? true, testCase.path);
		if (testCase.set === undefined) {
			t.is(injection, undefined);
			return;
		}

		t.deepEqual(injection?.set, testCase.set);
		t.deepEqual(injection?.merge, testCase.merge ?? {});
		// Whatever auth the agent sent is dropped before ours is added.
		t.true(injection!.remove.includes('authorization'));
		t.true(injection!.remove.includes('x-api-key'));
	});
}

test('injected hosts are every host a run\'s grants reach or are answered for, once each', t => {
	t.deepEqual(injectedHosts([grant('github'), grant('openai', 'chatgpt'), grant('github')]).sort(), ['api.github.com', 'api.openai.com', 'auth.openai.com', 'chatgpt.com', 'github.com']);
	t.deepEqual(injectedHosts([grant('openai', 'api-key')]), ['api.openai.com']);
	// Until the daemon has read a grant its kind is unknown, and opens nothing kind-specific.
	t.deepEqual(injectedHosts([grant('openai', '')]).sort(), ['api.openai.com']);
	t.deepEqual(injectedHosts([grant('ssh')]), []);
});

test('the proxy answers auth.openai.com itself only for a ChatGPT login', t => {
	t.is(answeringGrant([grant('openai', 'chatgpt')], 'auth.openai.com')?.name, 'openai');
	t.is(answeringGrant([grant('openai', 'chatgpt')], 'AUTH.openai.com:443')?.name, 'openai');
	t.is(answeringGrant([grant('openai', 'api-key')], 'auth.openai.com'), undefined);
	t.is(answeringGrant([grant('openai', 'chatgpt')], 'chatgpt.com'), undefined);
	t.is(answeringGrant([grant('openai', 'chatgpt')], 'auth.openai.com:8443'), undefined);
});

test('the agent\'s own beta flags are kept next to the OAuth flag, without duplicates', t => {
	t.is(mergeHeaderList('tools-2024,oauth-2025-04-20', 'oauth-2025-04-20'), 'tools-2024,oauth-2025-04-20');
	t.is(mergeHeaderList(undefined, 'oauth-2025-04-20'), 'oauth-2025-04-20');
	t.is(mergeHeaderList('a, b', 'c'), 'a,b,c');
});

test('placeholders name the variables the CLIs read and contain no real token', t => {
	const placeholders = placeholderEnvironment([grant('github'), grant('anthropic'), grant('claude'), grant('openai'), grant('ssh')]);
	t.deepEqual(Object.keys(placeholders).sort(), ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'GH_TOKEN', 'OPENAI_API_KEY']);
	for (const value of Object.values(placeholders)) {
		t.false(value.includes(token));
		t.regex(value, /moat-placeholder/);
	}
});

test('a provider declares a port with its host: the credential goes there and to no other port, strict mode opens that port', t => {
	const table: ProviderRule[] = [{provider: 'example', hosts: ['api.example.com:8443'], headers: secret => ({authorization: `Token ${secret}`})}];
	const grants = [{name: 'example', provider: 'example', kind: 'api-key', token: 'x'}];
	t.deepEqual(injectionFor(grants, 'api.example.com:8443', true, '/', table)?.set, {authorization: 'Token x'});
	t.is(injectionFor(grants, 'api.example.com', true, '/', table), undefined);
	t.is(injectionFor(grants, 'api.example.com:443', true, '/', table), undefined);
	t.deepEqual(injectedEndpoints(grants, table, []), ['api.example.com:8443']);
	t.deepEqual(injectedEndpoints([grant('github')]).sort(), ['api.github.com:443', 'github.com:443']);
	const strict = {mode: 'strict' as const, allow: []};
	t.deepEqual(decide(strict, 'api.example.com', 8443, {grantHosts: injectedHosts(grants, table, []), agent: null}), {allowed: true});
	t.false(decide(strict, 'api.example.com', 9443, {grantHosts: injectedHosts(grants, table, []), agent: null}).allowed);
});
