import {execFile, spawn, type ChildProcess} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import type {IncomingMessage, ServerResponse} from 'node:http';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import type {GrantSummary} from '../../source/credentials/grant.js';
import {startHttpsStandIn, writeTrustBundle, type HttpsStandIn} from '../helpers/https-stand-in.js';
import {cliPath, collect, createSandbox, eventually, type MoatResult, type Sandbox} from '../helpers/moat.js';
import {rawModeOn, TmuxSession} from '../helpers/tmux.js';

/**
 * `moat grant`, `moat grant list` and `moat revoke` as a user runs them:
 * the real CLI, a fake HOME and PATH (fake CLIs as shell scripts), a file
 * keyring, and a local HTTPS stand-in for the providers' APIs reached
 * through MOAT_UPSTREAM_OVERRIDES with its CA trusted via
 * NODE_EXTRA_CA_CERTS. After every case, no grant value may appear in any
 * output or, in plaintext, in any file under MOAT_HOME.
 */

const execFileAsync = promisify(execFile);

const providerHosts = ['api.github.com', 'api.anthropic.com', 'api.openai.com'] as const;

/** Variables on the developer's machine that would be found as credentials. */
const credentialVariables = ['GITHUB_TOKEN', 'GH_TOKEN', 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'OPENAI_API_KEY', 'SSH_AUTH_SOCK'];

const githubToken = () => `ghp_${randomBytes(18).toString('hex')}`;
const anthropicKey = () => `sk-ant-api03-${randomBytes(18).toString('hex')}`;
const claudeToken = () => `sk-ant-oat01-${randomBytes(18).toString('hex')}`;
const openaiKey = () => `sk-proj-${randomBytes(18).toString('hex')}`;

type RunOptions = {
	/** Extra variables; undefined removes one. */
	env?: Record<string, string | undefined>;
	/** Piped to stdin, which is then closed. Without it stdin is /dev/null. */
	stdin?: string;
};

type World = {
	sandbox: Sandbox;
	env: Record<string, string>;
	bin: string;
	/** A PATH with no gh on it (only the empty fake bin directory). */
	noGh: {PATH: string};
	standIn: HttpsStandIn;
	/** Tokens the stand-in answers 200 for; anything else gets 401. */
	accepted: Set<string>;
	/** Values that must never appear in output or, in plaintext, under MOAT_HOME. */
	secrets: string[];
	/** Everything moat printed during the test. */
	outputs: string[];
	run(args: readonly string[], options?: RunOptions): Promise<MoatResult>;
	fakeCli(name: string, script: string): Promise<void>;
	grants(): Promise<GrantSummary[]>;
	credentialsDirectory: string;
};

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
	response.writeHead(status, {'content-type': 'application/json', ...headers});
	response.end(JSON.stringify(body));
}

