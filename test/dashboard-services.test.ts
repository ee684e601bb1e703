import test from 'ava';
import {allowEntryOf, startArguments} from '../source/dashboard/dashboard-services.js';

const shell = ['sh', '-c', 'if command -v bash >/dev/null; then exec bash; else exec sh; fi'];

test('startArguments: a Claude bottle, detached, with its name, each grant and the prompt after --', t => {
	t.deepEqual(
		startArguments({agent: 'claude', workspace: '/home/u/project', name: 'demo', grants: ['claude', 'github'], prompt: 'fix the tests', attached: true}),
		['claude', '/home/u/project', '-d', '-n', 'demo', '-g', 'claude', '-g', 'github', '--', 'fix the tests'],
	);
});

test('startArguments: a Codex bottle without name or prompt has neither -n nor --', t => {
	t.deepEqual(
		startArguments({agent: 'codex', workspace: '/w', grants: ['openai'], attached: false}),
		['codex', '/w', '-d', '-g', 'openai'],
	);
});

test('startArguments: a prompt that looks like a flag stays after --, where moat does not parse it', t => {
	const argv = startArguments({agent: 'claude', workspace: '/w', grants: [], prompt: '-n evil --grant github', attached: true});
	t.deepEqual(argv, ['claude', '/w', '-d', '--', '-n evil --grant github']);
});

test('startArguments: a shell is moat run -i with bash if the image has it, and no prompt even if one was given', t => {
	t.deepEqual(
		startArguments({agent: 'shell', workspace: '/w', name: 'box', grants: ['github'], attached: true}),
		['run', '/w', '-d', '-n', 'box', '-g', 'github', '-i', '--', ...shell],
	);
	t.deepEqual(
		startArguments({agent: 'shell', workspace: '/w', grants: [], prompt: 'ignored', attached: true}),
		['run', '/w', '-d', '-i', '--', ...shell],
	);
});

test('a blocked request becomes the allow entry for its host, with its port unless 80 or 443', t => {
	t.is(allowEntryOf('pypi.org:443'), 'pypi.org');
	t.is(allowEntryOf('https://pypi.org/simple/'), 'pypi.org');
	t.is(allowEntryOf('http://example.com/x'), 'example.com');
	t.is(allowEntryOf('git.example.com:8443'), 'git.example.com:8443');
	t.is(allowEntryOf('[2001:db8::1]:443'), '2001:db8::1');
	t.is(allowEntryOf('*.com:443'), undefined, 'a pattern is never offered');
	t.is(allowEntryOf('::::'), undefined);
});
