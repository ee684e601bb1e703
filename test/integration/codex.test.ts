import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import type {IncomingMessage, ServerResponse} from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import type {NetworkEntry} from '../../source/proxy/proxy-server.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {startHttpsStandIn, writeTrustBundle} from '../helpers/https-stand-in.js';
import {auditRecordsOf, createSandbox, createWorkspace, destroyRuns, listRuns, moat, networkEntriesOf} from '../helpers/moat.js';

/**
 * The real Codex CLI in a bottle against a stand-in for the OpenAI
 * Responses API (SSE), reached through MOAT_UPSTREAM_OVERRIDES. Codex first
 * tries a WebSocket to /v1/responses; the stand-in refuses it and Codex
 * falls back to HTTPS, which is also what shows the proxy injects on both.
 */

type Recorded = {host: string; method: string; url: string; authorization?: string; account?: string; upgrade?: string; body: string};

function answerResponses(response: ServerResponse, text: string) {
	response.setHeader('content-type', 'text/event-stream');
	const send = (event: Record<string, unknown>) => response.write(`event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`);
	const item = {id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{type: 'output_text', text, annotations: []}]};
	send({type: 'response.created', response: {id: 'resp_1', object: 'response', status: 'in_progress', output: []}});
	send({type: 'response.output_item.added', output_index: 0, item: {...item, status: 'in_progress', content: []}});
	send({type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: text});
	send({type: 'response.output_item.done', output_index: 0, item});
	send({type: 'response.completed', response: {id: 'resp_1', object: 'response', status: 'completed', output: [item], usage: {input_tokens: 1, output_tokens: 5, total_tokens: 6, input_tokens_details: {cached_tokens: 0}, output_tokens_details: {reasoning_tokens: 0}}}});
	response.end();
}

