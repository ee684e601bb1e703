import fs from 'node:fs/promises';
import path from 'node:path';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {createWorkspaceTrust} from '../../source/workspace/workspace-trust.js';
import {dockerTest} from '../helpers/docker.js';
import {createFakeClis, shellQuote, type FakeClis} from '../helpers/fake-secret-clis.js';
import {auditRecordsOf, createSandbox, createWorkspace, daemonPidOf, destroyRuns, docker, listRuns, moat, readJson, type Sandbox} from '../helpers/moat.js';

/*
 * agent.yaml's `secrets:` read on the host with stand-in `op` and `aws`
 * scripts (first on the PATH moat runs with) and env://, handed to a real
 * container, and their failures stopping the run before anything exists.
 */

const opValue = 'op-value \'single\' "double" $HOME `tick`';
const ssmValue = 'postgres://app:pa55@db.internal:5432/app';
const hostValue = 'host-token-from-the-shell';

type World = {sandbox: Sandbox; workspace: string; fakes: FakeClis; env: Record<string, string>};

/**
 * A MOAT_HOME, a workspace with this agent.yaml whose secrets the user has
 * already approved (as a yes on a terminal would), and fake CLIs on PATH.
 */
async function createWorld(t: {teardown(fn: () => Promise<void>): void}, agentYaml: string, approve: readonly string[]): Promise<World> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': agentYaml});
	const fakes = await createFakeClis();
	const env = {...sandbox.env, PATH: fakes.path, MOAT_KEYRING_BACKEND: 'file'};
	t.teardown(async () => {
		await destroyRuns(env);
		await sandbox.cleanup();
		await fakes.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});

	if (approve.length > 0) {
		const real = await fs.realpath(workspace);
		const stats = await fs.stat(real);
		await createWorkspaceTrust(sandbox.moatHome).approve({path: real, identity: `${stats.dev}:${stats.ino}`}, approve.map(value => ({kind: 'secret' as const, value})));
	}

	return {sandbox, workspace, fakes, env};
}

/** Every file under `directory` with its text, for looking for leaks. */
async function filesUnder(directory: string): Promise<Array<{file: string; text: string}>> {
	const entries = await fs.readdir(directory, {recursive: true, withFileTypes: true}).catch(() => []);
	const files = entries.filter(entry => entry.isFile()).map(entry => path.join(entry.parentPath, entry.name));
	return Promise.all(files.map(async file => ({file, text: await fs.readFile(file, 'latin1')})));
}

const allSecrets = `secrets:
  OPENAI_API_KEY: op://Dev/OpenAI/api-key
  DATABASE_URL: ssm://eu-west-1/production/database/url
  FROM_HOST: env://HOST_TOKEN
env:
  PLAIN: visible
`;

