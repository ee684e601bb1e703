import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {createSandbox, createWorkspace, moat, type Sandbox} from '../helpers/moat.js';

/**
 * Every case here is rejected before moat talks to the engine, so these run
 * with or without Docker: each must give a two-line error and the documented
 * exit code, and leave no run behind.
 */

type Case = {
	title: string;
	files?: Record<string, string>;
	args: (context: {workspace: string; sandbox: Sandbox}) => string[] | Promise<string[]>;
	code: number;
	message: RegExp;
	hint: RegExp;
};

const cases: Case[] = [
	{
		title: 'a missing workspace',
		args: ({workspace}) => ['run', path.join(workspace, 'nope'), '--', 'true'],
		code: 2,
		message: /Workspace .*nope does not exist\./,
		hint: /Pass an existing directory/,
	},
	{
		title: 'a workspace that is a file',
		files: {'file.txt': 'x'},
		args: ({workspace}) => ['run', path.join(workspace, 'file.txt'), '--', 'true'],
		code: 2,
		message: /is a file, not a directory/,
		hint: /directory/,
	},
	{
		title: 'an invalid environment variable name',
		args: ({workspace}) => ['run', workspace, '-e', '1X=y', '--', 'true'],
		code: 2,
		message: /"1X" is not a valid environment variable name/,
		hint: /-e NAME=value/,
	},
	{
		title: 'a malformed mount',
		args: ({workspace}) => ['run', workspace, '-m', 'just-a-path', '--', 'true'],
		code: 2,
		message: /Mount "just-a-path" \(-m\) is not source:destination\[:ro\]/,
		hint: /source:destination/,
	},
	{
		title: 'a mount with a bad mode',
		args: ({workspace}) => ['run', workspace, '-m', `${workspace}:/data:rx`, '--', 'true'],
		code: 2,
		message: /has mode "rx"/,
		hint: /source:destination:ro/,
	},
	{
		title: 'a mount of MOAT_HOME',
		args: async ({workspace, sandbox}) => {
			await fs.mkdir(sandbox.moatHome, {recursive: true});
			return ['run', workspace, '-m', `${sandbox.moatHome}:/moat`, '--', 'true'];
		},
		code: 2,
		message: /Refusing to mount .*moat-home: it is moat's own data/,
		hint: /only what the agent should see/,
	},
	{
		title: 'a mount of a directory that contains ~/.ssh',
		args: async ({workspace, sandbox}) => {
			await fs.mkdir(path.join(sandbox.userHome, '.ssh'), {recursive: true});
			return ['run', workspace, '-m', `${sandbox.userHome}:/home-copy:ro`, '--', 'true'];
		},
		code: 2,
		message: /Refusing to mount .*: it contains your SSH keys/,
		hint: /only what the agent should see/,
	},
	{
		title: 'a mount of ~/.ssh\'s real directory when ~/.ssh is a symlink into dotfiles',
		args: async ({workspace, sandbox}) => {
			const real = path.join(sandbox.userHome, 'dotfiles', 'ssh');
			await fs.mkdir(real, {recursive: true});
			await fs.symlink(real, path.join(sandbox.userHome, '.ssh'));
			return ['run', workspace, '-m', `${real}:/keys:ro`, '--', 'true'];
		},
		code: 2,
		message: /Refusing to mount .*dotfiles\/ssh: it is your SSH keys/,
		hint: /only what the agent should see/,
	},
	{
		title: 'a mount of the GitHub CLI\'s login',
		args: async ({workspace, sandbox}) => {
			await fs.mkdir(path.join(sandbox.userHome, '.config', 'gh'), {recursive: true});
			return ['run', workspace, '-m', `${path.join(sandbox.userHome, '.config', 'gh')}:/gh:ro`, '--', 'true'];
		},
		code: 2,
		message: /Refusing to mount .*\.config\/gh: it is the GitHub CLI's login/,
		hint: /only what the agent should see/,
	},
	{
		title: 'a mount over a system directory from agent.yaml',
		files: {'agent.yaml': 'mounts:\n  - ./hooks:/etc/moat/init.d\n'},
		args: async ({workspace}) => {
			await fs.mkdir(path.join(workspace, 'hooks'));
			return ['run', workspace, '--', 'true'];
		},
		code: 2,
		message: /targets \/etc, a system directory/,
		hint: /Mount it under \/workspace/,
	},
	{
		title: 'a mount of the Docker socket',
		args: ({workspace}) => ['run', workspace, '-m', '/var/run/docker.sock:/docker.sock', '--', 'true'],
		code: 2,
		message: /Refusing to mount .*docker\.sock: it is the Docker socket/,
		hint: /only what the agent should see/,
	},
	{
		title: 'a mount from agent.yaml that reaches the Docker socket through /run',
		files: {'agent.yaml': 'mounts:\n  - /run:/host-run\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /Refusing to mount \/run: it contains the Docker socket/,
		hint: /only what the agent should see/,
	},
	{
		title: 'a workspace that contains MOAT_HOME',
		args: async ({sandbox}) => {
			await fs.mkdir(sandbox.moatHome, {recursive: true});
			return ['run', path.dirname(sandbox.moatHome), '--', 'true'];
		},
		code: 2,
		message: /Refusing the workspace .*: it contains moat's own data/,
		hint: /only what the agent should see/,
	},
	{
		title: 'invalid YAML',
		files: {'agent.yaml': 'name: x\ncommand: [unclosed\n'},
		args: ({workspace}) => ['run', workspace],
		code: 2,
		message: /agent\.yaml:\d+:\d+: invalid YAML/,
		hint: /Fix the YAML syntax/,
	},
	{
		title: 'a wrong type in agent.yaml',
		files: {'agent.yaml': 'name: x\ninteractive: sometimes\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /agent\.yaml:2:14: "interactive" must be true or false/,
		hint: /interactive: true/,
	},
	{
		title: 'an unknown key in moat.yaml, with a suggestion',
		files: {'moat.yaml': 'dependecies:\n  - git\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /moat\.yaml:1:1: unknown key "dependecies"/,
		hint: /Did you mean "dependencies"\?/,
	},
	{
		title: 'an empty command[0]',
		files: {'agent.yaml': 'command: ["", "x"]\n'},
		args: ({workspace}) => ['run', workspace],
		code: 2,
		message: /agent\.yaml:1:11: "command\[0\]" must start with a program name/,
		hint: /command: \["npm", "test"\]/,
	},
	{
		title: 'a YAML alias bomb (each anchor a list of the one before)',
		files: {'agent.yaml': ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]', ...Array.from({length: 9}, (_, index) => `a${index + 1}: &a${index + 1} [${Array.from({length: 9}, () => `*a${index}`).join(', ')}]`), 'name: *a9', ''].join('\n')},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /^moat: agent\.yaml:3:10: invalid YAML: aliases expand to too many copies \(a YAML alias bomb\)/,
		hint: /Fix the YAML syntax in agent\.yaml/,
	},
	{
		title: 'a YAML alias with no anchor before it',
		files: {'agent.yaml': 'grants: [github]\nname: *nowhere\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /^moat: agent\.yaml:2:7: invalid YAML: alias \*nowhere has no anchor &nowhere before it$/,
		hint: /Fix the YAML syntax in agent\.yaml/,
	},
	{
		title: 'a run name in agent.yaml longer than a host name label',
		files: {'agent.yaml': `name: ${'a'.repeat(64)}\n`},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /^moat: agent\.yaml:1:7: "name" must be at most 63 characters \(it becomes a host name label\)\.$/,
		hint: /name/,
	},
	{
		title: 'a 100 kB --name',
		args: ({workspace}) => ['run', workspace, '--name', 'a'.repeat(100 * 1024), '--', 'true'],
		code: 2,
		message: /^moat: The run name is 102400 characters long; at most 63 fit \(it becomes a host name label\)\.$/,
		hint: /^Pass a shorter name with -n/,
	},
	{
		title: '-m without a value',
		args: ({workspace}) => ['run', workspace, '-m'],
		code: 2,
		message: /^moat: -m needs a value\.$/,
		hint: /See moat run --help\.$/,
	},
	{
		title: '-g without a value before the command',
		args: ({workspace}) => ['run', workspace, '-g', '--', 'true'],
		code: 2,
		message: /^moat: -g needs a value\.$/,
		hint: /See moat run --help\.$/,
	},
	{
		title: '--mount followed by another flag instead of its value',
		args: ({workspace}) => ['run', workspace, '--mount', '-d', '--', 'true'],
		code: 2,
		message: /^moat: --mount needs a value\.$/,
		hint: /See moat run --help\.$/,
	},
	{
		title: '-n= with an empty value',
		args: ({workspace}) => ['run', workspace, '-n=', '--', 'true'],
		code: 2,
		message: /^moat: -n needs a value\.$/,
		hint: /See moat run --help\.$/,
	},
	{
		title: 'logs -n without a number',
		args: () => ['logs', '-n'],
		code: 2,
		message: /^moat: -n needs a value\.$/,
		hint: /See moat logs --help\.$/,
	},
	{
		title: '-i=maybe',
		args: ({workspace}) => ['run', workspace, '-i=maybe', '--', 'true'],
		code: 2,
		message: /^moat: -i is on or off and cannot be "maybe"\.$/,
		hint: /^Write -i to turn it on, or -i=false to turn it off\./,
	},
	{
		title: '--detach=yes',
		args: ({workspace}) => ['run', workspace, '--detach=yes', '--', 'true'],
		code: 2,
		message: /^moat: --detach is on or off and cannot be "yes"\.$/,
		hint: /--detach=false/,
	},
	{
		title: '--no-validate=false',
		args: () => ['grant', 'github', '--no-validate=false'],
		code: 2,
		message: /^moat: --no-validate takes no value\.$/,
		hint: /See moat grant --help\.$/,
	},
	{
		title: 'no command at all',
		args: ({workspace}) => ['run', workspace],
		code: 2,
		message: /No command to run\./,
		hint: /after --/,
	},
	{
		title: 'an unknown dependency',
		files: {'agent.yaml': 'dependencies:\n  - node\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /Dependency "node" needs a version/,
		hint: /node@20/,
	},
	{
		title: '-i without a terminal',
		args: ({workspace}) => ['run', workspace, '-i', '--', 'sh'],
		code: 2,
		message: /needs a terminal/,
		hint: /Drop -i/,
	},
	{
		title: 'an unknown flag',
		args: ({workspace}) => ['run', workspace, '--detatch', '--', 'true'],
		code: 2,
		message: /Unknown flag --detatch for moat run/,
		hint: /Did you mean --detach\?/,
	},
	{
		title: 'an unknown command',
		args: () => ['lsit'],
		code: 2,
		message: /Unknown command "lsit"/,
		hint: /Did you mean moat list\?/,
	},
	{
		title: 'a grant that was never stored',
		args: ({workspace, sandbox}) => {
			sandbox.env.MOAT_KEYRING_BACKEND = 'file';
			return ['run', workspace, '-g', 'github', '--', 'true'];
		},
		code: 4,
		message: /The run asks for the github grant, and there is none\./,
		hint: /moat grant github/,
	},
	{
		title: 'an ungranted SSH host from agent.yaml',
		files: {'agent.yaml': 'grants:\n  - ssh:git.example.com\n'},
		args: ({workspace, sandbox}) => {
			sandbox.env.MOAT_KEYRING_BACKEND = 'file';
			return ['run', workspace, '--', 'true'];
		},
		code: 4,
		message: /ssh:git\.example\.com grant/,
		hint: /moat grant ssh --host git\.example\.com/,
	},
	{
		title: 'a grant agent.yaml asks for that this workspace has not used, without a terminal',
		files: {'agent.yaml': 'grants:\n  - github\n'},
		args: async ({workspace, sandbox}) => {
			sandbox.env.MOAT_KEYRING_BACKEND = 'file';
			const granted = await moat(['grant', 'github', '--no-validate'], {env: {...sandbox.env, GITHUB_TOKEN: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', PATH: '/usr/bin:/bin'}});
			if (granted.code !== 0) {
				throw new Error(granted.stderr);
			}

			return ['run', workspace, '--', 'true'];
		},
		code: 2,
		message: /agent\.yaml asks for the github grant, which this workspace has not used before\./,
		hint: /pass --grant github on the command line/,
	},
	{
		title: 'a base image agent.yaml names, even a one-part name, without a terminal',
		files: {'agent.yaml': 'base_image: debian:bookworm-slim\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /agent\.yaml asks for the base image debian:bookworm-slim@sha256:[\da-f]{64}, which this workspace has not used before\./,
		hint: /Run moat on a terminal to approve, or pass --base-image debian:bookworm-slim on the command line\.$/,
	},
	{
		title: 'a base image that is not on the engine',
		files: {'agent.yaml': 'base_image: someone/tools:1.0\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 4,
		message: /The base image someone\/tools:1\.0 \(base_image in agent\.yaml\) is not on the engine/,
		hint: /docker pull someone\/tools:1\.0/,
	},
	{
		title: 'a memory limit that is not an amount',
		args: ({workspace}) => ['run', workspace, '--memory', 'lots', '--', 'true'],
		code: 2,
		message: /--memory "lots" is not an amount of memory\./,
		hint: /such as 512m or 4g/,
	},
	{
		title: 'more CPUs than the engine has',
		args: ({workspace}) => ['run', workspace, '--cpus', '4096', '--', 'true'],
		code: 2,
		message: /--cpus 4096 is more CPUs than the engine has/,
		hint: /Give at most \d+\./,
	},
	{
		title: 'a process limit in agent.yaml that is too low',
		files: {'agent.yaml': 'resources:\n  pids: 3\n'},
		args: ({workspace}) => ['run', workspace, '--', 'true'],
		code: 2,
		message: /agent\.yaml:2:9: "resources\.pids" must be at least 16/,
		hint: /resources: \{memory: 4g, cpus: 2, pids: 1024\}/,
	},
	{
		title: 'a mount from outside the workspace that agent.yaml asks for, without a terminal',
		args: async ({workspace, sandbox}) => {
			const outside = path.join(sandbox.userHome, 'shared-data');
			await fs.mkdir(outside);
			await fs.writeFile(path.join(workspace, 'agent.yaml'), `mounts:\n  - ${outside}:/data:ro\n`);
			return ['run', workspace, '--', 'true'];
		},
		code: 2,
		message: /agent\.yaml asks for the mount .*shared-data:\/data:ro, which this workspace has not used before\./,
		hint: /Run moat on a terminal to approve/,
	},
	{
		title: 'an unknown run',
		args: () => ['logs', 'no-such-run'],
		code: 4,
		message: /No run matches "no-such-run"/,
		hint: /moat list/,
	},
	{
		title: 'an ambiguous run id prefix',
		args: async ({sandbox}) => {
			for (const id of ['run_abc000000001', 'run_abc000000002']) {
				const directory = path.join(sandbox.moatHome, 'runs', id);
				await fs.mkdir(directory, {recursive: true});
				await fs.writeFile(path.join(directory, 'metadata.json'), JSON.stringify({
					id, name: 'old', workspace: '/tmp', agent: null, image: 'x', command: ['true'], grants: [], ports: {}, mounts: [],
					environmentNames: [], containerId: null, state: 'stopped', interactive: false, keep: false,
					createdAt: '2026-01-01T00:00:00.000Z', startedAt: null, stoppedAt: null, exitCode: 0, error: null, stopRequested: false,
				}));
			}

			return ['logs', 'abc'];
		},
		code: 2,
		message: /"abc" matches 2 runs: run_abc000000002 \(old\), run_abc000000001 \(old\)/,
		hint: /Type more of the run id/,
	},
	{
		title: 'a word where moat logs -n wants a number',
		args: () => ['logs', '-n', 'abc'],
		code: 2,
		message: /^moat: -n takes a number, not "abc"\.$/m,
		hint: /^Give one, as in -n 50\. See moat logs --help\.$/m,
	},
	{
		title: 'words moat list does not take',
		args: () => ['list', 'extra', 'args'],
		code: 2,
		message: /^moat: moat list takes no arguments; "extra" "args" are left over\.$/m,
		hint: /See moat list --help\.$/m,
	},
	{
		title: 'an engine that cannot be reached',
		args: ({workspace, sandbox}) => {
			sandbox.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
			return ['run', workspace, '--', 'true'];
		},
		code: 3,
		message: /^moat: Cannot reach the Docker engine at \/nonexistent\/docker\.sock\.$/m,
		hint: /^Start Docker, or set DOCKER_HOST\.$/m,
	},
];

for (const testCase of cases) {
	test(`${testCase.title} is refused with exit code ${testCase.code} and a fix`, async t => {
		const sandbox = await createSandbox();
		const workspace = await createWorkspace(1000, 1000, testCase.files);
		t.teardown(async () => {
			await sandbox.cleanup();
			await fs.rm(workspace, {recursive: true, force: true});
		});

		const args = await testCase.args({workspace, sandbox});
		const runsBefore = await fs.readdir(path.join(sandbox.moatHome, 'runs')).catch(() => []);
		const result = await moat(args, {env: sandbox.env});
		t.is(result.code, testCase.code, result.stderr);
		const lines = result.stderr.trimEnd().split('\n');
		t.is(lines.length, 2, `one line what is wrong, one what to do: ${result.stderr}`);
		t.regex(lines[0]!, testCase.message);
		t.regex(lines[1]!, testCase.hint);
		t.is(result.stdout, '');
		const runsAfter = await fs.readdir(path.join(sandbox.moatHome, 'runs')).catch(() => []);
		t.deepEqual(runsAfter, runsBefore, 'no run is left behind');
	});
}

test('moat without arguments and without a terminal prints help and exits 0', async t => {
	const sandbox = await createSandbox();
	t.teardown(sandbox.cleanup);
	const result = await moat([], {env: sandbox.env});
	t.is(result.code, 0);
	t.regex(result.stdout, /Usage\n[\s\S]*\$ moat <command>/);
});

test('moat --help says that moat alone opens the dashboard, and what it does', async t => {
	const sandbox = await createSandbox();
	t.teardown(sandbox.cleanup);
	const result = await moat(['--help'], {env: sandbox.env});
	t.is(result.code, 0);
	t.regex(result.stdout, /^ {4}\$ moat {18}On a terminal: the dashboard/m);
	t.regex(result.stdout, /moat alone opens the dashboard: every run/);
	t.regex(result.stdout, /Press \? in it for its keys\./);
});

for (const command of ['run', 'list', 'logs', 'stop', 'destroy', 'status', 'clean']) {
	test(`moat ${command} --help prints its usage and exits 0`, async t => {
		const sandbox = await createSandbox();
		t.teardown(sandbox.cleanup);
		const result = await moat([command, '--help'], {env: sandbox.env});
		t.is(result.code, 0);
		t.regex(result.stdout, new RegExp(`\\$ moat ${command}`));
	});
}

test('moat --version prints the package version', async t => {
	const sandbox = await createSandbox();
	t.teardown(sandbox.cleanup);
	const manifest = JSON.parse(await fs.readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {version: string};
	const result = await moat(['--version'], {env: sandbox.env});
	t.is(result.stdout, `${manifest.version}\n`);
});