/** Answers like the real APIs do for the calls grant validation makes. */
function providerApis(accepted: ReadonlySet<string>) {
	return (request: IncomingMessage, response: ServerResponse) => {
		const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
		const host = request.headers.host;
		if (request.method === 'GET' && host === 'api.github.com' && request.url === '/user') {
			if (bearer && accepted.has(bearer)) {
				send(response, 200, {login: 'octocat', id: 1}, {'x-oauth-scopes': 'repo, read:org'});
			} else {
				send(response, 401, {message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401'});
			}

			return;
		}

		if (request.method === 'GET' && (host === 'api.anthropic.com' || host === 'api.openai.com') && request.url === '/v1/models') {
			const key = host === 'api.anthropic.com' ? (request.headers['x-api-key'] as string | undefined) ?? bearer : bearer;
			if (key && accepted.has(key)) {
				send(response, 200, {data: []});
			} else {
				send(response, 401, {error: {message: 'invalid credentials'}});
			}

			return;
		}

		send(response, 404, {message: 'Not Found'});
	};
}

async function filesUnder(directory: string): Promise<string[]> {
	let entries;
	try {
		entries = await fs.readdir(directory, {recursive: true, withFileTypes: true});
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
			return [];
		}

		throw error;
	}

	return entries.filter(entry => entry.isFile()).map(entry => path.join(entry.parentPath, entry.name));
}

async function createWorld(t: ExecutionContext): Promise<World> {
	const sandbox = await createSandbox();
	const root = path.dirname(sandbox.moatHome);
	const bin = path.join(root, 'bin');
	await fs.mkdir(bin);
	const accepted = new Set<string>();
	const standIn = await startHttpsStandIn(providerHosts, providerApis(accepted));
	t.teardown(async () => {
		await standIn.close();
		await sandbox.cleanup();
	});
	const bundle = await writeTrustBundle(path.join(root, 'trust-bundle.pem'), [standIn.caFile]);
	const env: Record<string, string> = {
		...sandbox.env,
		PATH: `${bin}${path.delimiter}${sandbox.env.PATH ?? ''}`,
		MOAT_UPSTREAM_OVERRIDES: providerHosts.map(host => `${host}=127.0.0.1:${standIn.port}`).join(','),
		NODE_EXTRA_CA_CERTS: bundle,
		MOAT_KEYRING_BACKEND: 'file',
	};
	for (const name of credentialVariables) {
		delete env[name];
	}

	const world: World = {
		sandbox,
		env,
		bin,
		noGh: {PATH: bin},
		standIn,
		accepted,
		secrets: [],
		outputs: [],
		credentialsDirectory: path.join(sandbox.moatHome, 'credentials'),
		async run(args, options = {}) {
			const variables: Record<string, string> = {...env};
			for (const [name, value] of Object.entries(options.env ?? {})) {
				if (value === undefined) {
					delete variables[name];
				} else {
					variables[name] = value;
				}
			}

			const child = spawn(process.execPath, [cliPath, ...args], {env: variables, stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']});
			if (options.stdin !== undefined) {
				child.stdin!.end(options.stdin);
			}

			const result = await collect(child);
			world.outputs.push(result.stdout, result.stderr);
			return result;
		},
		async fakeCli(name, script) {
			const file = path.join(bin, name);
			await fs.writeFile(file, `#!/bin/sh\n${script}\n`, {mode: 0o755});
		},
		async grants() {
			const result = await world.run(['grant', 'list', '--json']);
			if (result.code !== 0) {
				throw new Error(`moat grant list --json exited ${result.code}: ${result.stderr}`);
			}

			return JSON.parse(result.stdout) as GrantSummary[];
		},
	};
	return world;
}

/** No secret in any output, and none in plaintext in any file under MOAT_HOME. */
async function assertNoSecretLeaks(t: ExecutionContext, world: World): Promise<void> {
	t.true(world.secrets.length > 0, 'the case names the secrets it handles');
	for (const secret of world.secrets) {
		for (const output of world.outputs) {
			t.false(output.includes(secret), `a grant value was printed:\n${output}`);
		}
	}

	for (const file of await filesUnder(world.sandbox.moatHome)) {
		const text = await fs.readFile(file, 'utf8');
		for (const secret of world.secrets) {
			t.false(text.includes(secret), `${file} holds a grant value in plaintext`);
		}
	}
}

/** A test with a fresh world whose secrets are checked for leaks after the body. */
function grantTest(title: string, body: (t: ExecutionContext, world: World) => Promise<void>): void {
	test(title, async t => {
		const world = await createWorld(t);
		await body(t, world);
		await assertNoSecretLeaks(t, world);
	});
}

const lines = (text: string) => text.split('\n').filter(Boolean);

// --- GitHub ---

grantTest('moat grant github takes the gh CLI login, checks it with GET /user and reports the login and scopes', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	world.accepted.add(token);
	await world.fakeCli('gh', `if [ "$1 $2" = "auth token" ]; then echo '${token}'; exit 0; fi\necho "fake gh: unexpected $*" >&2; exit 1`);

	const result = await world.run(['grant', 'github']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted github (as octocat; scopes repo, read:org) from gh CLI login.\n');
	t.true(result.stderr.includes('Using the GitHub credential from gh CLI login.'), result.stderr);
	t.true(result.stderr.includes(`Saved encrypted in ${path.join(world.credentialsDirectory, 'github.enc')} (key in the key file).`), result.stderr);
	t.is(world.standIn.requests.length, 1);
	const [request] = world.standIn.requests;
	t.is(request!.method, 'GET');
	t.is(request!.url, '/user');
	t.is(request!.headers.host, 'api.github.com');
	t.is(request!.headers.authorization, `Bearer ${token}`);
});

grantTest('moat grant list shows the login, scopes and source of a grant but never its token, in the table and in --json', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	world.accepted.add(token);
	await world.fakeCli('gh', `echo '${token}'`);
	t.is((await world.run(['grant', 'github'])).code, 0);

	const table = await world.run(['grant', 'list']);
	t.is(table.code, 0, table.stderr);
	const [header, row, ...rest] = lines(table.stdout);
	t.regex(header!, /^NAME\s+PROVIDER\s+SOURCE\s+LOGIN\s+SCOPES\s+EXPIRES$/);
	t.regex(row!, /^github\s+github\s+gh CLI login\s+octocat\s+repo,read:org\s+-$/);
	t.deepEqual(rest, []);

	const json = await world.run(['grant', 'list', '--json']);
	t.is(json.code, 0, json.stderr);
	const grants = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
	t.is(grants.length, 1);
	t.like(grants[0], {name: 'github', provider: 'github', source: 'gh CLI login', login: 'octocat', scopes: ['repo', 'read:org'], expiresAt: null});
	t.false('secret' in grants[0]!, 'the JSON summary has no secret field');
});

grantTest('moat grant github uses GITHUB_TOKEN when there is no gh CLI', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	world.accepted.add(token);
	const result = await world.run(['grant', 'github'], {env: {...world.noGh, GITHUB_TOKEN: token}});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted github (as octocat; scopes repo, read:org) from GITHUB_TOKEN.\n');
	t.is(world.standIn.requests[0]?.headers.authorization, `Bearer ${token}`);
	t.like((await world.grants())[0], {name: 'github', source: 'GITHUB_TOKEN'});
});

grantTest('moat grant github without a terminal reads the token from the first line of stdin when neither gh nor the environment has one', async (t, world) => {
	const token = githubToken();
	const notTheToken = githubToken();
	world.secrets.push(token, notTheToken);
	world.accepted.add(token);
	const result = await world.run(['grant', 'github'], {env: world.noGh, stdin: `${token}\n${notTheToken}\n`});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted github (as octocat; scopes repo, read:org) from standard input.\n');
	t.deepEqual(world.standIn.requests.map(request => request.headers.authorization), [`Bearer ${token}`]);
	t.like((await world.grants())[0], {name: 'github', source: 'standard input', login: 'octocat'});
});

grantTest('moat grant github with no gh, no GITHUB_TOKEN and stdin closed exits 2 naming GITHUB_TOKEN', async (t, world) => {
	world.secrets.push(githubToken());
	const result = await world.run(['grant', 'github'], {env: world.noGh, stdin: ''});
	t.is(result.code, 2, result.stderr);
	t.is(result.stdout, '');
	t.regex(result.stderr, /^moat: No GitHub credential found, and there is no terminal to ask on\.\n/);
	t.regex(result.stderr, /Set GITHUB_TOKEN or GH_TOKEN, or pipe the token on stdin/);
	t.is(world.standIn.requests.length, 0);
	t.deepEqual(await world.grants(), []);
});

grantTest('a token GitHub rejects with 401 exits 1 with GitHub\'s reason and saves nothing', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	const result = await world.run(['grant', 'github'], {env: {...world.noGh, GITHUB_TOKEN: token}});
	t.is(result.code, 1, result.stderr);
	t.is(result.stdout, '');
	t.true(result.stderr.includes('moat: GitHub rejected the token: Bad credentials.\n'), result.stderr);
	t.regex(result.stderr, /run moat grant github again/);
	t.is(world.standIn.requests.length, 1, 'the token was checked');
	const list = await world.run(['grant', 'list']);
	t.is(list.stdout, 'No grants. Add one with moat grant github (or anthropic, claude, openai, aws, ssh).\n');
	t.deepEqual(await filesUnder(world.credentialsDirectory), []);
});

