import test from 'ava';
import {blockedResponseText, decide, entryMatches, formatAllowEntry, internalEntryKind, namesAgree, parseAllowEntry, type NetworkPolicy} from '../source/proxy/network-policy.js';

const strict = (...allow: string[]): NetworkPolicy => ({mode: 'strict', allow: allow.map(entry => parseAllowEntry(entry)!)});
const none = {grantHosts: [], agent: null};

const decisions: Array<{title: string; policy: NetworkPolicy; host: string; port: number; context?: {grantHosts: string[]; agent: string | null}; allowed: boolean}> = [
	{title: 'permissive allows any host and port', policy: {mode: 'permissive', allow: []}, host: 'example.org', port: 8443, allowed: true},
	{title: 'strict allows a listed host on 443', policy: strict('api.example.com'), host: 'api.example.com', port: 443, allowed: true},
	{title: 'strict allows a listed host on 80', policy: strict('api.example.com'), host: 'api.example.com', port: 80, allowed: true},
	{title: 'strict refuses a listed host on another port', policy: strict('api.example.com'), host: 'api.example.com', port: 22, allowed: false},
	{title: 'strict allows an explicit port', policy: strict('git.example.com:22'), host: 'git.example.com', port: 22, allowed: true},
	{title: 'an explicit port excludes the web ports', policy: strict('git.example.com:22'), host: 'git.example.com', port: 443, allowed: false},
	{title: 'a wildcard matches a subdomain', policy: strict('*.example.com'), host: 'a.example.com', port: 443, allowed: true},
	{title: 'a wildcard matches subdomains at any depth', policy: strict('*.example.com'), host: 'a.b.c.example.com', port: 443, allowed: true},
	{title: 'a wildcard does not match the domain itself', policy: strict('*.example.com'), host: 'example.com', port: 443, allowed: false},
	{title: 'a wildcard does not match a lookalike suffix', policy: strict('*.example.com'), host: 'evilexample.com', port: 443, allowed: false},
	{title: 'matching ignores case and a trailing dot', policy: strict('api.example.com'), host: 'API.Example.COM.', port: 443, allowed: true},
	{title: 'strict refuses an unlisted host', policy: strict('api.example.com'), host: 'other.example.com', port: 443, allowed: false},
	{title: 'strict allows the hosts of the run\'s grants', policy: strict(), host: 'api.github.com', port: 443, context: {grantHosts: ['api.github.com', 'github.com'], agent: null}, allowed: true},
	{title: 'strict allows claude\'s API host for a claude run', policy: strict(), host: 'api.anthropic.com', port: 443, context: {grantHosts: [], agent: 'claude'}, allowed: true},
	{title: 'strict allows chatgpt.com for a codex run', policy: strict(), host: 'chatgpt.com', port: 443, context: {grantHosts: [], agent: 'codex'}, allowed: true},
	{title: 'an allowed address matches in any spelling', policy: strict('8.8.8.8'), host: '::ffff:808:808', port: 443, allowed: true},
	{title: 'an address entry in another spelling matches the dotted form', policy: strict('0x8.0x8.0x8.0x8'), host: '8.8.8.8', port: 443, allowed: true},
	{title: 'an allowed address does not open another', policy: strict('8.8.8.8'), host: '8.8.4.4', port: 443, allowed: false},
	{title: 'a name ending in a number is no host to allow', policy: strict('*.example.com'), host: 'x.example.com.123', port: 443, allowed: false},
	{title: 'strict does not give a claude run OpenAI', policy: strict(), host: 'api.openai.com', port: 443, context: {grantHosts: [], agent: 'claude'}, allowed: false},
];

for (const decision of decisions) {
	test(`policy: ${decision.title}`, t => {
		const result = decide(decision.policy, decision.host, decision.port, decision.context ?? none);
		t.is(result.allowed, decision.allowed);
		if (!result.allowed) {
			t.regex(result.reason, /is not in the allow list\./);
		}
	});
}

for (const bad of ['', '*', '*.', 'http://example.com', 'example.com/path', 'exa mple.com', 'example.com:0', 'example.com:70000', '*.*.example.com', '-bad.example.com', '1.2.3.4.5', 'example.123', '*.0.0.1', '*.8.8']) {
	test(`allow entry "${bad}" is rejected`, t => {
		t.is(parseAllowEntry(bad), undefined);
	});
}

test('a wildcard never matches an address, though the address ends in its text', t => {
	t.false(entryMatches({pattern: '8.8', wildcard: true, ports: [443]}, '8.8.8.8', 443));
	t.false(entryMatches({pattern: '0.1', wildcard: true, ports: [443]}, '127.0.0.1', 443));
});

test('an allow entry without a port covers 80 and 443 only', t => {
	const entry = parseAllowEntry('example.com')!;
	t.true(entryMatches(entry, 'example.com', 80));
	t.true(entryMatches(entry, 'example.com', 443));
	t.false(entryMatches(entry, 'example.com', 8080));
});