dockerTest('secrets from op, ssm and env reach the command as its variables; the audit log names each with its backend, and no file moat keeps holds a value', async t => {
	const world = await createWorld(t, allSecrets, ['op://Dev/OpenAI/api-key', 'ssm://eu-west-1/production/database/url', 'env://HOST_TOKEN']);
	await world.fakes.write('op', `printf '%s\\n' ${shellQuote(opValue)}`);
	await world.fakes.write('aws', `printf '%s\\n' ${shellQuote(ssmValue)}`);
	const values = [opValue, ssmValue, hostValue];

	const result = await moat(
		['run', world.workspace, '--keep', '--', 'sh', '-c', 'printenv OPENAI_API_KEY; printenv DATABASE_URL; printenv FROM_HOST; printenv PLAIN; id -u'],
		{env: {...world.env, HOST_TOKEN: hostValue}},
	);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, `${opValue}\n${ssmValue}\n${hostValue}\nvisible\n1000\n`, 'each value arrives exactly, with the CLI\'s newline gone, in the agent\'s (non-root) environment');
	for (const value of values) {
		t.false(result.stderr.includes(value), 'moat\'s own output never shows a value');
	}

	t.deepEqual(await world.fakes.calledWith('op'), ['read', 'op://Dev/OpenAI/api-key']);
	t.deepEqual(await world.fakes.calledWith('aws'), ['ssm', 'get-parameter', '--name', '/production/database/url', '--with-decryption', '--query', 'Parameter.Value', '--output', 'text', '--region', 'eu-west-1']);

	const [run] = await listRuns<RunMetadata>(world.env);
	const metadata = await readJson<RunMetadata>(path.join(world.sandbox.moatHome, 'runs', run!.id, 'metadata.json'));
	t.deepEqual(metadata.environmentNames, ['DATABASE_URL', 'FROM_HOST', 'OPENAI_API_KEY', 'PLAIN'], 'names only');

	const audit = await auditRecordsOf(world.sandbox.moatHome, run!.id);
	t.deepEqual(
		audit.filter(entry => entry.type === 'secret.resolved').map(entry => entry.data),
		[{name: 'OPENAI_API_KEY', backend: 'op'}, {name: 'DATABASE_URL', backend: 'ssm'}, {name: 'FROM_HOST', backend: 'env'}],
	);
	const types = audit.map(entry => entry.type);
	t.true(types.indexOf('run.created') < types.indexOf('secret.resolved') && types.lastIndexOf('secret.resolved') < types.indexOf('run.started'), types.join(' '));
	const verified = await moat(['audit', run!.id], {env: world.env});
	t.is(verified.code, 0, verified.stderr);
	t.regex(verified.stdout, /^ {2}secret\.resolved +3$/m);

	// Docker's own record of the container: like -e, the values travel only
	// inside MOAT_USER_ENV, applied after the drop to the run's user, never
	// as variables of the root start-up.
	const containerEnvironment = JSON.parse(await docker('inspect', '--format', '{{json .Config.Env}}', metadata.containerId!)) as string[];
	for (const name of ['OPENAI_API_KEY', 'DATABASE_URL', 'FROM_HOST']) {
		t.false(containerEnvironment.some(entry => entry.startsWith(`${name}=`)), `${name} is not a variable of the container's start-up`);
	}

	// Everything moat keeps — metadata, audit log, network log, daemon log,
	// trust — except the command's own output (logs.jsonl), which printed them.
	const ownOutput = path.join(world.sandbox.moatHome, 'runs', run!.id, 'logs.jsonl');
	const kept = await filesUnder(world.sandbox.moatHome);
	t.true(kept.some(({file}) => file.endsWith('metadata.json')) && kept.some(({file}) => file.endsWith('entries.jsonl')), 'the files looked at include metadata and the audit log');
	for (const {file, text} of kept.filter(({file}) => file !== ownOutput)) {
		for (const value of values) {
			t.false(text.includes(value), `${path.relative(world.sandbox.moatHome, file)} holds a secret value`);
		}
	}

	t.true((await fs.readFile(ownOutput, 'utf8')).includes(ssmValue), 'the command\'s own output is kept as it printed it');
});

dockerTest('-e on the command line wins over a secret of the same name, and that secret\'s CLI is never run', async t => {
	const world = await createWorld(t, 'secrets:\n  OPENAI_API_KEY: op://Dev/OpenAI/api-key\n', []);
	const result = await moat(['run', world.workspace, '-e', 'OPENAI_API_KEY=from-the-command-line', '--', 'printenv', 'OPENAI_API_KEY'], {env: world.env});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'from-the-command-line\n');
	t.is(await world.fakes.calledWith('op'), undefined);
	const [run] = await listRuns<RunMetadata>(world.env);
	t.deepEqual((await auditRecordsOf(world.sandbox.moatHome, run!.id)).filter(entry => entry.type === 'secret.resolved'), []);
});

type FailureCase = {
	what: string;
	secret: string;
	setUp(fakes: FakeClis): Promise<void>;
	message: string;
	hint: RegExp;
};

const failures: FailureCase[] = [
	{
		what: 'op missing from PATH',
		secret: 'op://Dev/OpenAI/api-key',
		async setUp() {},
		message: 'moat: Secret FAILING (op://Dev/OpenAI/api-key) cannot be read: the 1Password CLI (op) is not installed, or not on PATH.',
		hint: /^Install the 1Password CLI \(https:\/\/developer\.1password\.com\/docs\/cli\/get-started\/\), sign in with op signin, and run again\.$/m,
	},
	{
		what: 'op not signed in',
		secret: 'op://Dev/OpenAI/api-key',
		async setUp(fakes) {
			await fakes.write('op', 'echo "[ERROR] 2024/05/01 10:00:00 You are not currently signed in. Please run \\`op signin --help\\` for instructions" >&2; exit 1');
		},
		message: 'moat: Secret FAILING (op://Dev/OpenAI/api-key) cannot be read: op exited with code 1: [ERROR] 2024/05/01 10:00:00 You are not currently signed in. Please run `op signin --help` for instructions.',
		hint: /^Sign in to 1Password with op signin \(eval "\$\(op signin\)" in this shell, or set OP_SERVICE_ACCOUNT_TOKEN\), then run again\.$/m,
	},
	{
		what: 'aws answering ParameterNotFound',
		secret: 'ssm://eu-west-1/production/missing',
		async setUp(fakes) {
			await fakes.write('aws', 'printf \'\\nAn error occurred (ParameterNotFound) when calling the GetParameter operation: \\n\' >&2; exit 254');
		},
		message: 'moat: Secret FAILING (ssm://eu-west-1/production/missing) cannot be read: aws exited with code 254: An error occurred (ParameterNotFound) when calling the GetParameter operation:.',
		hint: /^Check the parameter's name and region \(ssm:\/\/REGION\/path picks one\): aws ssm get-parameter --name \/production\/missing --with-decryption --query Parameter\.Value --output text --region eu-west-1\.$/m,
	},
	{
		what: 'env:// naming an unset variable',
		secret: 'env://NOT_SET_ANYWHERE',
		async setUp() {},
		message: 'moat: Secret FAILING (env://NOT_SET_ANYWHERE) cannot be read: NOT_SET_ANYWHERE is not set in moat\'s environment.',
		hint: /^Set NOT_SET_ANYWHERE in the shell that runs moat \(export NOT_SET_ANYWHERE=…\), or remove FAILING from secrets in agent\.yaml\.$/m,
	},
];