grantTest('--no-validate stores the token without any request to the provider and says it was not validated', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	const result = await world.run(['grant', 'github', '--no-validate'], {env: {...world.noGh, GITHUB_TOKEN: token}});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted github from GITHUB_TOKEN.\n');
	t.regex(result.stderr, /Not validated\./);
	t.is(world.standIn.requests.length, 0);
	t.like((await world.grants())[0], {name: 'github', login: null, scopes: [], details: {kind: 'api-key', validated: 'false'}});
});

// --- Anthropic, Claude, OpenAI ---

grantTest('moat grant anthropic takes ANTHROPIC_API_KEY and checks it with the x-api-key header', async (t, world) => {
	const key = anthropicKey();
	world.secrets.push(key);
	world.accepted.add(key);
	const result = await world.run(['grant', 'anthropic'], {env: {ANTHROPIC_API_KEY: key}});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted anthropic from ANTHROPIC_API_KEY.\n');
	t.is(world.standIn.requests.length, 1);
	const [request] = world.standIn.requests;
	t.like(request, {method: 'GET', url: '/v1/models'});
	t.is(request!.headers.host, 'api.anthropic.com');
	t.is(request!.headers['x-api-key'], key);
	t.is(request!.headers.authorization, undefined, 'an API key is not sent as a bearer token');
	t.like((await world.grants())[0], {name: 'anthropic', provider: 'anthropic', source: 'ANTHROPIC_API_KEY'});
});

