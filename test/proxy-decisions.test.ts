import test from 'ava';
import {hostAddressIn} from '../source/network/ip-address.js';
import {gateRequest, internalAnswer, parseConnectTarget, proxyToken} from '../source/proxy/proxy-decisions.js';
import {sealedEnvironment, proxyUrl} from '../source/proxy/container-environment.js';
import {formatNetworkEntry, parseNetworkEntries} from '../source/proxy/network-trace.js';
import {allowListWith, parseAllowRequest, sameSettings, settingsDifference, tokenHash, type DaemonSettings} from '../source/daemon/daemon-protocol.js';
import {decide, parseAllowEntry} from '../source/proxy/network-policy.js';
import type {NetworkEntry} from '../source/proxy/proxy-server.js';

const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

const tokens: Array<[string, string | undefined, string | undefined]> = [
	['Basic with the token as password', basic('moat:abc123'), 'abc123'],
	['Basic whose password holds a colon keeps all of it', basic('moat:a:b'), 'a:b'],
	['Basic with no user part', basic('abc123'), 'abc123'],
	['Bearer', 'Bearer abc123', 'abc123'],
	['a lower-case scheme', 'basic ' + Buffer.from('moat:xyz').toString('base64'), 'xyz'],
	['no header', undefined, undefined],
	['an empty password', basic('moat:'), undefined],
	['another scheme', 'Digest abc', undefined],
];
for (const [title, header, expected] of tokens) {
	test(`proxy token: ${title}`, t => {
		t.is(proxyToken(header), expected);
	});
}

const targets: Array<[string, {host: string; port: number} | undefined]> = [
	['api.github.com:443', {host: 'api.github.com', port: 443}],
	['API.GitHub.com.:443', {host: 'api.github.com', port: 443}],
	['github.com:22', {host: 'github.com', port: 22}],
	['1.2.3.4:8080', {host: '1.2.3.4', port: 8080}],
	['[2606:4700::1111]:443', {host: '2606:4700::1111', port: 443}],
	['[::ffff:127.0.0.1]:443', {host: '127.0.0.1', port: 443}],
	['[::FFFF:C000:0202]:8080', {host: '192.0.2.2', port: 8080}],
	['[0:0:0:0:0:ffff:7f00:1]:80', {host: '127.0.0.1', port: 80}],
	['[2606:4700:0:0::1111]:443', {host: '2606:4700::1111', port: 443}],
	['[64:ff9b::192.0.2.2]:80', {host: '64:ff9b::c000:202', port: 80}],
	['0x7f.1:443', {host: '127.0.0.1', port: 443}],
	['2130706433:443', {host: '127.0.0.1', port: 443}],
	['0177.0.0.1:443', {host: '127.0.0.1', port: 443}],
	['127.0.0.1.:443', {host: '127.0.0.1', port: 443}],
	['[1.2.3.4]:443', undefined],
	['1.2.3.4.5:443', undefined],
	['[::ffff:1.2.3]:443', undefined],
	['api.github.com', undefined],
	['api.github.com:0', undefined],
	['api.github.com:70000', undefined],
	['[not-an-ip]:443', undefined],
	['user@host:443', undefined],
	['/path:443', undefined],
	['2606:4700::1111:443', undefined],
	['[fe80::1%1]:443', undefined],
	['host%1:443', undefined],
];
for (const [target, expected] of targets) {
	test(`CONNECT target ${target} parses as ${expected ? `${expected.host} port ${expected.port}` : 'nothing'}`, t => {
		t.deepEqual(parseConnectTarget(target), expected);
	});
}

