import test from 'ava';
import {grantCommand, parseProvider, providerChoices, providerExamples, providerHelpLines} from '../source/commands/grant-command.js';
import type {GrantService} from '../source/credentials/grant-service.js';
import {grantWizardServices} from '../source/credentials/grant-wizard-services.js';
import {containerPackagesFor, credentialProviders, providerAliases, providerNames, tokenProviders} from '../source/credentials/providers/provider-list.js';
import {MoatError} from '../source/errors.js';
import {answeredHosts, answeringGrant, injectedHosts, injectionFor, injectionRules, placeholderEnvironment, type ProviderRule} from '../source/proxy/injection-rules.js';

/** Every kind a provider's grants may have; aws and ssh grants carry none. */
const kindsOf = (provider: (typeof credentialProviders)[number]): readonly string[] => (provider.grantWith === 'token' ? provider.kinds : ['']);

test('provider names and every alias are unique, and each alias leads to its provider', t => {
	const typed = credentialProviders.flatMap(provider => [provider.name, ...provider.aliases]);
	t.is(new Set(typed).size, typed.length);
	t.deepEqual(Object.keys(providerAliases), typed);
	for (const provider of credentialProviders) {
		for (const name of [provider.name, ...provider.aliases]) {
			t.is(providerAliases[name], provider.name);
			t.is(parseProvider(name.toUpperCase()), provider);
		}
	}

	t.deepEqual(providerNames, credentialProviders.map(provider => provider.name));
});

test('the proxy\'s injection table is every registered provider\'s rules, in order, labelled with the provider, and nothing else', t => {
	t.deepEqual(
		injectionRules.map(rule => [rule.provider, rule.hosts, rule.kinds, rule.paths, rule.merge]),
		credentialProviders.flatMap(provider => provider.injection.map(rule => [provider.name, rule.hosts, rule.kinds, rule.paths, rule.merge])),
	);
	t.deepEqual(
		answeredHosts.map(rule => [rule.provider, rule.hosts, rule.kinds]),
		credentialProviders.flatMap(provider => provider.answered.map(rule => [provider.name, rule.hosts, rule.kinds])),
	);
});

test('every registered rule injects: a grant of each of its kinds gets the rule\'s headers on each of its hosts under each of its paths', t => {
	const token = 'real-token';
	for (const provider of credentialProviders) {
		for (const rule of provider.injection) {
			for (const kind of rule.kinds ?? kindsOf(provider)) {
				for (const host of rule.hosts) {
					for (const path of rule.paths ?? ['/']) {
						const injection = injectionFor([{name: provider.name, provider: provider.name, kind, token}], host, true, `${path}more`);
						// An earlier rule of the same provider may cover the host first; it must still be this provider's grant.
						t.is(injection?.grant, provider.name, `${provider.name} ${kind} ${host}${path}`);
						if (provider.injection.find(candidate => candidate.hosts.includes(host)) === rule) {
							t.deepEqual(injection?.set, rule.headers(token));
							t.deepEqual(injection?.merge, {...rule.merge});
						}
					}
				}
			}
		}
	}
});

test('a rule\'s kinds are kinds its provider has, and a typed or piped token is one of them', t => {
	for (const provider of tokenProviders) {
		t.true(provider.kinds.includes(provider.enteredKind), provider.name);
		for (const rule of [...provider.injection, ...provider.answered]) {
			t.true((rule.kinds ?? []).every(kind => provider.kinds.includes(kind)), `${provider.name} ${rule.hosts.join(',')}`);
		}
	}
});

test('strict mode allows, for each provider and kind, exactly the hosts of the rules that apply to that kind', t => {
	for (const provider of credentialProviders) {
		for (const kind of kindsOf(provider)) {
			const expected = [...provider.injection, ...provider.answered]
				.filter(rule => !rule.kinds || rule.kinds.includes(kind))
				.flatMap(rule => rule.hosts);
			t.deepEqual(injectedHosts([{provider: provider.name, kind}]).sort(), [...new Set(expected)].sort(), `${provider.name} ${kind}`);
		}

		for (const rule of provider.answered) {
			for (const host of rule.hosts) {
				t.is(answeringGrant([{name: provider.name, provider: provider.name, kind: rule.kinds?.[0] ?? kindsOf(provider)[0]!, token: 't'}], host)?.name, provider.name);
			}
		}
	}
});