grantTest('moat grant claude imports Claude Code\'s login file, checks it as a bearer token with the OAuth beta header, and warns that it is short-lived', async (t, world) => {
	const token = claudeToken();
	const refreshToken = `sk-ant-ort01-${randomBytes(18).toString('hex')}`;
	world.secrets.push(token, refreshToken);
	world.accepted.add(token);
	const expiresAt = Date.now() + (3 * 60 * 60 * 1000);
	await fs.mkdir(path.join(world.sandbox.userHome, '.claude'));
	await fs.writeFile(path.join(world.sandbox.userHome, '.claude', '.credentials.json'), JSON.stringify({
		claudeAiOauth: {accessToken: token, refreshToken, expiresAt, scopes: ['user:inference'], subscriptionType: 'max'},
	}));

	const result = await world.run(['grant', 'claude']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, `Granted claude (expires ${new Date(expiresAt).toISOString()}) from ~/.claude/.credentials.json.\n`);
	t.regex(result.stderr, /moat: note: .*short-lived.*run claude setup-token/);
	t.is(world.standIn.requests.length, 1);
	const [request] = world.standIn.requests;
	t.like(request, {method: 'GET', url: '/v1/models'});
	t.is(request!.headers.host, 'api.anthropic.com');
	t.is(request!.headers.authorization, `Bearer ${token}`);
	t.regex(String(request!.headers['anthropic-beta']), /\boauth-\d{4}-\d{2}-\d{2}\b/);
	t.is(request!.headers['x-api-key'], undefined);
	t.like((await world.grants())[0], {name: 'claude', source: '~/.claude/.credentials.json', expiresAt: new Date(expiresAt).toISOString()});
});

grantTest('an expired Claude Code login is refused with exit 2 and the claude setup-token fix, before any request', async (t, world) => {
	const token = claudeToken();
	world.secrets.push(token);
	world.accepted.add(token);
	const expiresAt = Date.now() - (60 * 1000);
	await fs.mkdir(path.join(world.sandbox.userHome, '.claude'));
	await fs.writeFile(path.join(world.sandbox.userHome, '.claude', '.credentials.json'), JSON.stringify({claudeAiOauth: {accessToken: token, expiresAt}}));

	const result = await world.run(['grant', 'claude']);
	t.is(result.code, 2, result.stderr);
	t.is(result.stdout, '');
	t.true(result.stderr.includes(`from ~/.claude/.credentials.json expired at ${new Date(expiresAt).toISOString()}.`), result.stderr);
	t.regex(result.stderr, /Run claude setup-token for a long-lived token/);
	t.is(world.standIn.requests.length, 0);
	t.deepEqual(await world.grants(), []);
});