const allowed = {allowed: true} as const;
const gates: Array<{title: string; host: string; overridden?: boolean; policy?: {allowed: false; reason: string}; allowed: boolean; says?: RegExp; machine?: string[]}> = [
	{title: 'a public name passes', host: 'api.github.com', allowed: true},
	{title: 'a public address passes', host: '93.184.216.34', allowed: true},
	{title: 'loopback is refused', host: '127.0.0.1', allowed: false, says: /loopback/},
	{title: 'loopback in another spelling is refused', host: '127.1.2.3', allowed: false, says: /loopback/},
	{title: 'IPv6 loopback is refused', host: '::1', allowed: false, says: /loopback/},
	{title: 'IPv4-mapped loopback is refused', host: '::ffff:127.0.0.1', allowed: false, says: /loopback/},
	{title: 'localhost is refused', host: 'localhost', allowed: false, says: /loopback/},
	{title: 'a name under .localhost is refused', host: 'web.run.localhost', allowed: false, says: /loopback/},
	{title: 'cloud metadata is refused', host: '169.254.169.254', allowed: false, says: /link-local/},
	{title: 'a private address is refused', host: '10.0.0.7', allowed: false, says: /private/},
	{title: 'a Docker bridge address is refused', host: '172.17.0.1', allowed: false, says: /private/},
	{title: 'IPv4-mapped loopback in hex is refused', host: '::ffff:7f00:1', allowed: false, says: /Host "127\.0\.0\.1" is refused: it is a loopback address/},
	{title: 'loopback as a resolver reads 0x7f.1 is refused', host: '0x7f.1', allowed: false, says: /loopback/},
	{title: 'loopback as one decimal number is refused', host: '2130706433', allowed: false, says: /loopback/},
	{title: 'metadata in octal is refused', host: '0251.0376.0251.0376', allowed: false, says: /link-local/},
	{title: 'metadata through NAT64 is refused', host: '64:ff9b::a9fe:a9fe', allowed: false, says: /link-local/},
	{title: 'a private address through 6to4 is refused', host: '2002:a00:1::', allowed: false, says: /private/},
	{title: 'localhost with a trailing dot is refused', host: 'LOCALHOST.', allowed: false, says: /loopback/},
	{title: 'a name ending in a number that is no address is refused', host: '1.2.3.4.5', allowed: false, says: /neither a host name nor an address/},
	{title: 'an address of this machine is refused', host: '192.0.2.2', machine: ['192.0.2.2'], allowed: false, says: /an address of the machine moat runs on/},
	{title: 'an address of this machine, IPv4-mapped in hex, is refused', host: '::ffff:c000:202', machine: ['192.0.2.2'], allowed: false, says: /Host "192\.0\.2\.2" is refused: it is an address of the machine moat runs on/},
	{title: 'an address of this machine through NAT64 is refused', host: '64:ff9b::c000:202', machine: ['192.0.2.2'], allowed: false, says: /an address of the machine moat runs on/},
	{title: 'an address of this machine as one number is refused', host: '3221225986', machine: ['192.0.2.2'], allowed: false, says: /an address of the machine moat runs on/},
	{title: 'another public address passes', host: '192.0.2.3', machine: ['192.0.2.2'], allowed: true},
	{title: 'an overridden name may be internal', host: '127.0.0.1', overridden: true, allowed: true},
	{title: 'the policy still applies to an override', host: 'api.github.com', overridden: true, policy: {allowed: false, reason: 'Host "api.github.com" is not in the allow list.'}, allowed: false, says: /not in the allow list/},
	{title: 'a refused policy blocks with the documented message', host: 'blocked.test', policy: {allowed: false, reason: 'Host "blocked.test" is not in the allow list.'}, allowed: false, says: /^Moat: request blocked by network policy\.\nHost "blocked\.test" is not in the allow list\.\nAdd it to network\.allow in agent\.yaml or use policy: permissive\.\n$/},
];
for (const gate of gates) {
	test(`gate: ${gate.title}`, t => {
		const machine = new Set(gate.machine ?? []);
		const decision = gateRequest({host: gate.host, port: 443, overridden: gate.overridden ?? false, policyDecision: gate.policy ?? allowed, isHostAddress: address => hostAddressIn(address, machine)});
		t.is(decision.allowed, gate.allowed);
		if (!decision.allowed && gate.says) {
			t.regex(decision.message, gate.says);
			t.true(decision.message.startsWith('Moat: request blocked by network policy.\n'));
		}
	});
}

