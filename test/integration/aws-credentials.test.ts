import {spawn} from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type {Readable} from 'node:stream';
import type {ExecutionContext} from 'ava';
import type {NetworkEntry} from '../../source/proxy/proxy-server.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {startHttpsStandIn, writeTrustBundle, type HttpsStandIn} from '../helpers/https-stand-in.js';
import {auditRecordsOf, createSandbox, createWorkspace, destroyRuns, docker, listRuns, moat, networkEntriesOf, type MoatResult, type Sandbox} from '../helpers/moat.js';

/**
 * AWS for runs end to end (README: The network): a real container runs moat's
 * credential_process helper, which asks the proxy (with the run's token);
 * the daemon assumes the granted role with the host's keys against a local
 * STS stand-in (MOAT_UPSTREAM_OVERRIDES, its CA trusted through
 * NODE_EXTRA_CA_CERTS) and hands out only the temporary session.
 */

const hostKeyId = 'AKIAHOSTKEYEXAMPLE01';
const hostSecret = 'host-secret-key-never-in-a-container-0123456789';
const role = 'arn:aws:iam::123456789012:role/agent';
const stsHost = 'sts.eu-west-1.amazonaws.com';

type World = {
	sandbox: Sandbox;
	workspace: string;
	standIn: HttpsStandIn;
	env: Record<string, string>;
	moat(args: readonly string[]): Promise<MoatResult>;
	/** AssumeRole calls made for runs (the grant's own check names its session moat-grant-check). */
	runSessions(): URL[];
};