grantTest('moat grant openai takes the API key from Codex\'s ~/.codex/auth.json and checks it as a bearer token', async (t, world) => {
	const key = openaiKey();
	world.secrets.push(key);
	world.accepted.add(key);
	await fs.mkdir(path.join(world.sandbox.userHome, '.codex'));
	await fs.writeFile(path.join(world.sandbox.userHome, '.codex', 'auth.json'), JSON.stringify({OPENAI_API_KEY: key, tokens: null}));

	const result = await world.run(['grant', 'openai']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted openai from ~/.codex/auth.json (API key).\n');
	t.is(world.standIn.requests.length, 1);
	const [request] = world.standIn.requests;
	t.like(request, {method: 'GET', url: '/v1/models'});
	t.is(request!.headers.host, 'api.openai.com');
	t.is(request!.headers.authorization, `Bearer ${key}`);
	t.like((await world.grants())[0], {name: 'openai', source: '~/.codex/auth.json (API key)'});
});

grantTest('moat grant codex is accepted as the openai grant', async (t, world) => {
	const key = openaiKey();
	world.secrets.push(key);
	world.accepted.add(key);
	const result = await world.run(['grant', 'codex'], {env: {OPENAI_API_KEY: key}});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted openai from OPENAI_API_KEY.\n');
	t.is(world.standIn.requests[0]?.headers.authorization, `Bearer ${key}`);
	const grants = await world.grants();
	t.deepEqual(grants.map(grant => [grant.name, grant.provider]), [['openai', 'openai']]);
	const revoke = await world.run(['revoke', 'codex']);
	t.is(revoke.code, 0, revoke.stderr);
	t.is(revoke.stdout, 'Revoked openai.\n');
});

// --- Bad input ---

grantTest('a malformed GitHub token exits 2 without echoing it and without a request', async (t, world) => {
	const token = `not-a-token-${randomBytes(8).toString('hex')}`;
	world.secrets.push(token);
	const result = await world.run(['grant', 'github'], {env: {...world.noGh, GITHUB_TOKEN: token}});
	t.is(result.code, 2, result.stderr);
	t.regex(result.stderr, /^moat: That GitHub token does not look right: it is not a GitHub token \(they start with ghp_/m);
	t.is(world.standIn.requests.length, 0);
	t.deepEqual(await world.grants(), []);
});

grantTest('an unknown provider exits 2 and suggests the nearest one', async (t, world) => {
	world.secrets.push(githubToken());
	const result = await world.run(['grant', 'githb']);
	t.is(result.code, 2, result.stderr);
	t.is(result.stdout, '');
	t.is(lines(result.stderr)[0], 'moat: Unknown provider "githb".');
	t.regex(lines(result.stderr)[1]!, /^Did you mean github\? Providers: github, anthropic, claude, openai/);
});

grantTest('moat revoke of a grant that does not exist exits 4', async (t, world) => {
	world.secrets.push(githubToken());
	const result = await world.run(['revoke', 'github']);
	t.is(result.code, 4, result.stderr);
	t.is(lines(result.stderr)[0], 'moat: There is no github grant to revoke.');
	t.regex(result.stderr, /moat grant list/);
});

grantTest('moat revoke deletes the grant: exit 0, then grant list is empty and the file is gone', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	t.is((await world.run(['grant', 'github', '--no-validate'], {env: {...world.noGh, GITHUB_TOKEN: token}})).code, 0);
	t.is((await world.grants()).length, 1);

	const result = await world.run(['revoke', 'github']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Revoked github.\n');
	t.deepEqual(await world.grants(), []);
	t.deepEqual(await filesUnder(world.credentialsDirectory), []);
});

// --- The store fails closed ---

grantTest('a tampered credentials file makes moat grant list exit 1 naming the grant and telling the user to grant it again', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	t.is((await world.run(['grant', 'github', '--no-validate'], {env: {...world.noGh, GITHUB_TOKEN: token}})).code, 0);
	const file = path.join(world.credentialsDirectory, 'github.enc');
	const box = JSON.parse(await fs.readFile(file, 'utf8')) as {ciphertext: string};
	const bytes = Buffer.from(box.ciphertext, 'base64');
	bytes[0] = bytes[0]! ^ 0x01;
	await fs.writeFile(file, JSON.stringify({...box, ciphertext: bytes.toString('base64')}));

	const result = await world.run(['grant', 'list']);
	t.is(result.code, 1, result.stderr);
	t.is(result.stdout, '');
	t.true(lines(result.stderr)[0]!.startsWith(`moat: Cannot decrypt the github grant (${file})`), result.stderr);
	t.is(lines(result.stderr)[1], 'Run moat grant github again.');
});

for (const length of [4, 15]) {
	grantTest(`a credentials file whose authentication tag was cut to ${length} bytes makes moat grant list exit 1 naming the grant`, async (t, world) => {
		const token = githubToken();
		world.secrets.push(token);
		t.is((await world.run(['grant', 'github', '--no-validate'], {env: {...world.noGh, GITHUB_TOKEN: token}})).code, 0);
		const file = path.join(world.credentialsDirectory, 'github.enc');
		const box = JSON.parse(await fs.readFile(file, 'utf8')) as {tag: string};
		await fs.writeFile(file, JSON.stringify({...box, tag: Buffer.from(box.tag, 'base64').subarray(0, length).toString('base64')}));

		const result = await world.run(['grant', 'list']);
		t.is(result.code, 1, result.stderr);
		t.is(result.stdout, '');
		t.true(lines(result.stderr)[0]!.startsWith(`moat: Cannot decrypt the github grant (${file}): the file was changed`), result.stderr);
		t.is(lines(result.stderr)[1], 'Run moat grant github again.');
	});
}

grantTest('a replaced encryption.key makes moat grant list exit 1 naming the grant and telling the user to grant it again', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	t.is((await world.run(['grant', 'github', '--no-validate'], {env: {...world.noGh, GITHUB_TOKEN: token}})).code, 0);
	await fs.writeFile(path.join(world.sandbox.moatHome, 'encryption.key'), randomBytes(32).toString('base64') + '\n', {mode: 0o600});

	const result = await world.run(['grant', 'list']);
	t.is(result.code, 1, result.stderr);
	t.true(lines(result.stderr)[0]!.startsWith('moat: Cannot decrypt the github grant'), result.stderr);
	t.regex(lines(result.stderr)[0]!, /encryption key is not the one it was saved with/);
	t.is(lines(result.stderr)[1], 'Run moat grant github again.');
});

grantTest('a grant whose file cannot be decrypted can still be revoked', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	t.is((await world.run(['grant', 'github', '--no-validate'], {env: {...world.noGh, GITHUB_TOKEN: token}})).code, 0);
	await fs.writeFile(path.join(world.sandbox.moatHome, 'encryption.key'), randomBytes(32).toString('base64') + '\n', {mode: 0o600});

	const result = await world.run(['revoke', 'github']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Revoked github.\n');
	t.deepEqual(await world.grants(), []);
});