for (const host of ['127.0.0.1', 'localhost', 'web.localhost', '169.254.169.254', '10.0.0.7', '172.17.0.1']) {
	test(`gate: allowing ${host} in a strict policy does not open it`, t => {
		const policy = {mode: 'strict', allow: [parseAllowEntry(host)!]} as const;
		const policyDecision = decide(policy, host, 443, {grantHosts: [], agent: null});
		t.true(policyDecision.allowed, 'the allow list matches it');
		const decision = gateRequest({host, port: 443, overridden: false, policyDecision});
		t.false(decision.allowed);
		t.regex(decision.allowed ? '' : decision.reason, /^internal address: /);
	});
}

/** [a name's lookup answers, the answer that refuses it and why]: a DNS answer is judged as the literal would be. */
const answers: Array<[string[], {address: string; kind: string} | undefined]> = [
	[['93.184.216.34'], undefined],
	[['93.184.216.34', '2606:2800:220:1::1'], undefined],
	[['127.0.0.1'], {address: '127.0.0.1', kind: 'loopback'}],
	[['93.184.216.34', '::1'], {address: '::1', kind: 'loopback'}],
	[['::ffff:7f00:1'], {address: '::ffff:7f00:1', kind: 'loopback'}],
	[['::ffff:169.254.169.254'], {address: '::ffff:169.254.169.254', kind: 'link-local'}],
	[['64:ff9b::a9fe:a9fe'], {address: '64:ff9b::a9fe:a9fe', kind: 'link-local'}],
	[['64:ff9b::a00:1'], {address: '64:ff9b::a00:1', kind: 'private'}],
	[['2002:ac11:1::1'], {address: '2002:ac11:1::1', kind: 'private'}],
	[['fd00::2'], {address: 'fd00::2', kind: 'private'}],
	[['fe80::1%eth0'], {address: 'fe80::1%eth0', kind: 'link-local'}],
	[['192.0.2.2'], {address: '192.0.2.2', kind: 'host'}],
	[['::ffff:c000:202'], {address: '::ffff:c000:202', kind: 'host'}],
	[['64:ff9b::c000:202'], {address: '64:ff9b::c000:202', kind: 'host'}],
	[['192.0.2.3'], undefined],
];
for (const [addresses, refused] of answers) {
	test(`a name resolving to ${addresses.join(' and ')} is ${refused ? `refused for ${refused.address} (${refused.kind})` : 'dialled'}`, t => {
		const machine = new Set(['192.0.2.2']);
		t.deepEqual(internalAnswer(addresses.map(address => ({address})), address => hostAddressIn(address, machine)), refused);
	});
}

test('the container environment names the proxy with the run token, every CA variable, and placeholders only', t => {
	const access = {token: 'tok', proxy: {host: '172.30.0.1', port: 4000}, caCertificate: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n'};
	const environment = sealedEnvironment(access, ['github', 'anthropic', 'ssh:github.com', 'github:org/repo']);
	t.is(proxyUrl(access), 'http://moat:tok@172.30.0.1:4000');
	for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) {
		t.is(environment[name], 'http://moat:tok@172.30.0.1:4000', name);
	}

	t.is(environment.NO_PROXY, 'localhost,127.0.0.1,::1');
	t.is(environment.NODE_USE_ENV_PROXY, '1');
	t.is(environment.SSL_CERT_FILE, '/etc/moat/ca-bundle.pem');
	t.is(environment.NODE_EXTRA_CA_CERTS, '/etc/moat/ca.pem');
	t.is(environment.REQUESTS_CA_BUNDLE, '/etc/moat/ca-bundle.pem');
	t.is(environment.GIT_SSL_CAINFO, '/etc/moat/ca-bundle.pem');
	t.false('MOAT_CA_CERT' in environment, 'the CA is written into the bottle before it starts, not passed in its environment');
	t.is(environment.GH_TOKEN, 'moat-placeholder-github-token');
	t.is(environment.ANTHROPIC_API_KEY, 'sk-ant-api03-moat-placeholder');
	t.false('OPENAI_API_KEY' in environment);
});

