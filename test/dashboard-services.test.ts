import test from 'ava';
import {allowEntryOf, bottleRequestOf} from '../source/dashboard/dashboard-services.js';

const common = {environment: [], mounts: [], detach: true, hasTerminal: false, rebuild: false, keep: false};

test('bottleRequestOf: a Claude bottle, detached, with its name, each grant and the prompt as its first message', t => {
	t.deepEqual(
		bottleRequestOf({agent: 'claude', workspace: '/home/u/project', name: 'demo', grants: ['claude', 'github'], prompt: 'fix the tests', attached: true}, '/home/u'),
		{recipe: 'claude', workspace: '/home/u/project', cwd: '/home/u/project', name: 'demo', grants: ['claude', 'github'], command: ['fix the tests'], ...common},
	);
});

test('bottleRequestOf: a Codex bottle without name or prompt has neither', t => {
	t.deepEqual(
		bottleRequestOf({agent: 'codex', workspace: '/w', grants: ['openai'], attached: false}, '/home/u'),
		{recipe: 'codex', workspace: '/w', cwd: '/w', grants: ['openai'], command: [], ...common},
	);
});

test('bottleRequestOf: a prompt that looks like a flag is a message, never parsed as flags', t => {
	const request = bottleRequestOf({agent: 'claude', workspace: '/w', grants: [], prompt: '-n evil --grant github', attached: true}, '/home/u');
	t.deepEqual(request.command, ['-n evil --grant github']);
	t.deepEqual(request.grants, []);
	t.is(request.name, undefined);
});

test('bottleRequestOf: a shell takes no prompt, and ~ is the user\'s home', t => {
	t.deepEqual(
		bottleRequestOf({agent: 'shell', workspace: '~/box', name: 'box', grants: ['github'], prompt: 'ignored', attached: true}, '/home/u'),
		{recipe: 'shell', workspace: '/home/u/box', cwd: '/home/u/box', name: 'box', grants: ['github'], command: [], ...common},
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