grantTest('the credentials directory is 0700 and the grant file and encryption.key are 0600', async (t, world) => {
	const token = githubToken();
	world.secrets.push(token);
	t.is((await world.run(['grant', 'github', '--no-validate'], {env: {...world.noGh, GITHUB_TOKEN: token}})).code, 0);
	const mode = async (file: string) => ((await fs.stat(file)).mode & 0o777).toString(8);
	t.is(await mode(world.credentialsDirectory), '700');
	t.is(await mode(path.join(world.credentialsDirectory, 'github.enc')), '600');
	t.is(await mode(path.join(world.sandbox.moatHome, 'encryption.key')), '600');
});

// --- SSH ---

type AgentKey = {comment: string; fingerprint: string; privateKeyLines: string[]};
type SshAgent = {socket: string; keys: AgentKey[]};

async function requireProgram(name: string): Promise<void> {
	try {
		await execFileAsync('sh', ['-c', `command -v ${name}`]);
	} catch {
		throw new Error(`${name} is not installed; the SSH grant tests need OpenSSH's client tools (on Debian: apt-get install openssh-client).`);
	}
}

/** A real ssh-agent on its own socket, holding two fresh ed25519 keys added in order. */
async function startSshAgent(t: ExecutionContext, comments: readonly string[] = ['first@moat-test', 'second@moat-test']): Promise<SshAgent> {
	for (const program of ['ssh-agent', 'ssh-add', 'ssh-keygen']) {
		await requireProgram(program);
	}

	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-agent-'));
	const socket = path.join(directory, 'agent.sock');
	const agent: ChildProcess = spawn('ssh-agent', ['-a', socket, '-D'], {stdio: 'ignore'});
	t.teardown(async () => {
		agent.kill();
		await fs.rm(directory, {recursive: true, force: true});
	});
	let failure: Error | undefined;
	agent.on('error', error => {
		failure = error;
	});
	await eventually(async () => {
		if (failure) {
			throw new Error(`ssh-agent did not start: ${failure.message}`);
		}

		return fs.stat(socket).then(() => true, () => false);
	});

	const keys: AgentKey[] = [];
	for (const [index, comment] of comments.entries()) {
		const file = path.join(directory, `key-${index}`);
		await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
		await execFileAsync('ssh-add', [file], {env: {...process.env, SSH_AUTH_SOCK: socket}});
		const fingerprint = (await execFileAsync('ssh-keygen', ['-lf', `${file}.pub`])).stdout.split(' ')[1]!;
		const privateKeyLines = lines(await fs.readFile(file, 'utf8')).filter(line => !line.startsWith('-----'));
		keys.push({comment, fingerprint, privateKeyLines});
	}

	return {socket, keys};
}

grantTest('moat grant ssh --host maps the SSH agent\'s first key to the host, and no private key text reaches MOAT_HOME', async (t, world) => {
	const agent = await startSshAgent(t);
	world.secrets.push(...agent.keys.flatMap(key => key.privateKeyLines));
	const result = await world.run(['grant', 'ssh', '--host', 'github.com'], {env: {SSH_AUTH_SOCK: agent.socket}});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted ssh:github.com from SSH agent key first@moat-test.\n');
	t.true(result.stderr.includes(`Saved encrypted in ${path.join(world.credentialsDirectory, 'ssh.enc')}`), result.stderr);
	t.false(/not validated/i.test(result.stderr));

	const [grant, ...others] = await world.grants();
	t.deepEqual(others, []);
	t.like(grant, {name: 'ssh:github.com', provider: 'ssh', details: {host: 'github.com', fingerprint: agent.keys[0]!.fingerprint, type: 'ssh-ed25519', comment: 'first@moat-test'}});
	const table = await world.run(['grant', 'list']);
	t.regex(lines(table.stdout)[1]!, /^ssh:github\.com\s+ssh\s+SSH agent key first@moat-test\s+-\s+-\s+-$/);
	t.true((await filesUnder(world.sandbox.moatHome)).length > 0, 'there are files to search');
});

grantTest('moat grant ssh --key with a fingerprint picks that key from the agent', async (t, world) => {
	const agent = await startSshAgent(t);
	world.secrets.push(...agent.keys.flatMap(key => key.privateKeyLines));
	const second = agent.keys[1]!;
	const result = await world.run(['grant', 'ssh', '--host', 'github.com', '--key', second.fingerprint], {env: {SSH_AUTH_SOCK: agent.socket}});
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Granted ssh:github.com from SSH agent key second@moat-test.\n');
	const grants = await world.grants();
	t.deepEqual(grants.map(grant => [grant.name, grant.details.fingerprint]), [['ssh:github.com', second.fingerprint]]);
});