const entry = (change: Partial<NetworkEntry>): NetworkEntry => ({
	ts: '2026-11-22T04:20:01.123Z', method: 'GET', url: 'https://api.github.com/user', status: 200, duration_ms: 42,
	bytes_in: 10, bytes_out: 0, grant: null, blocked: false, error: null, ...change,
});

test('a trace line is [time] METHOD URL STATUS (duration)', t => {
	t.is(formatNetworkEntry(entry({})), '[04:20:01.123] GET https://api.github.com/user 200 (42ms)');
});

test('a trace line names the injected grant and marks blocked requests', t => {
	t.is(formatNetworkEntry(entry({grant: 'github'})), '[04:20:01.123] GET https://api.github.com/user 200 (42ms)  [github]');
	t.is(formatNetworkEntry(entry({method: 'CONNECT', url: 'blocked.test:443', status: 403, blocked: true, error: 'Host "blocked.test" is not in the allow list.'})),
		'[04:20:01.123] CONNECT blocked.test:443 403 (42ms)  BLOCKED (Host "blocked.test" is not in the allow list.)');
	t.is(formatNetworkEntry(entry({status: 0, error: 'connect ECONNREFUSED'})), '[04:20:01.123] GET https://api.github.com/user --- (42ms)  error: connect ECONNREFUSED');
});

test('network.jsonl parsing skips a torn last line, without counting it, and keeps the rest', t => {
	const text = `${JSON.stringify(entry({}))}\n${JSON.stringify(entry({method: 'POST'}))}\n{"ts":"2026-11-22T04:2`;
	const parsed = parseNetworkEntries(text);
	t.deepEqual(parsed.entries.map(each => each.method), ['GET', 'POST']);
	t.is(parsed.skipped, 0);
});

for (const [title, line] of [
	['garbage', 'this is not json'],
	['a JSON number', '42'],
	['JSON null', 'null'],
	['an empty object', '{}'],
	['a status that is text', JSON.stringify({...entry({}), status: '200'})],
	['a missing url', JSON.stringify({...entry({}), url: undefined})],
	['blocked as text', JSON.stringify({...entry({}), blocked: 'no'})],
] as const) {
	test(`network.jsonl parsing skips and counts a complete line that is ${title}, keeping the lines around it`, t => {
		const text = `${JSON.stringify(entry({}))}\n${line}\n${JSON.stringify(entry({method: 'POST'}))}\n`;
		const parsed = parseNetworkEntries(text);
		t.deepEqual(parsed.entries.map(each => each.method), ['GET', 'POST']);
		t.is(parsed.skipped, 1);
		// Every entry kept can be printed: this is what crashed moat trace.
		t.notThrows(() => parsed.entries.map(each => formatNetworkEntry(each)));
	});
}

const settings: DaemonSettings = {version: '0.1.0', build: '1-2', upstreamOverrides: 'a=1.2.3.4:5', extraCaCertificates: '', routerPort: 8080, runConnections: null};

test('a daemon with the same settings is reused; any difference is named', t => {
	t.true(sameSettings(settings, {...settings}));
	t.false(sameSettings(settings, {...settings, upstreamOverrides: ''}));
	t.is(settingsDifference(settings, {...settings, upstreamOverrides: ''}), 'MOAT_UPSTREAM_OVERRIDES');
	t.is(settingsDifference(settings, {...settings, extraCaCertificates: '/x#1'}), 'NODE_EXTRA_CA_CERTS');
	t.is(settingsDifference(settings, {...settings, build: 'other'}), 'moat build');
	t.is(settingsDifference(settings, {...settings, routerPort: 9090}), 'MOAT_ROUTER_PORT');
	t.is(settingsDifference(settings, {...settings, runConnections: 20}), 'MOAT_RUN_CONNECTIONS');
	t.is(settingsDifference(settings, settings), undefined);
});