const formatted: Array<[string, string]> = [
	['api.example.com', 'api.example.com'],
	['  API.Example.COM ', 'api.example.com'],
	['api.example.com:443', 'api.example.com:443'],
	['*.Example.org', '*.example.org'],
	['*.example.org:8443', '*.example.org:8443'],
	['0x8.0x8.0x8.0x8', '8.8.8.8'],
	['134744072:53', '8.8.8.8:53'],
];
for (const [entry, stored] of formatted) {
	test(`allow entry "${entry}" is stored as "${stored}", which parses back to the same entry`, t => {
		t.is(formatAllowEntry(parseAllowEntry(entry)!), stored);
		t.deepEqual(parseAllowEntry(stored), parseAllowEntry(entry));
	});
}

const internalEntries: Array<[string, ReturnType<typeof internalEntryKind>]> = [
	['localhost', 'loopback'],
	['localhost:8080', 'loopback'],
	['web.localhost', 'loopback'],
	['*.localhost', 'loopback'],
	['127.0.0.1', 'loopback'],
	['169.254.169.254', 'link-local'],
	['10.0.0.7:22', 'private'],
	['192.168.1.1', 'private'],
	['0.0.0.0', 'unspecified'],
	['224.0.0.1', 'reserved'],
	['0x7f.1', 'loopback'],
	['2130706433', 'loopback'],
	['0251.0376.0251.0376', 'link-local'],
	['8.8.8.8', undefined],
	['api.example.com', undefined],
	['*.example.com', undefined],
	['localhost.example.com', undefined],
];
for (const [entry, kind] of internalEntries) {
	test(`allow entry "${entry}" names ${kind ? `a ${kind} address` : 'no internal address'}`, t => {
		t.is(internalEntryKind(parseAllowEntry(entry)!), kind);
	});
}

test('the blocked answer is the three documented lines naming the host', t => {
	t.is(blockedResponseText('x.example'), 'Moat: request blocked by network policy.\nHost "x.example" is not in the allow list.\nAdd it to network.allow in agent.yaml or use policy: permissive.\n');
});

const agreements: Array<{names: Parameters<typeof namesAgree>[0]; agree: boolean; title: string}> = [
	{title: 'all three equal', names: {connect: 'api.github.com:443', serverName: 'api.github.com', hostHeader: 'api.github.com'}, agree: true},
	{title: 'case and port differences', names: {connect: 'API.github.com:443', serverName: 'api.github.com', hostHeader: 'api.github.com:443'}, agree: true},
	{title: 'a missing name is not a disagreement', names: {connect: 'example.com:443', hostHeader: 'example.com'}, agree: true},
	{title: 'a Host header naming another host', names: {connect: 'allowed.com:443', serverName: 'allowed.com', hostHeader: 'api.github.com'}, agree: false},
	{title: 'an SNI naming another host', names: {connect: 'allowed.com:443', serverName: 'evil.com', hostHeader: 'allowed.com'}, agree: false},
	{title: 'IPv6 literals with brackets', names: {connect: '[::1]:443', hostHeader: '[::1]'}, agree: true},
	{title: 'two spellings of one IPv6 address', names: {connect: '[::ffff:7f00:1]:80', hostHeader: '[::ffff:127.0.0.1]:80'}, agree: true},
	{title: 'two different IPv6 addresses', names: {connect: '[::ffff:7f00:1]:80', hostHeader: '[::ffff:127.0.0.2]:80'}, agree: false},
	{title: 'a name with a trailing dot', names: {connect: 'example.com.:443', hostHeader: 'example.com'}, agree: true},
	{title: 'an IPv6 zone id, which no URL can hold, agrees with nothing (and does not throw)', names: {connect: '[fe80::1%1]:443', hostHeader: 'fe80::1%1'}, agree: false},
	{title: 'a Host header with a zone id', names: {connect: 'example.com:443', hostHeader: 'fe80::1%1'}, agree: false},
	{title: 'an IPv4-mapped address and its dotted form', names: {connect: '[::ffff:c000:202]:80', hostHeader: '192.0.2.2:80'}, agree: true},
	{title: 'a resolver\'s IPv4 spelling and the dotted form', names: {connect: '0x7f.1:80', hostHeader: '127.0.0.1'}, agree: true},
	{title: 'a NAT64 address and the IPv4 address it carries, which are different hosts', names: {connect: '[64:ff9b::c000:202]:80', hostHeader: '192.0.2.2'}, agree: false},
	{title: 'a name ending in a number, which is no host', names: {connect: '1.2.3.4.5:80', hostHeader: '1.2.3.4.5'}, agree: false},
];

for (const agreement of agreements) {
	test(`CONNECT, SNI and Host ${agreement.agree ? 'agree' : 'disagree'}: ${agreement.title}`, t => {
		t.is(namesAgree(agreement.names), agreement.agree);
	});
}