for (const failure of failures) {
	dockerTest(`a secret that cannot be read (${failure.what}) stops the run before it exists: exit 1, the secret and the fix named, no value shown`, async t => {
		// A secret that reads fine comes first: its value must not surface either.
		const world = await createWorld(t, `secrets:\n  READABLE: env://GOOD_TOKEN\n  FAILING: ${failure.secret}\n`, ['env://GOOD_TOKEN', failure.secret]);
		await failure.setUp(world.fakes);
		const result = await moat(['run', world.workspace, '--', 'true'], {env: {...world.env, GOOD_TOKEN: 'good-token-value'}});
		t.is(result.code, 1, result.stderr);
		t.is(result.stdout, '');
		const lines = result.stderr.trimEnd().split('\n');
		t.is(lines.at(-2), failure.message, result.stderr);
		t.regex(result.stderr, failure.hint);
		t.false(result.stderr.includes('good-token-value'));

		t.deepEqual(await fs.readdir(path.join(world.sandbox.moatHome, 'runs')).catch(() => []), [], 'no run was created');
		t.deepEqual(await listRuns(world.env), []);
		t.is(await docker('ps', '-aq', '--filter', `label=moat.home=${world.sandbox.moatHome}`, '--filter', 'label=moat.run-id'), '', 'no container');
		t.is(await daemonPidOf(world.sandbox.moatHome), 0, 'no proxy registration, so no daemon');
	});
}

dockerTest('a secret agent.yaml asks for that the user has not approved is refused without a terminal, and no CLI is run to read it', async t => {
	const world = await createWorld(t, 'secrets:\n  STOLEN: op://Private/Bank/password\n', []);
	await world.fakes.write('op', 'printf \'bank-password\\n\'');
	const result = await moat(['run', world.workspace, '--', 'printenv', 'STOLEN'], {env: world.env});
	t.is(result.code, 2, result.stderr);
	t.regex(result.stderr, /agent\.yaml asks for the secret op:\/\/Private\/Bank\/password, which this workspace has not used before\./);
	t.regex(result.stderr, /Run moat on a terminal to approve/);
	t.is(await world.fakes.calledWith('op'), undefined, 'op was never asked');
	t.deepEqual(await listRuns(world.env), []);
});

dockerTest('agent.yaml setting one variable as both env and secret is a usage error', async t => {
	const world = await createWorld(t, 'env:\n  TOKEN: plain\nsecrets:\n  TOKEN: env://HOST_TOKEN\n', ['env://HOST_TOKEN']);
	const result = await moat(['run', world.workspace, '--', 'true'], {env: {...world.env, HOST_TOKEN: 'x'}});
	t.is(result.code, 2, result.stderr);
	t.regex(result.stderr, /agent\.yaml sets TOKEN in both env and secrets\.\nKeep TOKEN in one of them\./);
});

dockerTest('on a terminal, moat asks before reading a secret agent.yaml names, and after a yes the value reaches the command', async t => {
	const {TmuxSession} = await import('../helpers/tmux.js');
	const world = await createWorld(t, 'secrets:\n  OPENAI_API_KEY: op://Dev/OpenAI/api-key\n', []);
	await world.fakes.write('op', `printf '%s\\n' ${shellQuote(opValue)}`);
	const session = await TmuxSession.start(['run', world.workspace, '--', 'sh', '-c', 'printenv OPENAI_API_KEY; echo done-printing'], {env: world.env, columns: 220});
	t.teardown(async () => session.kill());

	await session.waitFor(/asks for the secret op:\/\/Dev\/OpenAI\/api-key\. Allow it for this workspace\? \[y\/N\]/);
	t.is(await world.fakes.calledWith('op'), undefined, 'nothing is read before the yes');
	await session.type('y');
	await session.keys('Enter');
	t.is(await session.exitCode(), 0);
	t.true((await session.screen()).includes(opValue));
	t.deepEqual(await world.fakes.calledWith('op'), ['read', 'op://Dev/OpenAI/api-key']);
});
