import test from 'ava';
import {parseConfig} from '../source/config/config-parser.js';
import {nearest} from '../source/text/nearest.js';
import {exitCodes, MoatError} from '../source/errors.js';

const fullConfig = `name: my-agent
version: 1.2.3
agent: claude
dependencies:
  - node@20
  - git
  - claude-code
base_image: ubuntu:22.04
grants:
  - github
  - ssh:github.com
env:
  NODE_ENV: development
  DEBUG: 1
  VERBOSE: true
secrets:
  OP_TOKEN: op://vault/item/field
  SSM_DEFAULT: ssm:///prod/token
  SSM_REGIONAL: ssm://us-east-1/prod/token
  FROM_HOST: env://HOST_TOKEN
network:
  policy: strict
  allow:
    - api.example.com
    - "*.example.org"
    - git.example.com:443
mounts:
  - ./data:/data:ro
  - /srv/cache:/cache
ports:
  web: 3000
  api-v2: 8080
command: ["npm", "test"]
interactive: true
`;

test('a config using every field parses into typed values, with env scalars turned into strings', t => {
	t.deepEqual(parseConfig(fullConfig, 'agent.yaml'), {
		name: 'my-agent',
		version: '1.2.3',
		agent: 'claude',
		dependencies: ['node@20', 'git', 'claude-code'],
		base_image: 'ubuntu:22.04',
		grants: ['github', 'ssh:github.com'],
		env: {NODE_ENV: 'development', DEBUG: '1', VERBOSE: 'true'},
		secrets: {
			OP_TOKEN: 'op://vault/item/field',
			SSM_DEFAULT: 'ssm:///prod/token',
			SSM_REGIONAL: 'ssm://us-east-1/prod/token',
			FROM_HOST: 'env://HOST_TOKEN',
		},
		network: {policy: 'strict', allow: ['api.example.com', '*.example.org', 'git.example.com:443']},
		mounts: ['./data:/data:ro', '/srv/cache:/cache'],
		ports: {web: 3000, 'api-v2': 8080},
		command: ['npm', 'test'],
		interactive: true,
	});
});

const emptyTexts: Array<{title: string; text: string}> = [
	{title: 'empty text', text: ''},
	{title: 'only whitespace', text: '\n  \n'},
	{title: 'only a comment', text: '# nothing configured yet\n'},
];

for (const {title, text} of emptyTexts) {
	test(`${title} parses to an empty config`, t => {
		t.deepEqual(parseConfig(text, 'agent.yaml'), {});
	});
}

type BadConfig = {
	title: string;
	text: string;
	line: number;
	column: number;
	/** Text the message must contain besides the position: the key, or what is wrong. */
	mentions: string[];
	hint: RegExp;
};