async function createWorld(t: ExecutionContext, options: {files?: Record<string, string>; refuse?: boolean} = {}): Promise<World> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, options.files ?? {});
	let issued = 0;
	const standIn = await startHttpsStandIn([stsHost], (request, response) => {
		const action = new URL(request.url ?? '/', `https://${stsHost}`).searchParams.get('Action');
		if (action !== 'AssumeRole') {
			response.writeHead(400, {'content-type': 'text/xml'}).end('<ErrorResponse><Error><Message>stand-in knows AssumeRole only</Message></Error></ErrorResponse>');
			return;
		}

		if (options.refuse) {
			response.writeHead(403, {'content-type': 'text/xml'});
			response.end('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole on resource: agent</Message></Error></ErrorResponse>');
			return;
		}

		issued++;
		const expiration = new Date(Date.now() + (60 * 60 * 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
		response.writeHead(200, {'content-type': 'text/xml'});
		response.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>
<AccessKeyId>ASIASTANDIN${issued}</AccessKeyId><SecretAccessKey>stand-in-temporary-secret-${issued}</SecretAccessKey>
<SessionToken>stand-in-session-token-${issued}</SessionToken><Expiration>${expiration}</Expiration>
</Credentials></AssumeRoleResult></AssumeRoleResponse>`);
	});
	const env: Record<string, string> = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		MOAT_UPSTREAM_OVERRIDES: `${stsHost}=127.0.0.1:${standIn.port}`,
		NODE_EXTRA_CA_CERTS: await writeTrustBundle(path.join(path.dirname(sandbox.moatHome), 'trust-bundle.pem'), [standIn.caFile]),
		// The host's long-lived keys: moat (and its daemon) have them, containers must not.
		AWS_ACCESS_KEY_ID: hostKeyId,
		AWS_SECRET_ACCESS_KEY: hostSecret,
	};
	for (const name of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_REGION', 'AWS_DEFAULT_REGION']) {
		delete env[name];
	}

	t.teardown(async () => {
		await destroyRuns(env);
		await sandbox.cleanup();
		await standIn.close();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {
		sandbox,
		workspace,
		standIn,
		env,
		async moat(args) {
			return moat(args, {env});
		},
		runSessions() {
			return standIn.requests
				.map(request => new URL(request.url, `https://${stsHost}`))
				.filter(url => url.searchParams.get('RoleSessionName')?.startsWith('moat-run_'));
		},
	};
}

/** Every file under `directory`, recursively. */
async function filesUnder(directory: string): Promise<string[]> {
	const entries = await fs.readdir(directory, {withFileTypes: true, recursive: true});
	return entries.filter(entry => entry.isFile()).map(entry => path.join(entry.parentPath, entry.name));
}

/** Whether a stream (docker export) holds `needle`, also across chunk boundaries. */
async function streamHolds(stream: Readable, needle: string): Promise<{found: boolean; bytes: number}> {
	let tail = '';
	let found = false;
	let bytes = 0;
	for await (const chunk of stream) {
		bytes += (chunk as Buffer).length;
		const text = tail + (chunk as Buffer).toString('latin1');
		found ||= text.includes(needle);
		tail = text.slice(-needle.length);
	}

	return {found, bytes};
}

dockerTest('a run with the aws grant gets the role\'s short-lived session from its credential_process helper, cached, even in strict mode; the host\'s keys reach neither the container nor MOAT_HOME', async t => {
	const world = await createWorld(t, {files: {'agent.yaml': 'network:\n  policy: strict\n'}});
	const granted = await world.moat(['grant', 'aws', '--role', role, '--region', 'eu-west-1', '--session-duration', '1h']);
	t.is(granted.code, 0, granted.stderr);
	t.is(world.standIn.requests.length, 1, 'the grant was checked against the stand-in');

	const script = [
		// Twice: the second call is answered from the daemon's cache.
		'/etc/moat/aws-credentials > /workspace/first.json',
		'/etc/moat/aws-credentials > /workspace/second.json',
		'env > /workspace/env.txt',
		'cat "$AWS_CONFIG_FILE" > /workspace/config.txt',
		// The places the container's files live (bind mounts included): searched on the host, so the probe never holds the secret.
		'tar -cf /workspace/files.tar /etc /home /root /tmp /run 2>/dev/null; true',
	].join('\n');
	const result = await world.moat(['run', world.workspace, '--keep', '--grant', 'aws', '--', 'sh', '-c', script]);
	t.is(result.code, 0, result.stderr);
	const run = (await listRuns<RunMetadata>(world.env))[0]!;

	const first = JSON.parse(await fs.readFile(path.join(world.workspace, 'first.json'), 'utf8')) as Record<string, unknown>;
	t.like(first, {Version: 1, AccessKeyId: 'ASIASTANDIN2', SecretAccessKey: 'stand-in-temporary-secret-2', SessionToken: 'stand-in-session-token-2'});
	t.regex(String(first.Expiration), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
	t.deepEqual(JSON.parse(await fs.readFile(path.join(world.workspace, 'second.json'), 'utf8')), first);

	// One AssumeRole for the run, signed with the host's key, for the grant's role and session length.
	const sessions = world.runSessions();
	t.is(sessions.length, 1, 'the second call was served from the cache');
	t.like(Object.fromEntries(sessions[0]!.searchParams), {Action: 'AssumeRole', RoleArn: role, RoleSessionName: `moat-${run.id}`, DurationSeconds: '3600'});
	t.regex(String(world.standIn.requests.at(-1)!.headers.authorization), new RegExp(`^AWS4-HMAC-SHA256 Credential=${hostKeyId}/\\d{8}/eu-west-1/sts/aws4_request, `));

	const environment = await fs.readFile(path.join(world.workspace, 'env.txt'), 'utf8');
	t.regex(environment, /^AWS_CONFIG_FILE=\/etc\/moat\/aws-config$/m);
	t.regex(environment, /^AWS_REGION=eu-west-1$/m);
	t.regex(environment, /^AWS_DEFAULT_REGION=eu-west-1$/m);
	t.notRegex(environment, /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=/m);
	t.is(await fs.readFile(path.join(world.workspace, 'config.txt'), 'utf8'), '[default]\ncredential_process = /etc/moat/aws-credentials\nregion = eu-west-1\n');

	const files = await fs.readFile(path.join(world.workspace, 'files.tar'), 'latin1');
	t.true(files.includes('credential_process = /etc/moat/aws-credentials'), 'the tar holds the mounted config');
	const inspected = await docker('inspect', run.containerId!);
	for (const [name, text] of Object.entries({environment, files, inspected, output: result.stdout + result.stderr})) {
		t.false(text.includes(hostSecret), `the host's secret key is in the container's ${name}`);
		t.false(text.includes(hostKeyId), `the host's key id is in the container's ${name}`);
	}

	const exporter = spawn('docker', ['export', run.containerId!], {stdio: ['ignore', 'pipe', 'inherit']});
	const exported = await streamHolds(exporter.stdout, hostSecret);
	t.true(exported.bytes > 10_000_000, `docker export gave ${exported.bytes} bytes`);
	t.false(exported.found, 'the exported filesystem holds the host\'s secret key');

	// In MOAT_HOME the keys are nowhere; the role's session only in the daemon's memory.
	for (const file of await filesUnder(world.sandbox.moatHome)) {
		const text = await fs.readFile(file, 'latin1').catch(() => '');
		t.false(text.includes(hostSecret), `${path.relative(world.sandbox.moatHome, file)} holds the host's secret key`);
		t.false(text.includes('stand-in-temporary-secret'), `${path.relative(world.sandbox.moatHome, file)} holds the session's secret key`);
	}

	// Handed out twice (network.jsonl), one session issued (the audit log), values in neither.
	const entries = await networkEntriesOf<NetworkEntry>(world.sandbox.moatHome, run.id);
	t.deepEqual(entries.map(entry => [entry.method, entry.url, entry.status, entry.grant]), [
		['GET', 'http://moat.hooks/aws/credentials', 200, 'aws'],
		['GET', 'http://moat.hooks/aws/credentials', 200, 'aws'],
	]);
	const injected = (await auditRecordsOf(world.sandbox.moatHome, run.id)).filter(record => record.type === 'credential.injected');
	t.deepEqual(injected.map(record => ({...record.data, expiresAt: typeof record.data.expiresAt})), [{grant: 'aws', host: stsHost, role, expiresAt: 'string'}]);
});

dockerTest('a run without the aws grant gets 403 from the credentials endpoint and no AWS helper or config', async t => {
	const world = await createWorld(t);
	const granted = await world.moat(['grant', 'aws', '--role', role, '--region', 'eu-west-1', '--no-validate']);
	t.is(granted.code, 0, granted.stderr);
	const script = [
		'curl -s -w "\\n%{http_code}\\n" --proxy "$HTTP_PROXY" http://moat.hooks/aws/credentials',
		'test -e /etc/moat/aws-credentials && echo helper present || echo no helper',
		'echo "config=${AWS_CONFIG_FILE:-none}"',
	].join('\n');
	const result = await world.moat(['run', world.workspace, '--', 'sh', '-c', script]);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, [
		'Moat: this run has no aws grant, so it gets no AWS credentials.',
		'Store one with moat grant aws --role ARN, then start the run with --grant aws.',
		'',
		'403',
		'no helper',
		'config=none',
		'',
	].join('\n'));
	t.deepEqual(world.runSessions(), [], 'nothing was asked of STS');
});

dockerTest('STS refusing the role reaches the container\'s helper as its reason, without any key', async t => {
	const world = await createWorld(t, {refuse: true});
	const granted = await world.moat(['grant', 'aws', '--role', role, '--region', 'eu-west-1', '--no-validate']);
	t.is(granted.code, 0, granted.stderr);
	const result = await world.moat(['run', world.workspace, '--grant', 'aws', '--', 'sh', '-c', '/etc/moat/aws-credentials; echo "exit=$?"']);
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout + result.stderr, /^Moat: no AWS credentials for this run: AWS refused to let the host's credentials assume arn:aws:iam::123456789012:role\/agent: User is not authorized to perform: sts:AssumeRole on resource: agent\.$/m);
	t.is(world.runSessions().length, 1);
	t.regex(result.stdout, /^exit=1$/m);
	t.false((result.stdout + result.stderr).includes(hostSecret));
});
