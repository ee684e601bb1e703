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
		hint: /^Did you mean "policy"\? Known keys: policy, allow, host\.$/,
	},
	{
		title: 'an unknown key that resembles nothing lists the known keys without a suggestion',
		text: 'name: a\nzzzzzzzz: 1\n',
		line: 2,
		column: 1,
		mentions: ['unknown key "zzzzzzzz"'],
		hint: /^Known keys: name, version, agent, dependencies, base_image, grants, env, secrets, network, mounts, ports, command, interactive, resources\.$/,
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
		title: 'an env name starting with a digit is reported at the name itself as not a valid variable name',
		text: 'env:\n  OK: fine\n  1X: y\n',
		line: 3,
		column: 3,
		mentions: ['"env.1X" is not a valid environment variable name'],
		hint: /env: \{NODE_ENV: development\}/,
	},
	{
		title: 'an env name starting with a digit in a flow map is reported at the name as not a valid variable name',
		text: 'env: {1X: y}\n',
		line: 1,
		column: 7,
		mentions: ['"env.1X" is not a valid environment variable name'],
		hint: /env: \{NODE_ENV: development\}/,
	},
	{
		title: 'a secret name with a dash is reported at the name as not a valid variable name',
		text: 'secrets:\n  MY-TOKEN: env://HOST_TOKEN\n',
		line: 2,
		column: 3,
		mentions: ['"secrets.MY-TOKEN" is not a valid environment variable name'],
		hint: /op:\/\/vault\/item\/field/,
	},
	{
		title: 'an uppercase port name in a flow map is reported at the name as not a valid service name',
		text: 'ports: {Web: 80}\n',
		line: 1,
		column: 9,
		mentions: ['"ports.Web" is not a valid service name'],
		hint: /ports: \{web: 3000\}/,
	},
	{
		title: 'a port name with an underscore is reported at the name as not a valid service name',
		text: 'ports:\n  my_web: 80\n',
		line: 2,
		column: 3,
		mentions: ['"ports.my_web" is not a valid service name'],
		hint: /ports: \{web: 3000\}/,
	},
	{
		title: 'a base_image smuggling a second Dockerfile line in a quoted string is refused at the value',
		text: 'base_image: "ubuntu:22.04\\nRUN id"\n',
		line: 1,
		column: 13,
		mentions: ['"base_image" is not an image reference'],
		hint: /base_image: ubuntu:22\.04/,
	},
	{
		title: 'a base_image smuggling a second Dockerfile line in a block scalar is refused at the value',
		text: 'name: a\nbase_image: |\n  ubuntu:22.04\n  RUN id\n',
		line: 2,
		column: 13,
		mentions: ['"base_image" is not an image reference'],
		hint: /base_image: ubuntu:22\.04/,
	},
	{
		title: 'command: [] is one problem, reported at the list, with no count of further problems',
		text: 'command: []\n',
		line: 1,
		column: 10,
		mentions: ['"command" must not be empty.'],
		hint: /first item is the program/,
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
		title: 'a host port that is not a port number is reported at that item (network.host)',
		text: 'network:\n  host: [5432, 70000]\n',
		line: 2,
		column: 16,
		mentions: ['"network.host[1]" must be between 1 and 65535'],
		hint: /host: \[5432\]/,
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
		title: 'a duplicate key is reported at the second occurrence, by name',
		text: 'name: a\nname: b\n',
		line: 2,
		column: 1,
		mentions: ['invalid YAML: duplicate key "name"'],
		hint: /Fix the YAML syntax/,
	},
	{
		title: 'a duplicate key inside network is reported at the second occurrence, by name',
		text: 'network:\n  policy: strict\n  policy: permissive\n',
		line: 3,
		column: 3,
		mentions: ['invalid YAML: duplicate key "policy"'],
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

const exactProblems: Array<{title: string; text: string; message: string; hint: string}> = [
	{
		title: 'a bad env name gives the key rule\'s message, not a generic one',
		text: 'env: {1X: y}\n',
		message: 'agent.yaml:1:7: "env.1X" is not a valid environment variable name (letters, digits and _, not starting with a digit).',
		hint: 'Write env as a map, e.g. env: {NODE_ENV: development}.',
	},
	{
		title: 'a bad port name gives the key rule\'s message, not a generic one',
		text: 'ports: {Web: 80}\n',
		message: 'agent.yaml:1:9: "ports.Web" is not a valid service name (lowercase letters, digits and -).',
		hint: 'Write ports as a map of name to container port, e.g. ports: {web: 3000}.',
	},
	{
		title: 'a base_image with a newline is refused with exit code 2 and an example',
		text: 'base_image: "ubuntu:22.04\\nRUN id"\n',
		message: 'agent.yaml:1:13: "base_image" is not an image reference such as ubuntu:22.04 or registry.example.com/team/image:tag.',
		hint: 'Name an image such as base_image: ubuntu:22.04.',
	},
	{
		title: 'a duplicate key names the key and nothing else',
		text: 'name: a\nname: b\n',
		message: 'agent.yaml:2:1: invalid YAML: duplicate key "name"',
		hint: 'Fix the YAML syntax in agent.yaml.',
	},
	{
		title: 'command: [] is a single problem',
		text: 'command: []\n',
		message: 'agent.yaml:1:10: "command" must not be empty.',
		hint: 'Write command as a list whose first item is the program, e.g. command: ["npm", "test"].',
	},
	{
		title: 'two problems name the first and count one more',
		text: 'agent: gpt\ninteractive: "yes"\n',
		message: 'agent.yaml:1:8: "agent" must be "claude" or "codex". (and 1 more problem)',
		hint: 'Set agent: claude or agent: codex, or leave it out for a plain command.',
	},
	{
		title: 'three problems are reported in file order, not schema order: line 1 first, with its own hint',
		text: 'agent: gpt\ninteractive: "yes"\nversion: [1]\n',
		message: 'agent.yaml:1:8: "agent" must be "claude" or "codex". (and 2 more problems)',
		hint: 'Set agent: claude or agent: codex, or leave it out for a plain command.',
	},
	{
		title: 'the same three problems in another file order name the new first line',
		text: 'version: [1]\nagent: gpt\ninteractive: "yes"\n',
		message: 'agent.yaml:1:10: "version" must be a string. (and 2 more problems)',
		hint: 'Use a version string such as version: 1.0.0.',
	},
	{
		title: 'a key the schema checks late is reported first when it comes first in the file',
		text: 'interactive: "yes"\nagent: gpt\n',
		message: 'agent.yaml:1:14: "interactive" must be true or false. (and 1 more problem)',
		hint: 'Write interactive: true or interactive: false.',
	},
	{
		title: 'an unknown key on line 1 is reported before a bad value on line 2',
		text: 'zzz: 1\nagent: gpt\n',
		message: 'agent.yaml:1:1: unknown key "zzz". (and 1 more problem)',
		hint: 'Known keys: name, version, agent, dependencies, base_image, grants, env, secrets, network, mounts, ports, command, interactive, resources.',
	},
];

for (const {title, text, message, hint} of exactProblems) {
	test(`exact report: ${title}`, t => {
		const error = t.throws(() => parseConfig(text, 'agent.yaml'), {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
		t.is(error?.message, message);
		t.is(error?.hint, hint);
	});
}

const writtenText: Array<{title: string; text: string; expected: Record<string, unknown>}> = [
	{title: 'version: 1.10 stays "1.10", not 1.1', text: 'version: 1.10\n', expected: {version: '1.10'}},
	{title: 'version: 1.0 stays "1.0", not 1', text: 'version: 1.0\n', expected: {version: '1.0'}},
	{title: 'version: 2 is "2"', text: 'version: 2\n', expected: {version: '2'}},
	{title: 'version: 2.0.0 is a plain string already', text: 'version: 2.0.0\n', expected: {version: '2.0.0'}},
	{title: 'a quoted version is taken as written', text: 'version: "1.10"\n', expected: {version: '1.10'}},
	{title: 'env value 01234 keeps its leading zero', text: 'env:\n  ZIP: 01234\n', expected: {env: {ZIP: '01234'}}},
	{title: 'env value 0x10 stays hexadecimal text, not 16', text: 'env:\n  MASK: 0x10\n', expected: {env: {MASK: '0x10'}}},
	{title: 'env value true stays "true"', text: 'env:\n  ON: true\n', expected: {env: {ON: 'true'}}},
	{title: 'env value 1e3 stays "1e3", not 1000', text: 'env:\n  COUNT: 1e3\n', expected: {env: {COUNT: '1e3'}}},
	{title: 'env value 1.50 keeps its trailing zero', text: 'env:\n  RATIO: 1.50\n', expected: {env: {RATIO: '1.50'}}},
	{title: 'env values in a flow map keep their written text', text: 'env: {A: 01234, B: 0x10, C: true}\n', expected: {env: {A: '01234', B: '0x10', C: 'true'}}},
	{title: 'written text is kept for version and env in one file', text: 'version: 1.10\nenv: {ZIP: 01234}\n', expected: {version: '1.10', env: {ZIP: '01234'}}},
];

for (const {title, text, expected} of writtenText) {
	test(`written text: ${title}`, t => {
		t.deepEqual(parseConfig(text, 'agent.yaml'), expected);
	});
}

const imageReferences: Array<{reference: string; valid: boolean; why: string}> = [
	{reference: 'ubuntu:22.04', valid: true, why: 'a name and a tag'},
	{reference: 'ubuntu', valid: true, why: 'a name alone'},
	{reference: 'library/node:20-slim', valid: true, why: 'a path and a tag with a dash'},
	{reference: 'registry.example.com:5000/team/img:1.2', valid: true, why: 'a registry with a port, a path and a tag'},
	{reference: `img@sha256:${'a'.repeat(64)}`, valid: true, why: 'a digest'},
	{reference: `ubuntu:22.04@sha256:${'0'.repeat(64)}`, valid: true, why: 'a tag and a digest'},
	{reference: 'ubuntu:22.04\nRUN id', valid: false, why: 'a newline starts a second Dockerfile instruction'},
	{reference: 'ubuntu:22.04 AS base', valid: false, why: 'a space adds FROM arguments'},
	{reference: 'Ubuntu:22.04', valid: false, why: 'repository names are lowercase'},
	{reference: 'ubuntu:', valid: false, why: 'an empty tag'},
	{reference: 'ubuntu:-x', valid: false, why: 'a tag may not start with a dash'},
	{reference: 'img@sha256:abc', valid: false, why: 'a digest shorter than 64 hex digits'},
	{reference: 'a//b', valid: false, why: 'an empty path component'},
	{reference: '', valid: false, why: 'empty'},
];

for (const {reference, valid, why} of imageReferences) {
	const text = `base_image: ${JSON.stringify(reference)}\n`;
	if (valid) {
		test(`base_image ${reference} is accepted unchanged (${why})`, t => {
			t.deepEqual(parseConfig(text, 'agent.yaml'), {base_image: reference});
		});
	} else {
		test(`base_image ${JSON.stringify(reference)} is refused at agent.yaml:1:13 with exit code 2 (${why})`, t => {
			const error = t.throws(() => parseConfig(text, 'agent.yaml'), {instanceOf: MoatError});
			t.is(error?.exitCode, exitCodes.usage);
			t.true(error?.message.startsWith('agent.yaml:1:13: "base_image" is not an image reference'), error?.message);
		});
	}
}

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
