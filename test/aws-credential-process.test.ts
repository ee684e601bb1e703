import {execFile} from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {
	awsConfig, awsContainerEnvironment, awsCredentialProcessMounts, awsRoleOf, configFilePath, createRunAwsCredentials, credentialProcessOutput,
	helperScript, helperScriptPath, isFresh, refreshMarginMilliseconds, type AwsRunRole,
} from '../source/credentials/aws-credential-process.js';
import {parseAssumeRoleResponse} from '../source/credentials/aws-role.js';
import type {HttpResponse, OutboundHttp} from '../source/network/outbound-http.js';

const role: AwsRunRole = {roleArn: 'arn:aws:iam::123456789012:role/agent', region: 'eu-west-1', sessionDurationSeconds: 3600};
const hostKeys = {accessKeyId: 'AKIAHOSTEXAMPLE', secretAccessKey: 'host-secret-never-handed-out'};

const assumeRoleXml = (keyId: string, expiration: string) => `<AssumeRoleResponse><AssumeRoleResult><Credentials>
<AccessKeyId>${keyId}</AccessKeyId><SecretAccessKey>temporary-secret-${keyId}</SecretAccessKey><SessionToken>session-token-${keyId}</SessionToken>
<Expiration>${expiration}</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>`;

// --- Pure decisions ---

for (const [title, grant, expected] of [
	['a stored aws grant gives its role, region and session length', {provider: 'aws', details: {roleArn: role.roleArn, region: 'eu-west-1', sessionDurationSeconds: '3600'}, secret: {}}, role],
	['the external id comes from the grant\'s secret', {provider: 'aws', details: {roleArn: role.roleArn, region: 'eu-west-1', sessionDurationSeconds: '900'}, secret: {externalId: 'ext-1'}}, {...role, sessionDurationSeconds: 900, externalId: 'ext-1'}],
	['a region that could break the config file is refused', {provider: 'aws', details: {roleArn: role.roleArn, region: 'eu-west-1\ncredential_process = /bin/evil', sessionDurationSeconds: '900'}, secret: {}}, undefined],
	['a session length outside what STS takes is refused', {provider: 'aws', details: {roleArn: role.roleArn, region: 'eu-west-1', sessionDurationSeconds: '60'}, secret: {}}, undefined],
	['a grant without a role is refused', {provider: 'aws', details: {region: 'eu-west-1'}, secret: {}}, undefined],
	['another provider\'s grant is not a role', {provider: 'github', details: {roleArn: role.roleArn, region: 'eu-west-1'}, secret: {}}, undefined],
] as const) {
	test(`awsRoleOf: ${title}`, t => {
		t.deepEqual(awsRoleOf(grant as Parameters<typeof awsRoleOf>[0]), expected);
	});
}

for (const [durationSeconds, minutes] of [[900, 7.5], [1800, 15], [3600, 15], [43_200, 15]] as const) {
	test(`a ${durationSeconds / 60}-minute session is replaced ${minutes} minutes before it expires`, t => {
		t.is(refreshMarginMilliseconds(durationSeconds), minutes * 60_000);
	});
}

for (const [left, fresh] of [['20:00', true], ['15:01', true], ['15:00', false], ['05:00', false], ['-01:00', false]] as const) {
	test(`a one-hour session with ${left} left is ${fresh ? 'still handed out' : 'replaced'}`, t => {
		const [minutes, seconds] = left.replace('-', '').split(':').map(Number) as [number, number];
		const sign = left.startsWith('-') ? -1 : 1;
		const now = new Date('2030-01-01T00:00:00Z');
		const expiration = new Date(now.getTime() + (sign * ((minutes * 60) + seconds) * 1000)).toISOString();
		t.is(isFresh(expiration, now, 3600), fresh);
	});
}

test('an expiry that cannot be read is never fresh', t => {
	t.false(isFresh('soon', new Date(), 3600));
});

test('AssumeRole\'s XML becomes the credential_process JSON, version 1', t => {
	const parsed = parseAssumeRoleResponse(assumeRoleXml('ASIATEMP1', '2030-01-01T01:00:00Z'));
	t.deepEqual(credentialProcessOutput(parsed!), {
		Version: 1, AccessKeyId: 'ASIATEMP1', SecretAccessKey: 'temporary-secret-ASIATEMP1', SessionToken: 'session-token-ASIATEMP1', Expiration: '2030-01-01T01:00:00Z',
	});
	t.is(parseAssumeRoleResponse('<AssumeRoleResponse><Expiration>2030-01-01T01:00:00Z</Expiration></AssumeRoleResponse>'), undefined, 'an answer without keys is none');
});