test('only a hash of a run token is kept, and it differs per token', t => {
	t.regex(tokenHash('a'), /^[\da-f]{64}$/);
	t.not(tokenHash('a'), tokenHash('b'));
	t.false(tokenHash('secret-token').includes('secret-token'));
});

const allowRequests: Array<{body: unknown; answer: ReturnType<typeof parseAllowRequest>}> = [
	{body: {host: 'api.example.com'}, answer: {entry: 'api.example.com'}},
	{body: {host: ' API.Example.com:8443 '}, answer: {entry: 'api.example.com:8443'}},
	{body: {host: '*.example.org'}, answer: {entry: '*.example.org'}},
	{body: undefined, answer: {error: 'the body needs a host, as {"host": "api.example.com"}'}},
	{body: null, answer: {error: 'the body needs a host, as {"host": "api.example.com"}'}},
	{body: {host: 42}, answer: {error: 'the body needs a host, as {"host": "api.example.com"}'}},
	{body: {host: 'https://api.example.com/'}, answer: {error: '"https://api.example.com/" is not an allow entry: use host, host:port, *.domain or *.domain:port'}},
	{body: {host: 'api.example.com:70000'}, answer: {error: '"api.example.com:70000" is not an allow entry: use host, host:port, *.domain or *.domain:port'}},
	{body: {host: '127.0.0.1'}, answer: {error: '"127.0.0.1" is a loopback address, which agents may never reach, whatever the allow list'}},
	{body: {host: '*.localhost'}, answer: {error: '"*.localhost" is a loopback address, which agents may never reach, whatever the allow list'}},
	{body: {host: '169.254.169.254'}, answer: {error: '"169.254.169.254" is a link-local address (cloud metadata lives there), which agents may never reach, whatever the allow list'}},
	{body: {host: '10.0.0.7:22'}, answer: {error: '"10.0.0.7:22" is a private address, which agents may never reach, whatever the allow list'}},
];
for (const {body, answer} of allowRequests) {
	test(`allow request ${JSON.stringify(body) ?? 'with no body'} ${'entry' in answer ? `is the entry ${answer.entry}` : 'is refused with the reason'}`, t => {
		t.deepEqual(parseAllowRequest(body), answer);
	});
}

const allowLists: Array<{title: string; allow: string[]; entry: string; result: ReturnType<typeof allowListWith>}> = [
	{title: 'a new entry goes at the end', allow: ['*.example.org'], entry: 'api.example.com', result: {allow: ['*.example.org', 'api.example.com'], added: true}},
	{title: 'an entry already there is not added again', allow: ['api.example.com'], entry: 'api.example.com', result: {allow: ['api.example.com'], added: false}},
	{title: 'an entry there in another spelling is not added again', allow: ['API.Example.com'], entry: 'api.example.com', result: {allow: ['API.Example.com'], added: false}},
	{title: 'another port is another entry', allow: ['api.example.com'], entry: 'api.example.com:8443', result: {allow: ['api.example.com', 'api.example.com:8443'], added: true}},
	{title: 'a wildcard does not hold its apex', allow: ['*.example.com'], entry: 'example.com', result: {allow: ['*.example.com', 'example.com'], added: true}},
	{title: 'an unparsable entry in the list is kept and holds nothing', allow: ['not a host'], entry: 'api.example.com', result: {allow: ['not a host', 'api.example.com'], added: true}},
];
for (const list of allowLists) {
	test(`allow list: ${list.title}`, t => {
		t.deepEqual(allowListWith(list.allow, list.entry), list.result);
	});
}
