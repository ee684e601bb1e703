import test from 'ava';
import {exitCodes, MoatError} from '../source/errors.js';
import {parseUpstreamOverrides, resolveUpstream, type UpstreamTarget} from '../source/network/upstream-overrides.js';

/** [MOAT_UPSTREAM_OVERRIDES, the parsed map as entries]. */
const parses: Array<[string | undefined, Array<[string, UpstreamTarget]>]> = [
	[undefined, []],
	['', []],
	[' , ,', []],
	['api.github.com=127.0.0.1:8443', [['api.github.com', {address: '127.0.0.1', port: 8443}]]],
	['api.github.com:443=127.0.0.1:8443', [['api.github.com:443', {address: '127.0.0.1', port: 8443}]]],
	['api.github.com=[::1]:8443', [['api.github.com', {address: '::1', port: 8443}]]],
	['api.github.com:443=[fe80::1:2]:9000', [['api.github.com:443', {address: 'fe80::1:2', port: 9000}]]],
	['api.github.com=localhost:8443', [['api.github.com', {address: 'localhost', port: 8443}]]],
	['API.GitHub.COM=127.0.0.1:1', [['api.github.com', {address: '127.0.0.1', port: 1}]]],
	[
		'api.github.com=127.0.0.1:1, api.anthropic.com:443=[::1]:2 ,api.openai.com=stand-in.local:3',
		[
			['api.github.com', {address: '127.0.0.1', port: 1}],
			['api.anthropic.com:443', {address: '::1', port: 2}],
			['api.openai.com', {address: 'stand-in.local', port: 3}],
		],
	],
	['example.com=127.0.0.1:1,example.com:8080=127.0.0.1:2', [['example.com', {address: '127.0.0.1', port: 1}], ['example.com:8080', {address: '127.0.0.1', port: 2}]]],
];

for (const [text, expected] of parses) {
	test(`parseUpstreamOverrides(${JSON.stringify(text)}) gives ${expected.length} override(s)`, t => {
		t.deepEqual([...parseUpstreamOverrides(text)], expected);
	});
}

const badEntries = [
	'api.github.com',
	'api.github.com=127.0.0.1',
	'api.github.com=:8443',
	'=127.0.0.1:8443',
	'api.github.com=::1:8443',
	'api.github.com=[::1]',
	'api.github.com=127.0.0.1:port',
	'api.github.com:https=127.0.0.1:8443',
	'https://api.github.com=127.0.0.1:8443',
	'api.github.com=127.0.0.1:8443=x',
	'api.github.com 127.0.0.1:8443',
	'[::1]=127.0.0.1:8443',
] as const;

for (const entry of badEntries) {
	test(`the entry ${JSON.stringify(entry)} is a usage error (exit 2) naming it`, t => {
		const error = t.throws(() => parseUpstreamOverrides(`good.example=127.0.0.1:1,${entry}`), {instanceOf: MoatError});
		t.is(error.exitCode, exitCodes.usage);
		t.is(error.exitCode, 2);
		t.true(error.message.includes(`"${entry}"`));
		t.regex(error.hint, /api\.github\.com=127\.0\.0\.1:8443/);
	});
}

const overrides = parseUpstreamOverrides('api.github.com=127.0.0.1:1000,api.github.com:8443=127.0.0.1:2000,Mixed.Example.COM:443=[::1]:3000');

/** [host, port, where resolveUpstream sends it]. */
const resolutions: Array<[string, number, UpstreamTarget & {overridden: boolean}]> = [
	['api.github.com', 443, {address: '127.0.0.1', port: 1000, overridden: true}],
	['api.github.com', 80, {address: '127.0.0.1', port: 1000, overridden: true}],
	['api.github.com', 8443, {address: '127.0.0.1', port: 2000, overridden: true}],
	['API.GITHUB.COM', 8443, {address: '127.0.0.1', port: 2000, overridden: true}],
	['Api.GitHub.com', 443, {address: '127.0.0.1', port: 1000, overridden: true}],
	['mixed.example.com', 443, {address: '::1', port: 3000, overridden: true}],
	['mixed.example.com', 8443, {address: 'mixed.example.com', port: 8443, overridden: false}],
	['github.com', 443, {address: 'github.com', port: 443, overridden: false}],
	['sub.api.github.com', 443, {address: 'sub.api.github.com', port: 443, overridden: false}],
	['127.0.0.1', 1000, {address: '127.0.0.1', port: 1000, overridden: false}],
];

for (const [host, port, expected] of resolutions) {
	test(`${host}:${port} resolves to ${expected.overridden ? `the override ${expected.address}:${expected.port}` : 'itself'}`, t => {
		t.deepEqual(resolveUpstream(overrides, host, port), expected);
	});
}

test('the port-specific entry wins over the host-wide one whichever comes first', t => {
	const portFirst = parseUpstreamOverrides('h.example:443=127.0.0.1:2,h.example=127.0.0.1:1');
	const hostFirst = parseUpstreamOverrides('h.example=127.0.0.1:1,h.example:443=127.0.0.1:2');
	for (const parsed of [portFirst, hostFirst]) {
		t.deepEqual(resolveUpstream(parsed, 'h.example', 443), {address: '127.0.0.1', port: 2, overridden: true});
		t.deepEqual(resolveUpstream(parsed, 'h.example', 444), {address: '127.0.0.1', port: 1, overridden: true});
	}
});

test('with no overrides every host resolves to itself', t => {
	t.deepEqual(resolveUpstream(parseUpstreamOverrides(undefined), 'api.github.com', 443), {address: 'api.github.com', port: 443, overridden: false});
});

for (const entry of ['h=1.2.3.4:99999', 'h=1.2.3.4:0', 'h:70000=1.2.3.4:443']) {
	test(`override "${entry}" with a port outside 1-65535 is a usage error`, t => {
		const error = t.throws(() => parseUpstreamOverrides(entry), {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
	});
}