grantTest('moat grant ssh --key naming no key in the agent exits 2 and lists the agent\'s fingerprints', async (t, world) => {
	const agent = await startSshAgent(t);
	world.secrets.push(...agent.keys.flatMap(key => key.privateKeyLines));
	const result = await world.run(['grant', 'ssh', '--host', 'github.com', '--key', 'SHA256:doesnotexist'], {env: {SSH_AUTH_SOCK: agent.socket}});
	t.is(result.code, 2, result.stderr);
	t.is(lines(result.stderr)[0], 'moat: The SSH agent has no key matching "SHA256:doesnotexist".');
	for (const key of agent.keys) {
		t.true(result.stderr.includes(`${key.fingerprint} (${key.comment})`), result.stderr);
	}

	t.deepEqual(await world.grants(), []);
});

grantTest('moat grant ssh with no SSH_AUTH_SOCK exits 1 saying there is no SSH agent', async (t, world) => {
	world.secrets.push(githubToken());
	const result = await world.run(['grant', 'ssh', '--host', 'github.com']);
	t.is(result.code, 1, result.stderr);
	t.is(lines(result.stderr)[0], 'moat: No SSH agent: SSH_AUTH_SOCK is not set.');
	t.regex(lines(result.stderr)[1]!, /ssh-add/);
});

grantTest('moat grant ssh without --host exits 2', async (t, world) => {
	const agent = await startSshAgent(t);
	world.secrets.push(...agent.keys.flatMap(key => key.privateKeyLines));
	const result = await world.run(['grant', 'ssh'], {env: {SSH_AUTH_SOCK: agent.socket}});
	t.is(result.code, 2, result.stderr);
	t.is(lines(result.stderr)[0], 'moat: moat grant ssh needs --host.');
	t.deepEqual(await world.grants(), []);
});

// --- The wizard on a real terminal ---

grantTest('moat grant with no provider on a terminal opens the wizard; a typed OpenAI key shows only asterisks, is validated and is listed', async (t, world) => {
	const key = openaiKey();
	world.secrets.push(key);
	world.accepted.add(key);
	const session = await TmuxSession.start(['grant'], {env: world.env, columns: 120, rows: 24});
	t.teardown(async () => {
		await session.kill();
	});
	const screens: string[] = [];
	const waitFor = async (condition: string | RegExp) => {
		const screen = await session.waitFor(condition);
		screens.push(screen);
		return screen;
	};

	await waitFor('Which credential should runs be able to use?');
	await rawModeOn(session);
	await session.keys('Down', 'Down', 'Down');
	await waitFor('› OpenAI / Codex');
	await session.keys('Enter');
	await waitFor('› Enter a token');
	await session.keys('Enter');
	await waitFor('OpenAI / Codex token');
	await session.type(key);
	const typed = await waitFor(`> ${'*'.repeat(key.length)}`);
	t.false(typed.includes(key.slice(3)), 'the key is not on the screen');
	await session.keys('Enter');
	const done = await waitFor('✓ Granted openai');
	t.true(done.includes('✓ Granted openai from entered token.'), done);
	t.true(done.replaceAll('\n', '').includes(path.join(world.credentialsDirectory, 'openai.enc')), done);
	await session.keys('Enter');
	t.is(await session.exitCode(), 0);
	const after = await session.screen();
	screens.push(after);
	world.outputs.push(...screens);
	t.regex(after, /^Granted openai from entered token\.$/m, 'what was saved stays on the screen after the wizard');
	t.true(after.replaceAll('\n', '').includes(`Saved encrypted in ${path.join(world.credentialsDirectory, 'openai.enc')} (key in the key file).`), after);

	t.deepEqual(world.standIn.requests.map(request => [request.headers.host, request.url, request.headers.authorization]), [['api.openai.com', '/v1/models', `Bearer ${key}`]]);
	const list = await world.run(['grant', 'list']);
	t.regex(lines(list.stdout)[1]!, /^openai\s+openai\s+entered token\s+-\s+-\s+-$/);
});

for (const [how, keys, code] of [['q', ['q'], 1], ['Ctrl+C', ['C-c'], 130]] as const) {
	grantTest(`leaving the grant wizard with ${how} says no grant was saved and exits ${code}`, async (t, world) => {
		// Nothing is typed: any value in the world must still never be printed.
		world.secrets.push(githubToken());
		const session = await TmuxSession.start(['grant'], {env: world.env, columns: 120, rows: 24});
		t.teardown(async () => {
			await session.kill();
		});
		await session.waitFor('Which credential should runs be able to use?');
		await rawModeOn(session);
		await session.keys(...keys);
		t.is(await session.exitCode(), code);
		const screen = await session.screen();
		world.outputs.push(screen);
		t.regex(screen, /^No grant saved\.\nEXITED/m);
		t.false(screen.includes('Which credential should runs be able to use?'), 'the wizard\'s frame is gone');
		t.deepEqual(await world.grants(), []);
	});
}