const badConfigs: BadConfig[] = [
	{
		title: 'a stray closing bracket is invalid YAML reported where the bracket is',
		text: 'command: [npm, test]]\n',
		line: 1,
		column: 21,
		mentions: ['invalid YAML'],
		hint: /Fix the YAML syntax in agent\.yaml/,
	},
	{
		title: 'a value starting with a reserved character is invalid YAML reported at the value',
		text: 'name: @x\n',
		line: 1,
		column: 7,
		mentions: ['invalid YAML', 'reserved character @'],
		hint: /Fix the YAML syntax/,
	},
	{
		title: 'tab indentation is invalid YAML reported on its line',
		text: 'name: a\n\tcommand: b\n',
		line: 2,
		column: 1,
		mentions: ['invalid YAML', 'Tabs'],
		hint: /Fix the YAML syntax/,
	},
	{
		title: 'a misspelt top-level key is reported at the key and the nearest key is suggested',
		text: 'name: a\ndependecies:\n  - node@20\n',
		line: 2,
		column: 1,
		mentions: ['unknown key "dependecies"'],
		hint: /^Did you mean "dependencies"\? Known keys: name, version, agent, dependencies,/,
	},
	{
		title: 'a misspelt key under network is reported with its full path and the nearest network key is suggested',
		text: 'network:\n  polcy: strict\n',
		line: 2,
		column: 3,
		mentions: ['unknown key "network.polcy"'],
		hint: /^Did you mean "policy"\? Known keys: policy, allow\.$/,
	},
	{
		title: 'an unknown key that resembles nothing lists the known keys without a suggestion',
		text: 'name: a\nzzzzzzzz: 1\n',
		line: 2,
		column: 1,
		mentions: ['unknown key "zzzzzzzz"'],
		hint: /^Known keys: name, version, agent, dependencies, base_image, grants, env, secrets, network, mounts, ports, command, interactive\.$/,
	},
	{
		title: 'command written as a string is reported at the value and asks for a list',
		text: 'name: x\ncommand: npm test\n',
		line: 2,
		column: 10,
		mentions: ['"command" must be a list'],
		hint: /command: \["npm", "test"\]/,
	},
	{
		title: 'command: [""] is reported at the empty first item',
		text: 'command: [""]\n',
		line: 1,
		column: 11,
		mentions: ['"command[0]" must start with a program name'],
		hint: /first item is the program/,
	},
	{
		title: 'command whose first item is only spaces is reported at that item',
		text: 'command:\n  - "   "\n  - test\n',
		line: 2,
		column: 5,
		mentions: ['"command[0]" must start with a program name'],
		hint: /first item is the program/,
	},
	{
		title: 'a port given as a quoted string is reported at the value',
		text: 'ports:\n  web: "3000"\n',
		line: 2,
		column: 8,
		mentions: ['"ports.web" must be a port number'],
		hint: /ports: \{web: 3000\}/,
	},
	{
		title: 'port 70000 is reported as out of range at the value',
		text: 'ports:\n  web: 70000\n',
		line: 2,
		column: 8,
		mentions: ['"ports.web" must be between 1 and 65535'],
		hint: /ports: \{web: 3000\}/,
	},
	{
		title: 'port 0 is reported as out of range at the value',
		text: 'ports:\n  web: 0\n',
		line: 2,
		column: 8,
		mentions: ['"ports.web" must be between 1 and 65535'],
		hint: /ports: \{web: 3000\}/,
	},
	{
		title: 'interactive: "yes" (a quoted string) is reported at the value',
		text: 'interactive: "yes"\n',
		line: 1,
		column: 14,
		mentions: ['"interactive" must be true or false'],
		hint: /interactive: true or interactive: false/,
	},
	{
		title: 'an env name starting with a digit is reported at the name itself',
		text: 'env:\n  OK: fine\n  1X: y\n',
		line: 3,
		column: 3,
		mentions: ['"env.1X"'],
		hint: /env: \{NODE_ENV: development\}/,
	},
	{
		title: 'a secret that is not a reference is reported at the value and lists the reference forms',
		text: 'secrets:\n  TOKEN: vault/item\n',
		line: 2,
		column: 10,
		mentions: ['"secrets.TOKEN" is not a secret reference'],
		hint: /op:\/\/vault\/item\/field, ssm:\/\/\/path or env:\/\/NAME/,
	},
	{
		title: 'agent: gpt is reported at the value and names the two agents',
		text: 'name: a\nagent: gpt\n',
		line: 2,
		column: 8,
		mentions: ['"agent" must be "claude" or "codex"'],
		hint: /agent: claude or agent: codex/,
	},
	{
		title: 'network policy other than permissive or strict is reported at the value',
		text: 'network:\n  policy: open\n',
		line: 2,
		column: 11,
		mentions: ['"network.policy" must be "permissive" or "strict"'],
		hint: /policy: strict/,
	},
	{
		title: 'a non-string item deep in network.allow is reported at that item',
		text: 'network:\n  policy: strict\n  allow:\n    - 7\n',
		line: 4,
		column: 7,
		mentions: ['"network.allow[0]" must be a string'],
		hint: /allow:/,
	},
	{
		title: 'an empty dependency is reported at its list item',
		text: 'dependencies:\n  - node@20\n  - ""\n',
		line: 3,
		column: 5,
		mentions: ['"dependencies[1]" must not be empty'],
		hint: /node@20/,
	},
	{
		title: 'a duplicate key is reported at the second occurrence',
		text: 'name: a\nname: b\n',
		line: 2,
		column: 1,
		mentions: ['invalid YAML', 'unique'],
		hint: /Fix the YAML syntax/,
	},
	{
		title: 'a duplicate key inside network is reported at the second occurrence',
		text: 'network:\n  policy: strict\n  policy: permissive\n',
		line: 3,
		column: 3,
		mentions: ['invalid YAML', 'unique'],
		hint: /Fix the YAML syntax/,
	},
	{
		title: 'a top-level list instead of a map is reported at the start of the file',
		text: '- name: a\n- command: [ls]\n',
		line: 1,
		column: 1,
		mentions: ['must be a map of settings'],
		hint: /name:, dependencies: and command:/,
	},
	{
		title: 'a bare top-level scalar is reported at the start of the file',
		text: 'hello\n',
		line: 1,
		column: 1,
		mentions: ['must be a map of settings'],
		hint: /name:/,
	},
	{
		title: 'positions count lines after comments and CRLF line ends',
		text: '# settings\r\nname: a\r\nagent: gpt\r\n',
		line: 3,
		column: 8,
		mentions: ['"agent"'],
		hint: /agent: claude/,
	},
];