test('the bottle\'s placeholders are each granted provider\'s own, and hold no real token', t => {
	for (const provider of credentialProviders) {
		t.deepEqual(placeholderEnvironment([{provider: provider.name}]), {...provider.placeholders});
		for (const value of Object.values(provider.placeholders)) {
			t.regex(value, /moat-placeholder/);
		}
	}

	t.deepEqual(placeholderEnvironment(credentialProviders.map(provider => ({provider: provider.name}))), Object.assign({}, ...credentialProviders.map(provider => provider.placeholders)));
});

test('moat grant --help lists every registered provider, in the same words as before', t => {
	for (const [index, provider] of credentialProviders.entries()) {
		t.true(grantCommand.help.includes(`\n    ${providerHelpLines()[index]!}\n`), provider.name);
		t.true(providerHelpLines()[index]!.startsWith(provider.help.usage));
	}

	t.true(grantCommand.help.includes(`
  Providers
    github                 gh auth token, GITHUB_TOKEN, GH_TOKEN
    anthropic              ANTHROPIC_API_KEY
    claude                 claude setup-token, CLAUDE_CODE_OAUTH_TOKEN, ~/.claude/.credentials.json
    openai (codex)         OPENAI_API_KEY, ~/.codex/auth.json
    aws --role ARN [--region R] [--session-duration 15m] [--external-id X]
    ssh --host H [--key FINGERPRINT|COMMENT]   a key from your SSH agent, for host H
`));
});

test('an unknown provider\'s error lists every registered provider, exit 2, as before', t => {
	const error = t.throws(() => parseProvider('nope'), {instanceOf: MoatError});
	t.is(error.exitCode, 2);
	t.is(error.hint, 'Providers: github, anthropic, claude, openai (or codex), aws, ssh.');
	for (const provider of credentialProviders) {
		t.true(providerChoices().includes(provider.name));
		t.true(providerExamples().includes(provider.name));
	}

	t.is(providerExamples(), 'github (or anthropic, claude, openai, aws, ssh)');
	t.is(t.throws(() => parseProvider('gihub'), {instanceOf: MoatError}).hint, 'Did you mean github? Providers: github, anthropic, claude, openai (or codex), aws, ssh.');
});

test('the grant wizard offers every provider, in order, each the way it is granted (AWS with the region moat grant aws defaults to)', t => {
	const services = grantWizardServices({defaultAwsRegion: () => 'eu-north-1'} as unknown as GrantService, credentialProviders);
	t.deepEqual(services.providers, credentialProviders.map(provider => ({
		name: provider.name,
		title: provider.title,
		grantWith: provider.grantWith,
		...provider.grantWith === 'aws-role' ? {region: 'eu-north-1'} : {},
	})));
	t.deepEqual(services.providers.map(provider => [provider.name, provider.grantWith]), [
		['github', 'token'], ['anthropic', 'token'], ['claude', 'token'], ['openai', 'token'], ['aws', 'aws-role'], ['ssh', 'ssh-agent-key'],
	]);
});

test('the injection decision is pure: fed another table, it applies that table and not the registered one', t => {
	const table: ProviderRule[] = [{provider: 'example', hosts: ['api.example.com'], headers: token => ({authorization: `Token ${token}`})}];
	const grants = [{name: 'example', provider: 'example', kind: 'api-key', token: 'x'}];
	t.deepEqual(injectionFor(grants, 'api.example.com', true, '/', table)?.set, {authorization: 'Token x'});
	t.is(injectionFor(grants, 'api.example.com', true, '/'), undefined);
	t.is(injectionFor([{...grants[0]!, provider: 'github'}], 'api.github.com', true, '/', table), undefined);
	t.deepEqual(injectedHosts(grants, table, []), ['api.example.com']);
});

test('the packages a run\'s image gets for its grants come from their providers: ssh for ssh:HOST, curl for aws, nothing for tokens', t => {
	t.deepEqual(containerPackagesFor(['ssh:github.com', 'ssh:gitlab.com']), ['openssh-client']);
	t.deepEqual(containerPackagesFor(['aws']), ['curl']);
	t.deepEqual(containerPackagesFor(['github', 'anthropic', 'openai:work']), []);
	t.deepEqual(containerPackagesFor(['aws', 'github', 'ssh:example.com']).sort(), ['curl', 'openssh-client']);
	t.deepEqual(containerPackagesFor([]), []);
});
