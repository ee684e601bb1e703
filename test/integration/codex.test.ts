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

type Recorded = {method: string; url: string; authorization?: string; upgrade?: string; body: string};

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
	const world = {answer: `Codex stand-in answer ${randomBytes(4).toString('hex')}.`};
	const standIn = await startHttpsStandIn(['api.openai.com', 'chatgpt.com'], (request: IncomingMessage, response: ServerResponse) => {
		let body = '';
		request.on('data', (chunk: Buffer) => {
			body += String(chunk);
		});
		request.on('end', () => {
			requests.push({method: request.method ?? '', url: request.url ?? '', authorization: request.headers.authorization, upgrade: request.headers.upgrade, body});
			if (request.method === 'POST' && (request.url ?? '').startsWith('/v1/responses')) {
				answerResponses(response, world.answer);
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
		MOAT_UPSTREAM_OVERRIDES: `api.openai.com=127.0.0.1:${standIn.port},chatgpt.com=127.0.0.1:${standIn.port}`,
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
		// eslint-disable-next-line no-await-in-loop
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