for (const {title, text, line, column, mentions, hint} of badConfigs) {
	test(`${title} (agent.yaml:${line}:${column}, exit 2)`, t => {
		const error = t.throws(() => parseConfig(text, 'agent.yaml'), {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
		t.true(error?.message.startsWith(`agent.yaml:${line}:${column}: `), `message was: ${error?.message}`);
		for (const expected of mentions) {
			t.true(error?.message.includes(expected), `message "${error?.message}" lacks "${expected}"`);
		}

		t.regex(error?.hint ?? '', hint);
	});
}

const secretReferences: Array<{reference: string; valid: boolean}> = [
	{reference: 'op://vault/item/field', valid: true},
	{reference: 'op://vault/item/section/field', valid: true},
	{reference: 'ssm:///prod/token', valid: true},
	{reference: 'ssm://eu-west-1/prod/token', valid: true},
	{reference: 'env://HOST_TOKEN', valid: true},
	{reference: 'op://vault/item', valid: false},
	{reference: 'op:///item/field', valid: false},
	{reference: 'ssm://', valid: false},
	{reference: 'ssm:/prod/token', valid: false},
	{reference: 'env://1TOKEN', valid: false},
	{reference: 'env://', valid: false},
	{reference: 'https://example.com/token', valid: false},
	{reference: 'plain-value', valid: false},
];

for (const {reference, valid} of secretReferences) {
	const text = `secrets:\n  TOKEN: "${reference}"\n`;
	if (valid) {
		test(`secret reference ${reference} is accepted unchanged`, t => {
			t.deepEqual(parseConfig(text, 'agent.yaml'), {secrets: {TOKEN: reference}});
		});
	} else {
		test(`secret reference "${reference}" is refused at agent.yaml:2:10`, t => {
			const error = t.throws(() => parseConfig(text, 'agent.yaml'), {instanceOf: MoatError});
			t.is(error?.exitCode, exitCodes.usage);
			t.is(
				error?.message,
				'agent.yaml:2:10: "secrets.TOKEN" is not a secret reference (op://vault/item/field, ssm:///path, ssm://region/path or env://NAME).',
			);
		});
	}
}

test('the file label given by the caller is the one named in the position', t => {
	const error = t.throws(() => parseConfig('agent: gpt\n', 'moat.yaml'), {instanceOf: MoatError});
	t.true(error?.message.startsWith('moat.yaml:1:8: '));
});

test('the first problem is reported in full and the others are counted', t => {
	const two = t.throws(() => parseConfig('agent: gpt\ninteractive: "yes"\n', 'agent.yaml'), {instanceOf: MoatError});
	t.regex(two?.message ?? '', /\(and 1 more problem\)$/);
	const three = t.throws(() => parseConfig('agent: gpt\ninteractive: "yes"\nports: {web: 0}\n', 'agent.yaml'), {instanceOf: MoatError});
	t.regex(three?.message ?? '', /\(and 2 more problems\)$/);
});

const nearestCases: Array<{word: string; candidates: string[]; expected: string | undefined; why: string}> = [
	{word: 'dependecies', candidates: ['name', 'dependencies', 'command'], expected: 'dependencies', why: 'one dropped letter'},
	{word: 'polcy', candidates: ['policy', 'allow'], expected: 'policy', why: 'one dropped letter in a short word'},
	{word: 'NAME', candidates: ['name', 'agent'], expected: 'name', why: 'case is ignored'},
	{word: 'comand', candidates: ['command', 'agent'], expected: 'command', why: 'distance 1'},
	{word: 'base-image', candidates: ['base_image', 'agent'], expected: 'base_image', why: 'a dash for an underscore'},
	{word: 'zzzzzzzz', candidates: ['name', 'agent'], expected: undefined, why: 'nothing is close'},
	{word: 'xyz', candidates: ['name'], expected: undefined, why: 'a short word far from every candidate'},
	{word: 'name', candidates: [], expected: undefined, why: 'there are no candidates'},
];

for (const {word, candidates, expected, why} of nearestCases) {
	test(`nearest("${word}") is ${expected === undefined ? 'nothing' : `"${expected}"`} when ${why}`, t => {
		t.is(nearest(word, candidates), expected);
	});
}
