import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {exitCodes, MoatError} from '../source/errors.js';
import {createSecretResolver} from '../source/secrets/secret-resolver.js';
import {until} from './helpers/deadline.js';
import {createFakeClis, shellQuote, type FakeClis} from './helpers/fake-secret-clis.js';
import {processAlive} from './helpers/moat.js';

/** Real child processes, with stand-in `op` and `aws` scripts first on the PATH moat is given. */
async function withFakes(t: {teardown(fn: () => Promise<void>): void}): Promise<FakeClis> {
	const fakes = await createFakeClis();
	t.teardown(async () => fakes.cleanup());
	return fakes;
}

const opValue = 'op-s3cret \'quoted\' "double" $HOME';

test('op:// runs `op read REFERENCE` from moat\'s PATH and gives its output, less the final newline', async t => {
	const fakes = await withFakes(t);
	await fakes.write('op', `printf '%s\\n' ${shellQuote(opValue)}`);
	const resolver = createSecretResolver({PATH: fakes.path});
	t.deepEqual(await resolver.resolve('OPENAI_API_KEY', 'op://Dev/OpenAI/api-key'), {backend: 'op', value: opValue});
	t.deepEqual(await fakes.calledWith('op'), ['read', 'op://Dev/OpenAI/api-key']);
});

test('ssm:// runs `aws ssm get-parameter` with decryption, as text, with the region the reference names', async t => {
	const fakes = await withFakes(t);
	await fakes.write('aws', 'printf \'%s\\n\' "postgres://db/$AWS_PAGER"');
	const resolver = createSecretResolver({PATH: fakes.path});
	t.deepEqual(await resolver.resolve('DATABASE_URL', 'ssm://eu-west-1/production/database/url'), {backend: 'ssm', value: 'postgres://db/'}, 'AWS_PAGER is empty: no pager');
	t.deepEqual(await fakes.calledWith('aws'), ['ssm', 'get-parameter', '--name', '/production/database/url', '--with-decryption', '--query', 'Parameter.Value', '--output', 'text', '--region', 'eu-west-1']);
	await resolver.resolve('DATABASE_URL', 'ssm:///production/database/url');
	t.false((await fakes.calledWith('aws'))!.includes('--region'), 'ssm:/// leaves the region to the AWS CLI');
});

test('the CLIs get moat\'s environment (their sessions and profiles), and no stdin to prompt on', async t => {
	const fakes = await withFakes(t);
	await fakes.write('op', 'read line || line=EOF; printf \'%s %s\\n\' "$OP_SESSION_my" "$line"');
	const resolver = createSecretResolver({PATH: fakes.path, OP_SESSION_my: 'session-token'});
	t.is((await resolver.resolve('A', 'op://v/i/f')).value, 'session-token EOF');
});

test('a value keeps its own inner and extra newlines; only the CLI\'s last one goes', async t => {
	const fakes = await withFakes(t);
	await fakes.write('op', 'printf \'line one\\nline two\\n\\n\'');
	t.is((await createSecretResolver({PATH: fakes.path}).resolve('A', 'op://v/i/f')).value, 'line one\nline two\n');
});

test('env:// reads moat\'s own environment, as is', async t => {
	const resolver = createSecretResolver({HOST_TOKEN: ' token with spaces \n'});
	t.deepEqual(await resolver.resolve('TOKEN', 'env://HOST_TOKEN'), {backend: 'env', value: ' token with spaces \n'});
});

test('env:// with the variable unset fails naming the secret, the variable and the fix', async t => {
	const error = await t.throwsAsync(createSecretResolver({}).resolve('TOKEN', 'env://HOST_TOKEN'), {instanceOf: MoatError});
	t.is(error.exitCode, exitCodes.failure);
	t.is(error.message, 'Secret TOKEN (env://HOST_TOKEN) cannot be read: HOST_TOKEN is not set in moat\'s environment.');
	t.regex(error.hint, /export HOST_TOKEN=/);
});

test('op missing from PATH fails naming the secret and saying to install op and sign in', async t => {
	const fakes = await withFakes(t);
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}).resolve('OPENAI_API_KEY', 'op://Dev/OpenAI/api-key'), {instanceOf: MoatError});
	t.is(error.exitCode, exitCodes.failure);
	t.is(error.message, 'Secret OPENAI_API_KEY (op://Dev/OpenAI/api-key) cannot be read: the 1Password CLI (op) is not installed, or not on PATH.');
	t.regex(error.hint, /Install the 1Password CLI.*op signin/);
});

