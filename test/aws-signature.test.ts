import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {checkAssumeRole, hostAwsCredentials} from '../source/credentials/aws-role.js';
import {signGet} from '../source/credentials/aws-signature.js';
import {MoatError} from '../source/errors.js';
import type {HttpResponse, OutboundHttp} from '../source/network/outbound-http.js';

const example = {accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'};

test('SigV4 signs AWS\'s documented example request (IAM ListUsers) with the documented signature', t => {
	const signed = signGet({
		host: 'iam.amazonaws.com',
		query: {Action: 'ListUsers', Version: '2010-05-08'},
		region: 'us-east-1',
		service: 'iam',
		credentials: example,
		now: new Date('2015-08-30T12:36:00Z'),
		extraHeaders: {'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'},
	});
	t.is(signed.url, 'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08');
	t.is(
		signed.headers.authorization,
		'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
	);
	t.is(signed.headers['x-amz-date'], '20150830T123600Z');
});

test('a session token is sent and signed as x-amz-security-token', t => {
	const signed = signGet({host: 'sts.eu-west-1.amazonaws.com', query: {Action: 'AssumeRole'}, region: 'eu-west-1', service: 'sts', credentials: {...example, sessionToken: 'token-value'}, now: new Date('2025-01-01T00:00:00Z')});
	t.is(signed.headers['x-amz-security-token'], 'token-value');
	t.regex(signed.headers.authorization!, /SignedHeaders=host;x-amz-date;x-amz-security-token,/);
});

test('query values are encoded as RFC 3986 wants (the role ARN\'s colons and slashes)', t => {
	const signed = signGet({host: 'sts.us-east-1.amazonaws.com', query: {RoleArn: 'arn:aws:iam::123456789012:role/a b*'}, region: 'us-east-1', service: 'sts', credentials: example, now: new Date()});
	t.is(new URL(signed.url).search, '?RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fa%20b%2A');
});

test('host AWS credentials come from the environment first, then the profile in ~/.aws/credentials', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-aws-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	await fs.mkdir(path.join(home, '.aws'));
	await fs.writeFile(path.join(home, '.aws', 'credentials'), '[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = secret-default\n\n[work]\naws_access_key_id=AKIAWORK\naws_secret_access_key=secret-work\naws_session_token=session-work\n');
	t.deepEqual(await hostAwsCredentials({AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'secret-env'}, home), {accessKeyId: 'AKIAENV', secretAccessKey: 'secret-env', sessionToken: undefined});
	t.deepEqual(await hostAwsCredentials({}, home), {accessKeyId: 'AKIADEFAULT', secretAccessKey: 'secret-default', sessionToken: undefined});
	t.deepEqual(await hostAwsCredentials({AWS_PROFILE: 'work'}, home), {accessKeyId: 'AKIAWORK', secretAccessKey: 'secret-work', sessionToken: 'session-work'});
	t.is(await hostAwsCredentials({}, path.join(home, 'nowhere')), undefined);
});

function stsAnswering(answer: Partial<HttpResponse>): OutboundHttp & {urls: string[]; headers: Array<Record<string, string>>} {
	const urls: string[] = [];
	const headers: Array<Record<string, string>> = [];
	return {
		urls,
		headers,
		async get(url, requestHeaders) {
			urls.push(url);
			headers.push(requestHeaders);
			return {status: 200, headers: {}, body: '', ...answer};
		},
	};
}

const role = {roleArn: 'arn:aws:iam::123456789012:role/agent', region: 'eu-west-1', externalId: 'ext-1'};

test('checking a role assumes it with STS in its region, signed, with the external id, and reports the session expiry', async t => {
	const http = stsAnswering({body: '<AssumeRoleResponse><AssumeRoleResult><Credentials><Expiration>2025-01-01T00:15:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>'});
	const result = await checkAssumeRole(http, role, example, new Date('2025-01-01T00:00:00Z'));
	t.is(result.expiresAt, '2025-01-01T00:15:00Z');
	const url = new URL(http.urls[0]!);
	t.is(url.host, 'sts.eu-west-1.amazonaws.com');
	t.is(url.searchParams.get('Action'), 'AssumeRole');
	t.is(url.searchParams.get('RoleArn'), role.roleArn);
	t.is(url.searchParams.get('ExternalId'), 'ext-1');
	t.regex(http.headers[0]!.authorization!, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20250101\/eu-west-1\/sts\/aws4_request, /);
});

test('a role AWS refuses is a clear error with STS\'s reason, and never shows the secret key', async t => {
	const http = stsAnswering({status: 403, body: '<ErrorResponse><Error><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error></ErrorResponse>'});
	const error = await t.throwsAsync(checkAssumeRole(http, role, example, new Date()), {instanceOf: MoatError});
	t.is(error!.message, `AWS refused to let these credentials assume ${role.roleArn}: User is not authorized to perform: sts:AssumeRole.`);
	t.false(`${error!.message}${error!.hint}`.includes(example.secretAccessKey));
});

test('without host AWS credentials the check says which variables to set', async t => {
	const error = await t.throwsAsync(checkAssumeRole(stsAnswering({}), role, undefined, new Date()), {instanceOf: MoatError});
	t.regex(error!.hint, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
});