grantTest('the grant wizard grants a key the real SSH agent holds for a typed host (a bad host said in place first), and moat grant list shows it', async (t, world) => {
	const agent = await startSshAgent(t);
	world.secrets.push(...agent.keys.flatMap(key => key.privateKeyLines));
	const second = agent.keys[1]!;
	const session = await TmuxSession.start(['grant'], {env: {...world.env, SSH_AUTH_SOCK: agent.socket}, columns: 120, rows: 24});
	t.teardown(async () => {
		await session.kill();
	});
	const screens: string[] = [];
	const waitFor = async (condition: string | RegExp | ((screen: string) => boolean)) => {
		const screen = await session.waitFor(condition);
		screens.push(screen);
		return screen;
	};

	await waitFor('Which credential should runs be able to use?');
	await rawModeOn(session);
	await session.keys('Down', 'Down', 'Down', 'Down', 'Down');
	await waitFor('› SSH key');
	await session.keys('Enter');
	const list = await waitFor('Which key of your SSH agent?');
	for (const key of agent.keys) {
		t.true(list.includes(`${key.comment}  ${key.fingerprint} (ssh-ed25519)`), list);
	}

	await session.keys('Down');
	await waitFor(`› ${second.comment}`);
	await session.keys('Enter');
	await waitFor(`Which host may the key ${second.comment} be used for?`);
	await session.type('git@github.com');
	await waitFor('> git@github.com');
	await session.keys('Enter');
	const refused = await waitFor('✕');
	t.true(refused.includes('✕ "git@github.com" is not a host name.'), refused);
	t.deepEqual(await world.grants(), [], 'nothing is saved for a bad host');

	await session.keys(...Array.from({length: 'git@github.com'.length}, () => 'BSpace'));
	await waitFor(screen => /^\s*>\s*$/m.test(screen) && !screen.includes('✕'));
	await session.type('github.com');
	await waitFor('> github.com');
	await session.keys('Enter');
	const done = await waitFor('✓ Granted');
	t.true(done.includes(`✓ Granted ssh:github.com from SSH agent key ${second.comment}.`), done);
	await session.keys('Enter');
	t.is(await session.exitCode(), 0);
	const after = await session.screen();
	screens.push(after);
	world.outputs.push(...screens);
	t.regex(after, new RegExp(`^Granted ssh:github\\.com from SSH agent key ${second.comment}\\.$`, 'm'), 'moat grant ssh\'s line stays on the screen');
	t.true(after.replaceAll('\n', '').includes(`Saved encrypted in ${path.join(world.credentialsDirectory, 'ssh.enc')} (key in the key file).`), after);

	const list2 = await world.run(['grant', 'list']);
	t.regex(lines(list2.stdout)[1]!, new RegExp(`^ssh:github\\.com\\s+ssh\\s+SSH agent key ${second.comment}\\s+-\\s+-\\s+-$`));
	t.deepEqual((await world.grants()).map(grant => [grant.name, grant.details.fingerprint]), [['ssh:github.com', second.fingerprint]]);
});

for (const [what, agentFor, message, fix] of [
	['an SSH agent that holds no key', async (t: ExecutionContext) => (await startSshAgent(t, [])).socket, /✕ The SSH agent holds no keys\./, /Add one with ssh-add, then try again\./],
	['no SSH agent at SSH_AUTH_SOCK', async () => path.join(os.tmpdir(), `moat-no-agent-${randomBytes(4).toString('hex')}.sock`), /✕ Cannot talk to the SSH agent at \S+: /, /Check that ssh-agent is running \(ssh-add -l\)/],
] as const) {
	grantTest(`with ${what}, the grant wizard's SSH step says so with the fix; esc goes back and q leaves with no grant`, async (t, world) => {
		world.secrets.push(githubToken());
		const session = await TmuxSession.start(['grant'], {env: {...world.env, SSH_AUTH_SOCK: await agentFor(t)}, columns: 160, rows: 24});
		t.teardown(async () => {
			await session.kill();
		});
		await session.waitFor('Which credential should runs be able to use?');
		await rawModeOn(session);
		await session.keys('Down', 'Down', 'Down', 'Down', 'Down');
		await session.waitFor('› SSH key');
		await session.keys('Enter');
		const said = await session.waitFor('✕');
		world.outputs.push(said);
		t.regex(said, message);
		t.regex(said, fix);
		t.false(said.includes('›'), 'no key to choose');
		await session.keys('Escape');
		await session.waitFor('› GitHub');
		await session.keys('q');
		t.is(await session.exitCode(), 1);
		t.regex(await session.screen(), /^No grant saved\.\nEXITED/m);
		t.deepEqual(await world.grants(), []);
	});
}
