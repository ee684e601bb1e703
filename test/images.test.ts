import {spawnSync} from 'node:child_process';
import process from 'node:process';
import test from 'ava';
import {exitCodes, MoatError} from '../source/errors.js';
import {defaultBaseImage, describeDependency, planDependencies, type DependencyPlan} from '../source/images/dependencies.js';
import {imageRecipe, initScriptPath, renderDockerfile} from '../source/images/dockerfile.js';
import {initScript} from '../source/images/init-script.js';

const plans: Array<{title: string; dependencies: string[]; baseImage?: string; expected: DependencyPlan}> = [
	{title: 'node@20 picks node:20', dependencies: ['node@20'], expected: {baseImage: 'node:20', systemPackages: [], npmPackages: []}},
	{title: 'python@3.11 picks python:3.11', dependencies: ['python@3.11'], expected: {baseImage: 'python:3.11', systemPackages: [], npmPackages: []}},
	{title: 'go@1.22 picks golang:1.22', dependencies: ['go@1.22'], expected: {baseImage: 'golang:1.22', systemPackages: [], npmPackages: []}},
	{title: 'a three-part version is passed to the image tag', dependencies: ['node@20.11.1'], expected: {baseImage: 'node:20.11.1', systemPackages: [], npmPackages: []}},
	{title: 'no dependencies picks ubuntu:22.04', dependencies: [], expected: {baseImage: 'ubuntu:22.04', systemPackages: [], npmPackages: []}},
	{
		title: 'base_image overrides the runtime\'s image',
		dependencies: ['node@20', 'git'],
		baseImage: 'debian:12',
		expected: {baseImage: 'debian:12', systemPackages: ['git'], npmPackages: []},
	},
	{
		title: 'git and other Debian package names become sorted, de-duplicated system packages',
		dependencies: ['ripgrep', 'git', 'g++', 'python3', 'git'],
		expected: {baseImage: 'ubuntu:22.04', systemPackages: ['g++', 'git', 'python3', 'ripgrep'], npmPackages: []},
	},
	{
		title: 'claude-code and codex become their npm packages on a Node image',
		dependencies: ['codex', 'node@20', 'claude-code'],
		expected: {baseImage: 'node:20', systemPackages: [], npmPackages: ['@anthropic-ai/claude-code', '@openai/codex']},
	},
	{
		title: 'claude-code without node is allowed when base_image is set (the image is the user\'s choice)',
		dependencies: ['claude-code'],
		baseImage: 'my/node-image:1',
		expected: {baseImage: 'my/node-image:1', systemPackages: [], npmPackages: ['@anthropic-ai/claude-code']},
	},
	{
		title: 'a base_image with a registry port, a path and a tag is used as given',
		dependencies: ['git'],
		baseImage: 'registry.example.com:5000/team/img:1.2',
		expected: {baseImage: 'registry.example.com:5000/team/img:1.2', systemPackages: ['git'], npmPackages: []},
	},
	{
		title: 'a base_image pinned by digest is used as given',
		dependencies: [],
		baseImage: `img@sha256:${'a'.repeat(64)}`,
		expected: {baseImage: `img@sha256:${'a'.repeat(64)}`, systemPackages: [], npmPackages: []},
	},
];

for (const {title, dependencies, baseImage, expected} of plans) {
	test(`planDependencies: ${title}`, t => {
		t.deepEqual(planDependencies(dependencies, baseImage), expected);
	});
}

test('the default base image is ubuntu:22.04', t => {
	t.is(defaultBaseImage, 'ubuntu:22.04');
});

const refusals: Array<{title: string; dependencies: string[]; message: string; hint: RegExp}> = [
	{
		title: 'two runtimes',
		dependencies: ['node@20', 'python@3.11'],
		message: 'Dependencies name two runtimes (node@20 and python@3.11); the base image comes from one.',
		hint: /Keep one runtime/,
	},
	{title: 'a runtime without a version', dependencies: ['node'], message: 'Dependency "node" needs a version.', hint: /node@VERSION, e\.g\. node@20/},
	{title: 'a runtime with an empty version', dependencies: ['python@'], message: 'Dependency "python@" needs a version.', hint: /python@3\.11/},
	{title: 'a runtime with a word for a version', dependencies: ['go@latest'], message: 'Dependency "go@latest" needs a version.', hint: /go@1\.22/},
	{title: 'claude-code without node or base_image', dependencies: ['claude-code'], message: 'Dependencies @anthropic-ai/claude-code are npm packages and need Node.js.', hint: /Add node@20/},
	{title: 'codex on a Python image', dependencies: ['python@3.11', 'codex'], message: 'Dependencies @openai/codex are npm packages and need Node.js.', hint: /Add node@20/},
	{title: 'an unknown runtime with a version', dependencies: ['rust@1.75'], message: 'Unknown dependency "rust@1.75".', hint: /moat deps list/},
	{title: 'a runtime by another name, with the name it has', dependencies: ['nodejs@20'], message: 'Unknown dependency "nodejs@20".', hint: /^Did you mean node@20\? /},
	{title: 'a package with a version', dependencies: ['git@2'], message: 'Unknown dependency "git@2".', hint: /Debian package name/},
	{title: 'an uppercase package name', dependencies: ['Git'], message: 'Unknown dependency "Git".', hint: /Debian package name/},
	{title: 'a name with a space', dependencies: ['a b'], message: 'Unknown dependency "a b".', hint: /Debian package name/},
	{title: 'an option-like name', dependencies: ['--allow-unauthenticated'], message: 'Unknown dependency "--allow-unauthenticated".', hint: /Debian package name/},
	{title: 'a shell command', dependencies: ['curl;rm'], message: 'Unknown dependency "curl;rm".', hint: /Debian package name/},
	{title: 'a one-letter name (Debian names have two or more)', dependencies: ['x'], message: 'Unknown dependency "x".', hint: /Debian package name/},
];

