import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type {GrantSummary} from '../../source/credentials/grant.js';
import {startHttpsStandIn, writeTrustBundle} from '../helpers/https-stand-in.js';
import {createSandbox, moat} from '../helpers/moat.js';
import {rawModeOn, TmuxSession} from '../helpers/tmux.js';

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

// --- The grant wizard on a real terminal, on the same stand-in for STS ---

/** `moat grant` in tmux, moved onto the AWS role step (the fifth provider). */
async function wizardAtRole(t: {teardown(fn: () => Promise<void>): void}, env: Record<string, string>): Promise<TmuxSession> {
	const session = await TmuxSession.start(['grant'], {env, columns: 160, rows: 24});
	t.teardown(async () => {
		await session.kill();
	});
	await session.waitFor('Which credential should runs be able to use?');
	await rawModeOn(session);
	await session.keys('Down', 'Down', 'Down', 'Down');
	await session.waitFor('› AWS role');
	await session.keys('Enter');
	await session.waitFor('AWS role runs may assume (its ARN)');
	return session;
}

const erase = (text: string) => Array.from({length: text.length}, () => 'BSpace');

test('the grant wizard takes a role ARN and a region as moat grant aws does: a bad ARN is said in place, the region starts at AWS_REGION, and the role is assumed once before it is saved', async t => {
	const {standIn, env} = await setUp(t, {status: 200, body: '<AssumeRoleResponse><AssumeRoleResult><Credentials><Expiration>2030-01-01T00:15:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>'});
	const session = await wizardAtRole(t, {...env, AWS_REGION: 'eu-west-1'});
	const screens: string[] = [];
	const waitFor = async (condition: string | ((screen: string) => boolean)) => {
		const screen = await session.waitFor(condition);
		screens.push(screen);
		return screen;
	};

	const badRole = 'arn:aws:iam::123:role/agent';
	await session.type(badRole);
	await waitFor(`> ${badRole}`);
	await session.keys('Enter');
	const refused = await waitFor('✕');
	t.true(refused.includes(`✕ "${badRole}" is not an IAM role ARN.`), refused);
	t.false(refused.includes('AWS region for'), 'the region is not asked before the role is right');

	await session.keys(...erase(badRole));
	await waitFor(screen => /^\s*>\s*$/m.test(screen) && !screen.includes('✕'));
	await session.type(role);
	await waitFor(`> ${role}`);
	await session.keys('Enter');
	const region = await waitFor(`AWS region for ${role}`);
	t.regex(region, /^\s*> eu-west-1\s*$/m, 'the region moat grant aws would use: AWS_REGION');
	t.deepEqual(standIn.requests, [], 'nothing was asked of STS yet');
	await session.keys('Enter');
	const done = await waitFor('✓ Granted');
	t.true(done.includes(`✓ Granted aws (as ${role}) from role to assume.`), done);
	await session.keys('Enter');
	t.is(await session.exitCode(), 0);
	const after = await session.screen();
	screens.push(after);
	t.regex(after, /^Granted aws \(as arn:aws:iam::123456789012:role\/agent\) from role to assume\.$/m, 'moat grant aws\'s line stays on the screen');
	t.regex(after, /^Saved encrypted in \S+aws\.enc \(key in the key file\)\.$/m);
	for (const screen of screens) {
		t.false(screen.includes(secretKey), 'the host\'s secret key is never shown');
	}

	t.is(standIn.requests.length, 1);
	const url = new URL(standIn.requests[0]!.url, 'https://sts.eu-west-1.amazonaws.com');
	t.is(url.searchParams.get('Action'), 'AssumeRole');
	t.is(url.searchParams.get('RoleArn'), role);
	t.regex(String(standIn.requests[0]!.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIAHOSTEXAMPLE\/\d{8}\/eu-west-1\/sts\/aws4_request, /);
	const grants = JSON.parse((await moat(['grant', 'list', '--json'], {env})).stdout) as GrantSummary[];
	t.deepEqual(grants.map(grant => [grant.name, grant.details.roleArn, grant.details.region, grant.details.sessionDurationSeconds, grant.details.validated]), [['aws', role, 'eu-west-1', '900', 'true']]);
});

test('in the grant wizard, a bad region is said in place, and a role STS refuses is said at the region and not saved; Ctrl+C then leaves with no grant', async t => {
	const {standIn, env} = await setUp(t, {status: 403, body: '<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error></ErrorResponse>'});
	const session = await wizardAtRole(t, {...env, AWS_REGION: 'mars'});
	await session.type(role);
	await session.waitFor(`> ${role}`);
	await session.keys('Enter');
	await session.waitFor('> mars');
	await session.keys('Enter');
	const badRegion = await session.waitFor('✕');
	t.true(badRegion.includes('✕ "mars" is not an AWS region.'), badRegion);
	t.deepEqual(standIn.requests, []);

	await session.keys(...erase('mars'));
	await session.waitFor(screen => /^\s*>\s*$/m.test(screen) && !screen.includes('✕'));
	await session.type('eu-west-1');
	await session.waitFor('> eu-west-1');
	await session.keys('Enter');
	const refused = await session.waitFor('✕');
	t.true(refused.includes(`✕ AWS refused to let these credentials assume ${role}: not authorized to perform sts:AssumeRole.`), refused);
	t.regex(refused, /^\s*> eu-west-1\s*$/m, 'what was typed stays, to change');
	t.false(refused.includes(secretKey));
	t.is(standIn.requests.length, 1);

	await session.keys('Escape');
	await session.waitFor(screen => screen.includes('AWS role runs may assume (its ARN)') && screen.includes(`> ${role}`));
	await session.keys('C-c');
	t.is(await session.exitCode(), 130);
	t.regex(await session.screen(), /^No grant saved\.\nEXITED/m);
	t.is((await moat(['grant', 'list', '--json'], {env})).stdout.trim(), '[]');
});
