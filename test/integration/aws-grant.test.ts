import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type {GrantSummary} from '../../source/credentials/grant.js';
import {startHttpsStandIn, writeTrustBundle} from '../helpers/https-stand-in.js';
import {createSandbox, moat} from '../helpers/moat.js';

const secretKey = 'host-secret-key-never-shown-0123456789';

async function setUp(t: {teardown(fn: () => Promise<void>): void}, answer: {status: number; body: string}) {
	const sandbox = await createSandbox();
	const standIn = await startHttpsStandIn(['sts.eu-west-1.amazonaws.com'], (_request, response) => {
		response.writeHead(answer.status, {'content-type': 'text/xml'});
		response.end(answer.body);
	});
	const bundle = await writeTrustBundle(path.join(sandbox.moatHome, '..', 'bundle.pem'), [standIn.caFile]);
	t.teardown(async () => {
		await standIn.close();
		await sandbox.cleanup();
	});
	const env = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		MOAT_UPSTREAM_OVERRIDES: `sts.eu-west-1.amazonaws.com=127.0.0.1:${standIn.port}`,
		NODE_EXTRA_CA_CERTS: bundle,
		AWS_ACCESS_KEY_ID: 'AKIAHOSTEXAMPLE',
		AWS_SECRET_ACCESS_KEY: secretKey,
	};
	return {sandbox, standIn, env};
}

const role = 'arn:aws:iam::123456789012:role/agent';

test('moat grant aws assumes the role once with STS (signed with the host\'s keys) before saving it', async t => {
	const {standIn, env, sandbox} = await setUp(t, {status: 200, body: '<AssumeRoleResponse><AssumeRoleResult><Credentials><Expiration>2030-01-01T00:15:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>'});
	const result = await moat(['grant', 'aws', '--role', role, '--region', 'eu-west-1', '--session-duration', '1h', '--external-id', 'ext-42'], {env});
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /^Granted aws \(as arn:aws:iam::123456789012:role\/agent\) from role to assume\.$/m);
	const [request] = standIn.requests;
	const url = new URL(request!.url, 'https://sts.eu-west-1.amazonaws.com');
	t.is(url.searchParams.get('Action'), 'AssumeRole');
	t.is(url.searchParams.get('RoleArn'), role);
	t.is(url.searchParams.get('ExternalId'), 'ext-42');
	t.regex(String(request!.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIAHOSTEXAMPLE\/\d{8}\/eu-west-1\/sts\/aws4_request, /);

	const [grant] = JSON.parse((await moat(['grant', 'list', '--json'], {env})).stdout) as GrantSummary[];
	t.is(grant!.details.roleArn, role);
	t.is(grant!.details.sessionDurationSeconds, '3600');
	t.is(grant!.details.validated, 'true');
	for (const file of await fs.readdir(path.join(sandbox.moatHome, 'credentials'))) {
		t.false((await fs.readFile(path.join(sandbox.moatHome, 'credentials', file), 'utf8')).includes('ext-42'), 'the external id is stored encrypted');
	}
});

test('a role STS refuses is not saved, and the error gives STS\'s reason without the host\'s secret key', async t => {
	const {env} = await setUp(t, {status: 403, body: '<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>'});
	const result = await moat(['grant', 'aws', '--role', role, '--region', 'eu-west-1'], {env});
	t.is(result.code, 1);
	t.regex(result.stderr, /^moat: AWS refused to let these credentials assume arn:aws:iam::123456789012:role\/agent: not authorized to perform sts:AssumeRole\.$/m);
	t.false(result.stderr.includes(secretKey));
	t.is((await moat(['grant', 'list', '--json'], {env})).stdout.trim(), '[]');
});

for (const [flags, message] of [
	[['--region', 'eu-west-1'], /moat grant aws needs --role/],
	[['--role', 'arn:aws:iam::123:role/x'], /is not an IAM role ARN/],
	[['--role', role, '--region', 'mars'], /"mars" is not an AWS region/],
	[['--role', role, '--session-duration', '5m'], /Session duration "5m" is out of range/],
	[['--role', role, '--session-duration', '13h'], /Session duration "13h" is out of range/],
] as const) {
	test(`moat grant aws ${flags.join(' ')} is a usage error`, async t => {
		const sandbox = await createSandbox();
		t.teardown(sandbox.cleanup);
		const result = await moat(['grant', 'aws', ...flags], {env: {...sandbox.env, MOAT_KEYRING_BACKEND: 'file'}});
		t.is(result.code, 2);
		t.regex(result.stderr, message);
	});
}