for (const {title, dependencies, message, hint} of refusals) {
	test(`planDependencies refuses ${title} with a usage error`, t => {
		const error = t.throws(() => planDependencies(dependencies), {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
		t.is(error?.message, message);
		t.regex(error?.hint ?? '', hint);
	});
}

const described: Array<[string, {kind: string; provides: string} | undefined]> = [
	['node@20', {kind: 'runtime', provides: 'base image node:20'}],
	['go@1.22', {kind: 'runtime', provides: 'base image golang:1.22'}],
	['claude-code', {kind: 'npm', provides: '@anthropic-ai/claude-code (needs node@VERSION)'}],
	['ripgrep', {kind: 'system', provides: 'the base distribution\'s package of that name'}],
	['nodejs@20', undefined],
	['node', undefined],
	['git@2', undefined],
	['Git', undefined],
];

for (const [entry, expected] of described) {
	test(`moat deps info and dependencies: agree on ${entry}`, t => {
		// A base image stands in for the runtime an npm tool needs: that is a rule about the whole list.
		const plan = (): DependencyPlan => planDependencies([entry], 'ubuntu:22.04');
		if (expected === undefined) {
			const refused = t.throws(plan, {instanceOf: MoatError});
			const described = t.throws(() => describeDependency(entry), {instanceOf: MoatError});
			t.is(described?.message, refused?.message);
			t.is(described?.hint, refused?.hint);
			t.is(described?.exitCode, exitCodes.usage);
			return;
		}

		t.notThrows(plan);
		t.deepEqual(describeDependency(entry), {name: entry, ...expected});
	});
}

const badBaseImages: Array<{baseImage: string; why: string}> = [
	{baseImage: 'ubuntu:22.04\nRUN id', why: 'a newline would add a Dockerfile instruction'},
	{baseImage: 'ubuntu:22.04\n', why: 'even a trailing newline is refused'},
	{baseImage: 'ubuntu:22.04 AS base', why: 'a space would add FROM arguments'},
	{baseImage: 'Ubuntu', why: 'repository names are lowercase'},
	{baseImage: '', why: 'an empty reference'},
];

for (const {baseImage, why} of badBaseImages) {
	test(`planDependencies refuses base_image ${JSON.stringify(baseImage)} with a usage error (${why})`, t => {
		const error = t.throws(() => planDependencies(['git'], baseImage), {instanceOf: MoatError});
		t.is(error?.exitCode, exitCodes.usage);
		// Quoted with its control characters escaped: a newline shows as \n.
		t.is(error?.message, `base_image "${baseImage.replaceAll('\n', String.raw`\n`)}" is not an image reference.`);
		t.regex(error?.hint ?? '', /ubuntu:22\.04 or registry\.example\.com\/team\/image:tag/);
	});
}

const nodePlan = planDependencies(['node@20', 'git', 'claude-code']);

test('the Dockerfile starts from the plan\'s base image as root', t => {
	const lines = renderDockerfile(nodePlan).split('\n');
	t.true(lines.includes('FROM node:20'));
	t.is(lines.filter(line => line.startsWith('FROM ')).length, 1);
	t.true(lines.indexOf('USER root') > lines.indexOf('FROM node:20'));
});

test('the Dockerfile installs the system packages only when missing, and no gosu: nothing switches users inside', t => {
	const dockerfile = renderDockerfile(nodePlan);
	t.true(dockerfile.includes('for package in git; do dpkg -s'));
	t.true(dockerfile.includes('apt-get install -y -qq --no-install-recommends $missing'));
	t.false(dockerfile.includes('gosu'));
	t.false(renderDockerfile(planDependencies([])).includes('apt-get'), 'no packages, no apt');
});

test('the Dockerfile installs npm packages globally only when the plan has some', t => {
	t.true(renderDockerfile(nodePlan).includes('RUN npm install --global --no-audit --no-fund @anthropic-ai/claude-code\n'));
	t.false(renderDockerfile(planDependencies([])).includes('npm install'));
});

test('the Dockerfile copies moat-init and makes it the entrypoint', t => {
	const dockerfile = renderDockerfile(nodePlan);
	t.true(dockerfile.includes(`COPY moat-init ${initScriptPath}\n`));
	t.true(dockerfile.includes(`RUN chmod 0755 ${initScriptPath}\n`));
	t.true(dockerfile.includes(`ENTRYPOINT ["${initScriptPath}"]\n`));
	t.true(dockerfile.includes('WORKDIR /workspace\n'));
	t.true(dockerfile.endsWith('CMD []\n'));
	t.is(initScriptPath, '/usr/local/bin/moat-init');
});

test('the Dockerfile creates moatuser without fixing its UID (moat sets it before each start)', t => {
	const dockerfile = renderDockerfile(nodePlan);
	t.true(dockerfile.includes('useradd --create-home --gid moatuser --shell /bin/bash moatuser'));
	t.false(/useradd[^\n]*--uid/.test(dockerfile));
});

test('the image recipe carries the Dockerfile and the init script as build files', t => {
	const recipe = imageRecipe(nodePlan);
	t.deepEqual(Object.keys(recipe.files).sort(), ['Dockerfile', 'moat-init']);
	t.is(recipe.files.Dockerfile, renderDockerfile(nodePlan));
	t.is(recipe.files['moat-init'], initScript);
	t.is(recipe.baseImage, 'node:20');
});

test('the image tag is moat/run: and 16 hex digits, the recipe\'s hash', t => {
	const recipe = imageRecipe(nodePlan);
	t.regex(recipe.tag, /^moat\/run:[\da-f]{16}$/);
	t.is(recipe.tag, `moat/run:${recipe.hash}`);
});

test('the same plan, built twice from the same dependencies, gets the same tag', t => {
	t.is(imageRecipe(planDependencies(['node@20', 'git', 'claude-code'])).tag, imageRecipe(planDependencies(['claude-code', 'git', 'node@20'])).tag);
});

const differentPlans: Array<{title: string; plan: DependencyPlan}> = [
	{title: 'another base image', plan: {...nodePlan, baseImage: 'node:22'}},
	{title: 'another system package', plan: {...nodePlan, systemPackages: ['curl', 'git']}},
	{title: 'another npm package', plan: {...nodePlan, npmPackages: ['@anthropic-ai/claude-code', '@openai/codex']}},
	{title: 'no npm packages', plan: {...nodePlan, npmPackages: []}},
];

for (const {title, plan} of differentPlans) {
	test(`a plan with ${title} gets a different tag`, t => {
		t.not(imageRecipe(plan).tag, imageRecipe(nodePlan).tag);
	});
}

test('the init script is syntactically valid POSIX sh (sh -n)', t => {
	const result = spawnSync('sh', ['-n'], {input: initScript, encoding: 'utf8'});
	t.is(result.error, undefined);
	t.is(result.stderr, '');
	t.is(result.status, 0);
});

test('sh -n does reject a broken script, so the syntax check above can fail', t => {
	const result = spawnSync('sh', ['-n'], {input: `${initScript}\nif then\n`, encoding: 'utf8'});
	t.not(result.status, 0);
});

test('the init script has no root phase: it switches no user, and applies the user\'s variables just before the command', t => {
	t.true(initScript.startsWith('#!/bin/sh\n'));
	for (const word of ['gosu', 'chown', 'MOAT_UID', '/etc/passwd', 'init.d']) {
		t.false(initScript.includes(word), word);
	}

	const tail = initScript.slice(initScript.indexOf('eval "$MOAT_USER_ENV"\n'));
	t.is(tail, [
		'eval "$MOAT_USER_ENV"',
		'unset MOAT_USER_ENV',
		'# Looked up after the user\'s variables: they may set PATH.',
		'case "$1" in',
		'*/*) [ -e "$1" ] || missing "$1" ;;',
		'*) command -v "$1" >/dev/null 2>&1 || missing "$1" ;;',
		'esac',
		'exec "$@"',
		'',
	].join('\n'));
});

/** Runs the init script here, as the bottle would, with the user's variables already written. */
function runInit(args: string[], userEnvironment = '') {
	return spawnSync('sh', ['-c', initScript, 'moat-init', ...args], {env: {PATH: process.env.PATH, MOAT_USER_ENV: userEnvironment}, encoding: 'utf8'});
}

test('a command the bottle does not have is reported as the bottle\'s, with exit 127', t => {
	for (const command of ['nosuchcommand', './no/such/script.sh']) {
		const result = runInit([command, '--flag']);
		t.is(result.status, 127, command);
		t.is(result.stderr.split('\n')[0], `moat-init: command not found in the bottle: ${command}`);
		t.regex(result.stderr, /dependencies: in agent\.yaml/);
		t.notRegex(result.stderr, /exec:/, 'not the shell\'s own words');
	}
});

test('a command the bottle has runs, found on the PATH the user\'s variables set', t => {
	t.is(runInit(['sh', '-c', 'echo ran; exit 3']).stdout, 'ran\n');
	t.is(runInit(['sh', '-c', 'exit 3']).status, 3);
	t.is(runInit(['true']).status, 0);
	t.is(runInit(['nosuchcommand'], 'PATH=/nowhere').status, 127);
	t.is(runInit(['sh', '-c', 'true'], 'PATH=/nowhere').status, 127, 'the lookup uses the user\'s PATH');
});