async function createWorld(t: ExecutionContext) {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'README.md': '# a project\n'});
	const requests: Recorded[] = [];
	const world = {answer: `Codex stand-in answer ${randomBytes(4).toString('hex')}.`, account: 'none', expired: 0};
	const standIn = await startHttpsStandIn(['api.openai.com', 'chatgpt.com', 'auth.openai.com'], (request: IncomingMessage, response: ServerResponse) => {
		let body = '';
		request.on('data', (chunk: Buffer) => {
			body += String(chunk);
		});
		request.on('end', () => {
			const url = request.url ?? '';
			requests.push({host: request.headers.host ?? '', method: request.method ?? '', url, authorization: request.headers.authorization, account: request.headers['chatgpt-account-id'] as string | undefined, upgrade: request.headers.upgrade, body});
			// ChatGPT's backend: the first answers can say the access token expired, as after a long pause.
			if (request.method === 'POST' && url.startsWith('/backend-api/codex/responses') && world.expired > 0) {
				world.expired--;
				response.writeHead(401, {'content-type': 'application/json'}).end('{"error":{"message":"token expired","code":"token_expired"}}');
				return;
			}

			if (request.method === 'POST' && (url.startsWith('/v1/responses') || url.startsWith('/backend-api/codex/responses'))) {
				answerResponses(response, world.answer);
				return;
			}

			// Codex's workspace routing: the signed-in account must be one of the user's workspaces.
			if (url.startsWith('/backend-api/wham/accounts/check')) {
				response.setHeader('content-type', 'application/json');
				response.end(JSON.stringify({accounts: [{id: world.account, name: null, structure: 'personal', plan_type: 'plus', is_deactivated: false, can_access_with_session: true, workspace_backend_origin: 'https://chatgpt.com', account_routing_override: 'NO_CONSTRAINT'}], account_ordering: [world.account]}));
				return;
			}

			response.setHeader('content-type', 'application/json');
			response.end('{"data":[],"models":[]}');
		});
	});
	const env: Record<string, string> = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		MOAT_CACHE_DIR: path.join(os.tmpdir(), 'moat-test-agent-cache'),
		MOAT_UPSTREAM_OVERRIDES: ['api.openai.com', 'chatgpt.com', 'auth.openai.com'].map(host => `${host}=127.0.0.1:${standIn.port}`).join(','),
		NODE_EXTRA_CA_CERTS: await writeTrustBundle(path.join(path.dirname(sandbox.moatHome), 'trust.pem'), [standIn.caFile]),
	};
	for (const name of ['OPENAI_API_KEY', 'GITHUB_TOKEN', 'GH_TOKEN', 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN']) {
		delete env[name];
	}

	t.teardown(async () => {
		await destroyRuns(env);
		await sandbox.cleanup();
		await standIn.close();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {world, sandbox, workspace, env, requests, run: async (args: readonly string[], extra: Record<string, string> = {}) => moat(args, {env: {...env, ...extra}})};
}

const apiKey = () => `sk-proj-${randomBytes(24).toString('hex')}`;

dockerTest('moat codex -p runs the real Codex in a bottle: it prints the stand-in\'s answer, the key is injected on the WebSocket and HTTPS requests and found nowhere else, and -c continues in a new bottle', async t => {
	const {world, sandbox, workspace, requests, run} = await createWorld(t);
	const key = apiKey();
	const granted = await run(['grant', 'openai', '--no-validate'], {OPENAI_API_KEY: key, PATH: '/usr/bin:/bin'});
	t.is(granted.code, 0, granted.stderr);

	const first = await run(['codex', workspace, '-p', 'say hi']);
	t.is(first.code, 0, first.stderr);
	t.is(first.stdout, `${world.answer}\n`);
	const posts = requests.filter(request => request.method === 'POST' && request.url.startsWith('/v1/responses'));
	t.true(posts.length > 0, 'Codex reached the Responses API');
	t.true(posts.some(request => request.body.includes('say hi')));
	const toOpenAi = requests.filter(request => request.url.startsWith('/v1/'));
	t.true(toOpenAi.every(request => request.authorization === `Bearer ${key}`), 'every API request carried the real key, never the placeholder');
	t.true(toOpenAi.some(request => request.upgrade === 'websocket'), 'the WebSocket attempts carried it too');
	for (const output of [first.stdout, first.stderr]) {
		t.false(output.includes(key));
	}

	const [latest] = (await listRuns<RunMetadata>({...sandbox.env, MOAT_HOME: sandbox.moatHome})).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
	t.is(latest!.agent, 'codex');
	t.deepEqual(latest!.grants, ['openai']);
	// Codex's notify reported the finished turn through the proxy.
	t.is(latest!.activity?.state, 'waiting');
	const network = await networkEntriesOf<NetworkEntry>(sandbox.moatHome, latest!.id);
	t.true(network.some(entry => entry.method === 'POST' && entry.url.startsWith('https://api.openai.com/v1/responses') && entry.grant === 'openai'));
	t.true((await auditRecordsOf(sandbox.moatHome, latest!.id)).some(record => record.type === 'credential.injected' && record.data.host === 'api.openai.com'));

	world.answer = 'The second answer.';
	const second = await run(['codex', workspace, '-c', '-p', 'and again']);
	t.is(second.code, 0, second.stderr);
	t.is(second.stdout, 'The second answer.\n');
	const continued = requests.filter(request => request.method === 'POST' && request.body.includes('and again'));
	t.true(continued.some(request => request.body.includes('say hi') && request.body.includes('Codex stand-in answer')), 'the second bottle sent the first turn along');

	const listed = await run(['codex', 'sessions', '--json']);
	t.is(listed.code, 0, listed.stderr);
	const sessions = JSON.parse(listed.stdout) as Array<{id: string; runId: string; workspace: string}>;
	t.is(sessions.length, 1, 'one session, continued by the second bottle');
	const [newest] = (await listRuns<RunMetadata>({...sandbox.env, MOAT_HOME: sandbox.moatHome})).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
	t.like(sessions[0], {runId: newest!.id, workspace: await fs.realpath(workspace)});

	const files = await fs.readdir(sandbox.moatHome, {recursive: true, withFileTypes: true});
	for (const file of files.filter(entry => entry.isFile() && !(entry.parentPath.endsWith('credentials') && entry.name.endsWith('.enc')))) {
		t.false((await fs.readFile(path.join(file.parentPath, file.name), 'utf8')).includes(key), `${file.name} holds the key`);
	}
});

dockerTest('moat codex without an openai grant exits 4 with the command to run, and starts nothing', async t => {
	const {workspace, run, env} = await createWorld(t);
	const result = await run(['codex', workspace, '-p', 'say hi']);
	t.is(result.code, 4);
	t.is(result.stderr, 'moat: Codex needs an OpenAI credential, and none is granted.\nRun moat grant openai (an API key, or your codex login), then try again.\n');
	t.deepEqual(await listRuns(env), []);
});

/** A ChatGPT login as `codex login` leaves it in ~/.codex/auth.json: JWTs naming the account, and a refresh token. */
function chatgptLogin(account: string) {
	const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
	const signature = randomBytes(32).toString('base64url');
	const claims = {
		exp: Math.floor(Date.now() / 1000) + (10 * 24 * 3600),
		iat: Math.floor(Date.now() / 1000),
		iss: 'https://auth.openai.com',
		sub: 'user-moat-test',
		'https://api.openai.com/auth': {chatgpt_account_id: account, chatgpt_plan_type: 'plus', chatgpt_user_id: 'user-moat-test', user_id: 'user-moat-test'},
		'https://api.openai.com/profile': {email: 'dev@example.com', email_verified: true},
	};
	const accessToken = `${encode({alg: 'RS256', typ: 'JWT', kid: 'test'})}.${encode(claims)}.${signature}`;
	const refreshToken = `rt_${randomBytes(24).toString('hex')}`;
	return {
		signature,
		accessToken,
		refreshToken,
		authJson: JSON.stringify({OPENAI_API_KEY: null, tokens: {id_token: accessToken, access_token: accessToken, refresh_token: refreshToken, account_id: account}, last_refresh: new Date().toISOString()}),
	};
}

dockerTest('moat codex with a ChatGPT login: Codex signs in from a placeholder auth.json, chatgpt.com gets the real token, and a refresh is answered by moat so the host stays signed in', async t => {
	const {world, sandbox, workspace, requests, run} = await createWorld(t);
	world.account = `acct-${randomBytes(6).toString('hex')}`;
	const login = chatgptLogin(world.account);
	await fs.mkdir(path.join(sandbox.userHome, '.codex'));
	await fs.writeFile(path.join(sandbox.userHome, '.codex', 'auth.json'), login.authJson, {mode: 0o600});
	const granted = await run(['grant', 'openai'], {PATH: '/usr/bin:/bin'});
	t.is(granted.code, 0, granted.stderr);
	t.regex(granted.stderr, /ChatGPT login/);

	// The backend says the token expired once: Codex refreshes, and moat answers.
	world.expired = 3;
	const result = await run(['codex', workspace, '-p', 'say hi']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, `${world.answer}\n`);

	const toBackend = requests.filter(request => request.host.startsWith('chatgpt.com'));
	// (Codex compresses these bodies with zstd, which Node 20 cannot read: the answer printed shows the turn went through.)
	t.true(toBackend.some(request => request.method === 'POST' && request.url.startsWith('/backend-api/codex/responses')), 'Codex used the ChatGPT backend');
	t.true(toBackend.every(request => request.authorization === `Bearer ${login.accessToken}`), 'every backend request carried the real token');
	t.true(toBackend.filter(request => request.account !== undefined).every(request => request.account === world.account));
	t.deepEqual(requests.filter(request => request.url.startsWith('/v1/')), [], 'no API-key requests: the bottle had no OPENAI_API_KEY');
	t.deepEqual(requests.filter(request => request.host.startsWith('auth.openai.com')), [], 'no refresh reached auth.openai.com');
	t.is(world.expired, 0, 'the expired answer was given');

	const [latest] = await listRuns<RunMetadata>({...sandbox.env, MOAT_HOME: sandbox.moatHome});
	const network = await networkEntriesOf<NetworkEntry>(sandbox.moatHome, latest!.id);
	t.true(network.some(entry => entry.method === 'POST' && entry.url === 'https://auth.openai.com/oauth/token' && entry.status === 200 && entry.grant === 'openai'), 'Codex refreshed, and moat answered');
	t.true(network.some(entry => entry.url.startsWith('https://chatgpt.com/backend-api/codex/responses') && entry.grant === 'openai'));

	// The host's login is as it was; the real token and refresh token are nowhere moat writes.
	t.is(await fs.readFile(path.join(sandbox.userHome, '.codex', 'auth.json'), 'utf8'), login.authJson);
	for (const output of [result.stdout, result.stderr, granted.stdout, granted.stderr]) {
		t.false(output.includes(login.signature));
	}

	const files = await fs.readdir(sandbox.moatHome, {recursive: true, withFileTypes: true});
	const authFiles = files.filter(entry => entry.isFile() && entry.name === 'auth.json');
	t.is(authFiles.length, 1, 'the bottle had a placeholder auth.json');
	const placeholder = JSON.parse(await fs.readFile(path.join(authFiles[0]!.parentPath, 'auth.json'), 'utf8')) as {tokens: Record<string, string>};
	t.is(placeholder.tokens.account_id, world.account);
	for (const file of files.filter(entry => entry.isFile() && !(entry.parentPath.endsWith('credentials') && entry.name.endsWith('.enc')))) {
		const text = await fs.readFile(path.join(file.parentPath, file.name), 'utf8');
		t.false(text.includes(login.signature), `${file.name} holds the real token`);
		t.false(text.includes(login.refreshToken), `${file.name} holds the refresh token`);
	}
});