test('aws missing from PATH fails saying to install and configure the AWS CLI', async t => {
	const fakes = await withFakes(t);
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}).resolve('DATABASE_URL', 'ssm:///prod/db'), {instanceOf: MoatError});
	t.regex(error.message, /^Secret DATABASE_URL \(ssm:\/\/\/prod\/db\) cannot be read: the AWS CLI \(aws\) is not installed/);
	t.regex(error.hint, /aws configure/);
});

test('an op that cannot be executed is reported as such', async t => {
	const fakes = await withFakes(t);
	await fakes.write('op', 'exit 0');
	const {chmod} = await import('node:fs/promises');
	await chmod(`${fakes.directory}/op`, 0o644);
	const error = await t.throwsAsync(createSecretResolver({PATH: `${fakes.directory}`}).resolve('A', 'op://v/i/f'), {instanceOf: MoatError});
	t.regex(error.message, /the 1Password CLI \(op\) cannot be run \(EACCES\)\.$/);
});

test('op not signed in fails with op\'s own words and the way to sign in', async t => {
	const fakes = await withFakes(t);
	await fakes.write('op', 'echo "[ERROR] 2024/05/01 10:00:00 You are not currently signed in. Please run \\`op signin --help\\` for instructions" >&2; exit 1');
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}).resolve('OPENAI_API_KEY', 'op://Dev/OpenAI/api-key'), {instanceOf: MoatError});
	t.regex(error.message, /^Secret OPENAI_API_KEY \(op:\/\/Dev\/OpenAI\/api-key\) cannot be read: op exited with code 1: \[ERROR\] .* You are not currently signed in\./);
	t.regex(error.hint, /^Sign in to 1Password with op signin/);
});

test('a failing CLI\'s stdout is never shown, only its stderr', async t => {
	const fakes = await withFakes(t);
	await fakes.write('op', 'echo half-printed-value; echo "[ERROR] item not found" >&2; exit 1');
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}).resolve('A', 'op://v/i/f'), {instanceOf: MoatError});
	t.false(`${error.message}\n${error.hint}`.includes('half-printed-value'));
	t.regex(error.message, /item not found/);
});

test('aws ParameterNotFound fails with the command to check name and region', async t => {
	const fakes = await withFakes(t);
	await fakes.write('aws', 'printf \'\\nAn error occurred (ParameterNotFound) when calling the GetParameter operation: \\n\' >&2; exit 254');
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}).resolve('DATABASE_URL', 'ssm://eu-west-1/prod/db'), {instanceOf: MoatError});
	t.is(error.message, 'Secret DATABASE_URL (ssm://eu-west-1/prod/db) cannot be read: aws exited with code 254: An error occurred (ParameterNotFound) when calling the GetParameter operation:.');
	t.regex(error.hint, /aws ssm get-parameter --name \/prod\/db --with-decryption --query Parameter\.Value --output text --region eu-west-1/);
});

test('a CLI that hangs is stopped at the time limit and named', async t => {
	const fakes = await withFakes(t);
	const pidFile = path.join(fakes.directory, 'op.pid');
	// Far longer than any test may take: the resolver must not wait it out.
	await fakes.write('op', `echo $$ > ${shellQuote(pidFile)}; exec sleep 3600`);
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}, {timeoutMilliseconds: 300}).resolve('A', 'op://v/i/f'), {instanceOf: MoatError});
	t.regex(error.message, /op did not answer within 0.3 s\./);
	// Stopped, not left running (on a loaded machine it may not even have started).
	const pid = Number(await fs.readFile(pidFile, 'utf8').catch(() => '0'));
	if (pid > 0) {
		await until(() => !processAlive(pid), `op (pid ${pid}) stopped`);
	}

	t.regex(error.hint, /op signin/);
});

test('a value an environment variable cannot carry (a NUL byte) is refused without showing it', async t => {
	const fakes = await withFakes(t);
	await fakes.write('op', 'printf \'abc\\000def\\n\'');
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}).resolve('A', 'op://v/i/f'), {instanceOf: MoatError});
	t.regex(error.message, /NUL byte/);
	t.false(error.message.includes('abc'));
});

test('a value too large for an environment variable is refused', async t => {
	const fakes = await withFakes(t);
	await fakes.write('aws', 'head -c 300000 /dev/zero | tr \'\\0\' x');
	const error = await t.throwsAsync(createSecretResolver({PATH: fakes.path}).resolve('A', 'ssm:///big'), {instanceOf: MoatError});
	t.regex(error.message, /more than an environment variable can hold/);
});