test('the container\'s AWS config names the helper and the region, and its variables hold no key', t => {
	t.is(awsConfig('eu-west-1'), `[default]\ncredential_process = ${helperScriptPath}\nregion = eu-west-1\n`);
	const variables = awsContainerEnvironment('eu-west-1');
	t.like(variables, {AWS_CONFIG_FILE: configFilePath, AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1'});
	t.false(Object.keys(variables).some(name => /KEY|SECRET|TOKEN/.test(name)));
});

// --- One run's sessions, against a fake STS ---

type FakeSts = OutboundHttp & {urls: string[]; headers: Array<Record<string, string>>; answers: HttpResponse[]};

function fakeSts(...answers: HttpResponse[]): FakeSts {
	const sts: FakeSts = {
		urls: [],
		headers: [],
		answers,
		async get(url, headers) {
			sts.urls.push(url);
			sts.headers.push(headers);
			const answer = sts.answers.shift();
			if (!answer) {
				throw new Error('connect ECONNREFUSED 127.0.0.1:443');
			}

			return answer;
		},
	};
	return sts;
}

function world(sts: FakeSts, options: {role?: AwsRunRole | undefined; start?: string} = {}) {
	let now = new Date(options.start ?? '2030-01-01T00:00:00Z');
	let currentRole: AwsRunRole | undefined = 'role' in options ? options.role : role;
	const issued: Array<{host: string; roleArn: string; expiresAt: string}> = [];
	const credentials = createRunAwsCredentials({
		runId: 'run_0123456789ab',
		http: sts,
		role: async () => currentRole,
		hostCredentials: async () => hostKeys,
		now: () => now,
		issued(session) {
			issued.push(session);
		},
	});
	return {
		credentials,
		issued,
		advance(minutes: number) {
			now = new Date(now.getTime() + (minutes * 60_000));
		},
		setRole(next: AwsRunRole | undefined) {
			currentRole = next;
		},
	};
}

const ok = (keyId: string, expiration = '2030-01-01T01:00:00Z'): HttpResponse => ({status: 200, headers: {}, body: assumeRoleXml(keyId, expiration)});

test('the first request assumes the role through the regional STS, signed with the host\'s key, in a session named after the run', async t => {
	const sts = fakeSts(ok('ASIATEMP1'));
	const {credentials, issued} = world(sts);
	const answer = await credentials.credentials();
	t.is(answer.AccessKeyId, 'ASIATEMP1');
	const url = new URL(sts.urls[0]!);
	t.is(url.host, 'sts.eu-west-1.amazonaws.com');
	t.like(Object.fromEntries(url.searchParams), {Action: 'AssumeRole', RoleArn: role.roleArn, RoleSessionName: 'moat-run_0123456789ab', DurationSeconds: '3600'});
	t.regex(sts.headers[0]!.authorization!, /^AWS4-HMAC-SHA256 Credential=AKIAHOSTEXAMPLE\/20300101\/eu-west-1\/sts\/aws4_request, /);
	t.false(JSON.stringify(answer).includes(hostKeys.secretAccessKey));
	t.deepEqual(issued, [{host: 'sts.eu-west-1.amazonaws.com', roleArn: role.roleArn, expiresAt: '2030-01-01T01:00:00Z'}]);
});

test('a session is reused while fresh and replaced once it is due, each new one recorded once', async t => {
	const sts = fakeSts(ok('ASIATEMP1'), ok('ASIATEMP2', '2030-01-01T01:50:00Z'));
	const run = world(sts);
	t.is((await run.credentials.credentials()).AccessKeyId, 'ASIATEMP1');
	run.advance(44);
	t.is((await run.credentials.credentials()).AccessKeyId, 'ASIATEMP1', '16 minutes left: cached');
	t.is(sts.urls.length, 1);
	run.advance(2);
	t.is((await run.credentials.credentials()).AccessKeyId, 'ASIATEMP2', '14 minutes left: replaced');
	t.is(sts.urls.length, 2);
	t.deepEqual(run.issued.map(session => session.expiresAt), ['2030-01-01T01:00:00Z', '2030-01-01T01:50:00Z']);
});

test('requests that arrive together share one AssumeRole', async t => {
	const sts = fakeSts(ok('ASIATEMP1'));
	const {credentials} = world(sts);
	const answers = await Promise.all([credentials.credentials(), credentials.credentials(), credentials.credentials()]);
	t.deepEqual(answers.map(answer => answer.AccessKeyId), ['ASIATEMP1', 'ASIATEMP1', 'ASIATEMP1']);
	t.is(sts.urls.length, 1);
});

test('STS\'s refusal is passed on with its reason and is not cached', async t => {
	const sts = fakeSts(
		{status: 403, headers: {}, body: '<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>'},
		ok('ASIATEMP1'),
	);
	const {credentials, issued} = world(sts);
	const error = await t.throwsAsync(credentials.credentials());
	t.is(error.message, `AWS refused to let the host's credentials assume ${role.roleArn}: not authorized to perform sts:AssumeRole.`);
	t.is((error as {status?: number}).status, undefined, 'answered as 502 by the proxy');
	t.false(error.message.includes(hostKeys.secretAccessKey));
	t.deepEqual(issued, []);
	t.is((await credentials.credentials()).AccessKeyId, 'ASIATEMP1', 'the next request tries again');
});

test('STS out of reach is said as such', async t => {
	const {credentials} = world(fakeSts());
	await t.throwsAsync(credentials.credentials(), {message: /^Could not reach AWS STS \(sts\.eu-west-1\.amazonaws\.com\): connect ECONNREFUSED/});
});

test('a revoked grant stops the handing out at once, cached session or not (403)', async t => {
	const sts = fakeSts(ok('ASIATEMP1'));
	const run = world(sts);
	await run.credentials.credentials();
	run.setRole(undefined);
	const error = await t.throwsAsync(run.credentials.credentials());
	t.is((error as {status?: number}).status, 403);
	t.regex(error.message, /aws grant is gone/);
});

test('a grant changed to another role gets a new session at once', async t => {
	const sts = fakeSts(ok('ASIATEMP1'), ok('ASIATEMP2'));
	const run = world(sts);
	await run.credentials.credentials();
	run.setRole({...role, roleArn: 'arn:aws:iam::123456789012:role/other'});
	t.is((await run.credentials.credentials()).AccessKeyId, 'ASIATEMP2');
	t.is(new URL(sts.urls[1]!).searchParams.get('RoleArn'), 'arn:aws:iam::123456789012:role/other');
});

test('without host credentials nothing is sent to STS, and the error says where moat looks', async t => {
	const sts = fakeSts(ok('ASIATEMP1'));
	const credentials = createRunAwsCredentials({runId: 'run_0123456789ab', http: sts, role: async () => role, hostCredentials: async () => undefined, now: () => new Date()});
	const error = await t.throwsAsync(credentials.credentials());
	t.is(error.message, 'No AWS credentials on this machine to assume the role with.');
	t.regex((error as {hint?: string}).hint ?? '', /AWS_ACCESS_KEY_ID/);
	t.is(sts.urls.length, 0);
});

// --- The helper script, run by sh against a stand-in for the proxy ---

async function runHelper(t: {teardown(fn: () => Promise<void>): void}, answer: {status: number; body: string}) {
	const seen: Array<{url: string; proxyAuthorization?: string}> = [];
	const proxy = http.createServer((request, response) => {
		seen.push({url: request.url ?? '', proxyAuthorization: request.headers['proxy-authorization']});
		response.writeHead(answer.status, {'content-type': 'text/plain'}).end(answer.body);
	});
	await new Promise<void>(resolve => {
		proxy.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(async () => new Promise<void>(resolve => {
		proxy.close(() => {
			resolve();
		});
	}));
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-aws-helper-'));
	t.teardown(async () => fs.rm(directory, {recursive: true, force: true}));
	const script = path.join(directory, 'aws-credentials');
	await fs.writeFile(script, helperScript, {mode: 0o755});
	const {port} = proxy.address() as AddressInfo;
	const result = await new Promise<{code: number; stdout: string; stderr: string}>(resolve => {
		execFile(script, [], {env: {PATH: process.env.PATH, HTTP_PROXY: `http://moat:run-token@127.0.0.1:${port}`}}, (error, stdout, stderr) => {
			resolve({code: error ? Number(error.code ?? 1) : 0, stdout, stderr});
		});
	});
	return {...result, seen};
}

test('the helper prints moat\'s answer for the AWS tools, asking through HTTP_PROXY with the run\'s token', async t => {
	const json = JSON.stringify({Version: 1, AccessKeyId: 'ASIATEMP1', SecretAccessKey: 's', SessionToken: 't', Expiration: '2030-01-01T01:00:00Z'});
	const result = await runHelper(t, {status: 200, body: json});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, `${json}\n`);
	t.deepEqual(result.seen, [{url: 'http://moat.hooks/aws/credentials', proxyAuthorization: `Basic ${Buffer.from('moat:run-token').toString('base64')}`}]);
});

test('the helper fails on a refusal and says moat\'s reason on stderr, printing nothing the AWS tools could take for credentials', async t => {
	const result = await runHelper(t, {status: 403, body: 'Moat: this run has no aws grant, so it gets no AWS credentials.\n'});
	t.is(result.code, 1);
	t.is(result.stdout, '');
	t.regex(result.stderr, /^Moat: this run has no aws grant/);
});

test('the helper and the config are written into MOAT_HOME readable by anyone, mounted read-only', async t => {
	const moatHome = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-aws-home-'));
	t.teardown(async () => fs.rm(moatHome, {recursive: true, force: true}));
	const mounts = await awsCredentialProcessMounts(moatHome, 'eu-west-1');
	t.deepEqual(mounts, [
		{source: path.join(moatHome, 'aws', 'credential-process'), target: helperScriptPath, readOnly: true},
		{source: path.join(moatHome, 'aws', 'config-eu-west-1'), target: configFilePath, readOnly: true},
	]);
	t.is((await fs.stat(mounts[0]!.source)).mode & 0o777, 0o755);
	t.is(await fs.readFile(mounts[1]!.source, 'utf8'), awsConfig('eu-west-1'));
	await t.throwsAsync(awsCredentialProcessMounts(moatHome, 'eu-west-1/../../x'), {message: /is not an AWS region/});
});
