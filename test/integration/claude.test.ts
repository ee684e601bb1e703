import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import type {IncomingHttpHeaders, IncomingMessage, ServerResponse} from 'node:http';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {anthropicOauthBeta} from '../../source/credentials/providers/claude.js';
import type {NetworkEntry} from '../../source/proxy/proxy-server.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {startHttpsStandIn, writeTrustBundle, type HttpsStandIn} from '../helpers/https-stand-in.js';
import {auditRecordsOf, createSandbox, createWorkspace, destroyRuns, docker, eventually, listRuns, moat, networkEntriesOf, type AuditRecord, type MoatResult, type Sandbox} from '../helpers/moat.js';
import {TmuxSession} from '../helpers/tmux.js';

/**
 * `moat claude` end to end (README: Claude Code in a bottle, The network): the real Claude Code, installed
 * by moat into its cache and mounted into a real bottle, talks to
 * https://api.anthropic.com through moat's proxy. api.anthropic.com is a
 * local stand-in reached through MOAT_UPSTREAM_OVERRIDES that answers
 * /v1/messages like the Messages API (JSON, or SSE when asked to stream)
 * and everything else with `{}`; it records each request whole, so the
 * tests see what Claude Code sent and what the proxy added.
 *
 * MOAT_CACHE_DIR is one folder shared by every test (and every run of this
 * file), so Claude Code is installed once per machine, not once per test.
 */

const agentCache = path.join(os.tmpdir(), 'moat-test-agent-cache');

// --- The stand-in for api.anthropic.com ---

type ApiRequest = {method: string; url: string; headers: IncomingHttpHeaders; body: string};

type MessagesBody = {model?: string; stream?: boolean; messages?: unknown[]; system?: unknown};

function parseBody(body: string): MessagesBody | undefined {
	try {
		return JSON.parse(body) as MessagesBody;
	} catch {
		return undefined;
	}
}

const isMessages = (request: Pick<ApiRequest, 'method' | 'url'>) => request.method === 'POST' && /^\/v1\/messages(?:\?|$)/.test(request.url);

function sse(response: ServerResponse, events: ReadonlyArray<readonly [string, unknown]>): void {
	response.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'});
	response.end(events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join(''));
}

function answerMessages(response: ServerResponse, body: MessagesBody | undefined, text: string, id: string): void {
	const model = body?.model ?? 'claude-sonnet-4-5';
	if (body?.stream) {
		sse(response, [
			['message_start', {type: 'message_start', message: {id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: {input_tokens: 1, output_tokens: 0}}}],
			['content_block_start', {type: 'content_block_start', index: 0, content_block: {type: 'text', text: ''}}],
			['content_block_delta', {type: 'content_block_delta', index: 0, delta: {type: 'text_delta', text}}],
			['content_block_stop', {type: 'content_block_stop', index: 0}],
			['message_delta', {type: 'message_delta', delta: {stop_reason: 'end_turn', stop_sequence: null}, usage: {output_tokens: 5}}],
			['message_stop', {type: 'message_stop'}],
		]);
		return;
	}

	response.writeHead(200, {'content-type': 'application/json'});
	response.end(JSON.stringify({id, type: 'message', role: 'assistant', model, content: [{type: 'text', text}], stop_reason: 'end_turn', stop_sequence: null, usage: {input_tokens: 1, output_tokens: 5}}));
}

// --- The world of one test ---


type World = {
	sandbox: Sandbox;
	workspace: string;
	env: Record<string, string>;
	standIn: HttpsStandIn;
	/** Every request api.anthropic.com received, body included, in arrival order. */
	requests: ApiRequest[];
	/** What the stand-in answers /v1/messages with; tests change it between prompts. */
	answer: string;
	/** Answers to /v1/messages wait for this (resolved unless a test holds them). */
	hold: Promise<void>;
	/** Everything moat printed during the test. */
	outputs: string[];
	moat(args: readonly string[], extra?: Record<string, string>): Promise<MoatResult>;
	/** Stores a grant from its environment variable, unvalidated (no request is made). */
	grant(provider: 'anthropic' | 'claude', token: string): Promise<void>;
	/** The /v1/messages requests (not count_tokens), in order. */
	messages(): ApiRequest[];
	networkEntries(runId: string): Promise<NetworkEntry[]>;
	auditRecords(runId: string): Promise<AuditRecord[]>;
	runs(): Promise<RunMetadata[]>;
};

/** Variables on the developer's machine that would be found as credentials. */
const credentialVariables = ['GITHUB_TOKEN', 'GH_TOKEN', 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'OPENAI_API_KEY', 'SSH_AUTH_SOCK'];

const apiKey = () => `sk-ant-api03-${randomBytes(24).toString('hex')}`;
const oauthToken = () => `sk-ant-oat01-${randomBytes(24).toString('hex')}`;

async function createWorld(t: ExecutionContext): Promise<World> {
	const sandbox = await createSandbox();
	const root = path.dirname(sandbox.moatHome);
	const workspace = await createWorkspace(1000, 1000, {'README.md': '# a project\n'});
	const requests: ApiRequest[] = [];
	let answered = 0;
	// eslint-disable-next-line prefer-const -- declared before the stand-in's handler that reads it
	let world: World;
	const handler = (request: IncomingMessage, response: ServerResponse) => {
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			const recorded: ApiRequest = {method: request.method ?? '', url: request.url ?? '', headers: {...request.headers}, body: Buffer.concat(chunks).toString('utf8')};
			requests.push(recorded);
			if (isMessages(recorded)) {
				// A held answer lets a test see the bottle working before the answer ends.
				void world.hold.then(() => {
					answerMessages(response, parseBody(recorded.body), world.answer, `msg_standin_${++answered}`);
				});
				return;
			}

			if (recorded.method === 'POST' && recorded.url.startsWith('/v1/messages/count_tokens')) {
				response.writeHead(200, {'content-type': 'application/json'});
				response.end(JSON.stringify({input_tokens: 1}));
				return;
			}

			response.writeHead(200, {'content-type': 'application/json'});
			response.end(recorded.method === 'HEAD' ? undefined : '{}');
		});
	};

	const standIn = await startHttpsStandIn(['api.anthropic.com'], handler);
	const env: Record<string, string> = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		MOAT_CACHE_DIR: agentCache,
		MOAT_UPSTREAM_OVERRIDES: `api.anthropic.com=127.0.0.1:${standIn.port}`,
		NODE_EXTRA_CA_CERTS: await writeTrustBundle(path.join(root, 'trust-bundle.pem'), [standIn.caFile]),
	};
	for (const name of credentialVariables) {
		delete env[name];
	}

	world = {
		sandbox,
		workspace,
		env,
		standIn,
		requests,
		answer: 'Hello from the stand-in.',
		hold: Promise.resolve(),
		outputs: [],
		async moat(args, extra = {}) {
			const result = await moat(args, {env: {...env, ...extra}});
			world.outputs.push(result.stdout, result.stderr);
			return result;
		},
		async grant(provider, token) {
			const variable = provider === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'CLAUDE_CODE_OAUTH_TOKEN';
			// No claude or gh on PATH; --no-validate: no request is made.
			const result = await world.moat(['grant', provider, '--no-validate'], {[variable]: token, PATH: '/usr/bin:/bin'});
			if (result.code !== 0) {
				throw new Error(`moat grant ${provider} failed: ${result.stdout}${result.stderr}`);
			}
		},
		messages() {
			return requests.filter(request => isMessages(request));
		},
		async networkEntries(runId) {
			return networkEntriesOf<NetworkEntry>(sandbox.moatHome, runId);
		},
		async auditRecords(runId) {
			return auditRecordsOf(sandbox.moatHome, runId);
		},
		async runs() {
			return listRuns<RunMetadata>(env);
		},
	};

	t.teardown(async () => {
		await destroyRuns(env);

		await sandbox.cleanup();
		await standIn.close();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return world;
}

// --- Helpers ---

async function filesUnder(directory: string): Promise<string[]> {
	const entries = await fs.readdir(directory, {recursive: true, withFileTypes: true});
	return entries.filter(entry => entry.isFile()).map(entry => path.join(entry.parentPath, entry.name));
}

/** Files under MOAT_HOME (but the encrypted grants) that hold any of `needles`, as paths relative to MOAT_HOME. */
async function filesHolding(moatHome: string, needles: readonly string[]): Promise<{scanned: string[]; holding: string[]}> {
	const files = (await filesUnder(moatHome)).filter(file => !(path.dirname(file) === path.join(moatHome, 'credentials') && file.endsWith('.enc')));
	const holding: string[] = [];
	for (const file of files) {
		const content = await fs.readFile(file);
		if (needles.some(needle => content.includes(needle))) {
			holding.push(path.relative(moatHome, file));
		}
	}

	return {scanned: files.map(file => path.relative(moatHome, file)), holding};
}

async function newestRun(world: World): Promise<RunMetadata> {
	const runs = await world.runs();
	return runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]!;
}

/** The conversation a /v1/messages request carries, as text (its messages; the system prompt and tools left out). */
function conversationText(request: ApiRequest): string {
	return JSON.stringify(parseBody(request.body)?.messages ?? []);
}

/** The /v1/messages requests whose conversation holds `text` (Claude Code may send others, as for titles). */
function messagesWith(world: World, text: string): ApiRequest[] {
	return world.messages().filter(request => conversationText(request).includes(text));
}

/** Runs `moat claude WS -p PROMPT` and fails with everything useful when it does not exit 0. */
async function ask(t: ExecutionContext, world: World, args: readonly string[]): Promise<MoatResult> {
	const result = await world.moat(['claude', world.workspace, ...args]);
	if (result.code !== 0) {
		t.log('stdout', result.stdout);
		t.log('stderr', result.stderr);
		t.log('requests', world.requests.map(request => `${request.method} ${request.url}`));
	}

	return result;
}

// --- API key ---

dockerTest('with an anthropic grant, moat claude -p prints the stand-in\'s answer; the proxy adds x-api-key, the key appears nowhere else, and trace, audit and list record the run', async t => {
	const world = await createWorld(t);
	const key = apiKey();
	await world.grant('anthropic', key);
	const secret = key.slice('sk-ant-api03-'.length);
	world.answer = `Hi there, answer ${randomBytes(6).toString('hex')}.`;

	// --keep, so the stopped container can be searched for the key too.
	const result = await ask(t, world, ['--keep', '-p', 'say hi']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, `${world.answer}\n`);

	const asked = messagesWith(world, 'say hi');
	t.true(asked.length > 0, `no /v1/messages request carried the prompt: ${world.requests.map(request => `${request.method} ${request.url}`).join(', ')}`);
	t.is(asked[0]!.headers['x-api-key'], key, 'the proxy put the real key in x-api-key');
	for (const request of world.requests) {
		t.is(request.headers.host, 'api.anthropic.com');
		t.is(request.headers.authorization, undefined, `${request.method} ${request.url} carried an Authorization header`);
		t.is(request.headers['x-api-key'], key, `${request.method} ${request.url}: the real key, never the placeholder`);
	}

	const run = await newestRun(world);
	t.is(run.agent, 'claude');
	t.is(run.state, 'stopped');
	t.is(run.exitCode, 0);
	t.deepEqual(run.grants, ['anthropic']);
	// Claude's Stop hook, installed by moat, reported the finished turn through the proxy to the daemon.
	t.is(run.activity?.state, 'waiting');
	t.truthy(run.containerId, '--keep kept the container');
	const inspected = await docker('inspect', run.containerId!);
	t.true(inspected.includes('ANTHROPIC_API_KEY=sk-ant-api03-moat-placeholder'), 'the container has the placeholder');
	t.false(inspected.includes(secret), 'the container\'s configuration holds the key');
	// The label the no-credential test filters on does find this home's containers.
	const labelled = await docker('ps', '-a', '--no-trunc', '--filter', `label=moat.home=${world.sandbox.moatHome}`, '--filter', 'label=moat.run-id', '--format', '{{.ID}}');
	t.deepEqual(labelled.split('\n'), [run.containerId!]);

	const trace = await world.moat(['trace', run.id, '--json']);
	t.is(trace.code, 0, trace.stderr);
	const entries = JSON.parse(trace.stdout) as NetworkEntry[];
	const posted = entries.filter(entry => entry.method === 'POST' && entry.url.startsWith('https://api.anthropic.com/v1/messages'));
	t.true(posted.length > 0, JSON.stringify(entries));
	t.true(posted.every(entry => entry.grant === 'anthropic' && entry.status === 200 && !entry.blocked), JSON.stringify(posted));
	t.deepEqual(entries, await world.networkEntries(run.id));

	await eventually(async () => (await world.auditRecords(run.id)).some(record => record.type === 'credential.injected'));
	const injected = (await world.auditRecords(run.id)).filter(record => record.type === 'credential.injected').map(record => record.data);
	t.true(injected.length > 0);
	t.deepEqual(new Set(injected.map(data => JSON.stringify(data))), new Set([JSON.stringify({grant: 'anthropic', host: 'api.anthropic.com'})]));
	const audit = await world.moat(['audit', run.id]);
	t.is(audit.code, 0, audit.stdout + audit.stderr);
	t.regex(audit.stdout, /^Sealed: /m);
	t.regex(audit.stdout, /^ {2}credential\.injected +\d+$/m);

	// The key, anywhere but the encrypted grant: outputs, sessions, daemon.log, network.jsonl, the audit log.
	const {scanned, holding} = await filesHolding(world.sandbox.moatHome, [key, secret]);
	t.true(scanned.includes('daemon.log'));
	t.true(scanned.includes(path.join('runs', run.id, 'network.jsonl')));
	t.true(scanned.includes(path.join('runs', run.id, 'audit', 'entries.jsonl')));
	t.true(scanned.some(file => file.startsWith(path.join('sessions', 'claude') + path.sep) && file.endsWith('.jsonl')), `Claude Code's conversation is under sessions/: ${scanned.join(', ')}`);
	t.deepEqual(holding, [], 'files under MOAT_HOME hold the key');
	for (const output of world.outputs) {
		t.false(output.includes(secret), 'moat printed the key');
	}
});

// --- Continuing across bottles ---

dockerTest('moat claude -c continues the workspace\'s conversation in a new bottle: its request carries the first prompt and answer', async t => {
	const world = await createWorld(t);
	await world.grant('anthropic', apiKey());
	const firstPrompt = `say hi ${randomBytes(4).toString('hex')}`;
	const firstAnswer = `First answer ${randomBytes(6).toString('hex')}.`;
	world.answer = firstAnswer;
	const first = await ask(t, world, ['-p', firstPrompt]);
	t.is(first.code, 0, first.stderr);
	t.is(first.stdout, `${firstAnswer}\n`);
	const firstRun = await newestRun(world);

	world.answer = `Second answer ${randomBytes(6).toString('hex')}.`;
	const before = world.requests.length;
	const second = await ask(t, world, ['-c', '-p', 'and again']);
	t.is(second.code, 0, second.stderr);
	t.is(second.stdout, `${world.answer}\n`);
	const secondRun = await newestRun(world);
	t.not(secondRun.id, firstRun.id, 'a second bottle');
	t.is(secondRun.workspace, firstRun.workspace);
	t.is((await fs.readdir(path.join(world.sandbox.moatHome, 'sessions', 'claude'))).length, 1, 'one conversation folder for the workspace');

	const continued = world.requests.slice(before).filter(request => isMessages(request) && conversationText(request).includes('and again'));
	t.true(continued.length > 0, 'a /v1/messages request carried "and again"');
	const conversation = conversationText(continued[0]!);
	t.true(conversation.includes(firstPrompt), `the continued conversation holds the first prompt: ${conversation}`);
	t.true(conversation.includes(firstAnswer), `the continued conversation holds the first answer: ${conversation}`);
});

dockerTest('moat claude sessions lists the conversation with its run; -r resumes it by session id and by run name in new bottles; an unknown id is exit 4', async t => {
	const world = await createWorld(t);
	await world.grant('anthropic', apiKey());
	const firstPrompt = `remember ${randomBytes(4).toString('hex')}`;
	world.answer = `Noted ${randomBytes(4).toString('hex')}.`;
	const first = await ask(t, world, ['-n', 'keeper', '-p', firstPrompt]);
	t.is(first.code, 0, first.stderr);
	const run = await newestRun(world);

	const listed = await world.moat(['claude', 'sessions', '--json']);
	t.is(listed.code, 0, listed.stderr);
	const sessions = JSON.parse(listed.stdout) as Array<{id: string; runId: string; name: string; workspace: string; state: string}>;
	t.is(sessions.length, 1);
	t.like(sessions[0], {runId: run.id, name: 'keeper', state: 'stopped'});
	t.regex(sessions[0]!.id, /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/);
	t.regex((await world.moat(['claude', 'sessions'])).stdout, new RegExp(`^SESSION\\s+RUN\\s+NAME\\s+WORKSPACE\\s+STATE\\s+AGE\\n${sessions[0]!.id}\\s+${run.id}\\s+keeper\\s`));

	for (const [how, reference] of [['session id', sessions[0]!.id], ['run name', 'keeper']] as const) {
		const before = world.requests.length;
		const resumed = await ask(t, world, ['-r', reference, '-p', `resumed by ${how}`]);
		t.is(resumed.code, 0, resumed.stderr);
		const carried = world.requests.slice(before).filter(request => isMessages(request) && conversationText(request).includes(`resumed by ${how}`));
		t.true(carried.some(request => conversationText(request).includes(firstPrompt)), `-r ${how}: the new bottle sent the earlier turn`);
	}

	const unknown = await world.moat(['claude', world.workspace, '-r', '01234567-89ab-cdef-0123-456789abcdef', '-p', 'x']);
	t.is(unknown.code, 4);
	t.regex(unknown.stderr, /No Claude session matches/);
});

// --- Subscription token ---

dockerTest('with a claude grant, the proxy sends Authorization: Bearer with the OAuth beta, and no real x-api-key', async t => {
	const world = await createWorld(t);
	const token = oauthToken();
	await world.grant('claude', token);
	const secret = token.slice('sk-ant-oat01-'.length);
	world.answer = `Subscription answer ${randomBytes(6).toString('hex')}.`;

	const result = await ask(t, world, ['-p', 'say hi']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, `${world.answer}\n`);

	const asked = messagesWith(world, 'say hi');
	t.true(asked.length > 0);
	for (const request of asked) {
		t.is(request.headers.authorization, `Bearer ${token}`);
		const beta = String(request.headers['anthropic-beta'] ?? '').split(',').map(value => value.trim());
		t.true(beta.includes(anthropicOauthBeta), `anthropic-beta: ${beta.join(',')}`);
	}

	for (const request of world.requests) {
		t.is(request.headers['x-api-key'], undefined, `${request.method} ${request.url} carried an x-api-key`);
		t.is(request.headers.authorization, `Bearer ${token}`, `${request.method} ${request.url}: the real token, never the placeholder`);
	}

	const run = await newestRun(world);
	t.deepEqual(run.grants, ['claude']);
	const injected = (await world.auditRecords(run.id)).filter(record => record.type === 'credential.injected').map(record => record.data);
	t.deepEqual(injected[0], {grant: 'claude', host: 'api.anthropic.com'});
	t.deepEqual((await filesHolding(world.sandbox.moatHome, [secret])).holding, []);
	for (const output of world.outputs) {
		t.false(output.includes(secret), 'moat printed the token');
	}
});

// --- No credential ---

dockerTest('without a Claude grant, moat claude exits 4 saying which grants to make, and creates no container', async t => {
	const world = await createWorld(t);
	const result = await world.moat(['claude', world.workspace, '-p', 'say hi']);
	t.is(result.code, 4, result.stdout + result.stderr);
	t.is(result.stderr, 'moat: Claude Code needs a Claude credential, and none is granted.\nRun moat grant claude (a Claude subscription token) or moat grant anthropic (an API key), then try again.\n');
	t.is(result.stdout, '');
	t.is(await docker('ps', '-a', '--filter', `label=moat.home=${world.sandbox.moatHome}`, '--filter', 'label=moat.run-id', '--format', '{{.ID}}'), '');
	t.deepEqual(await world.runs(), []);
	t.deepEqual(world.requests, []);
});

// --- The host's .claude.json ---

dockerTest('only allow-listed keys of the host\'s ~/.claude.json reach the bottle\'s state; MCP secrets and the account stay on the host', async t => {
	const world = await createWorld(t);
	await world.grant('anthropic', apiKey());
	const mcpSecret = `mcp-secret-${randomBytes(16).toString('hex')}`;
	const accountSecret = `account-${randomBytes(8).toString('hex')}@example.com`;
	await fs.writeFile(path.join(world.sandbox.userHome, '.claude.json'), JSON.stringify({
		hasCompletedOnboarding: true,
		theme: 'light-daltonized',
		mcpServers: {github: {type: 'http', url: 'https://mcp.example.com/', headers: {Authorization: `Bearer ${mcpSecret}`}}},
		oauthAccount: {emailAddress: accountSecret, accountUuid: randomBytes(8).toString('hex')},
	}, null, 2));

	world.answer = 'Seeded.';
	const result = await ask(t, world, ['-p', 'say hi']);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout, 'Seeded.\n');

	// The workspace's Claude folder (sessions/claude/<key>/…), whose .claude.json Claude Code read and kept.
	const sessions = path.join(world.sandbox.moatHome, 'sessions', 'claude');
	const folders = await fs.readdir(sessions);
	t.is(folders.length, 1, folders.join(', '));
	const states = (await filesUnder(path.join(sessions, folders[0]!))).filter(file => path.basename(file) === '.claude.json');
	t.is(states.length, 1, states.join(', '));
	const seeded = JSON.parse(await fs.readFile(states[0]!, 'utf8')) as Record<string, unknown>;
	t.is(seeded.theme, 'light-daltonized');
	t.is(seeded.hasCompletedOnboarding, true);
	t.false('mcpServers' in seeded, 'mcpServers was copied');
	t.false('oauthAccount' in seeded, 'oauthAccount was copied');

	const {holding} = await filesHolding(world.sandbox.moatHome, [mcpSecret, accountSecret]);
	t.deepEqual(holding, [], 'the host\'s secrets are under MOAT_HOME');
	t.false(JSON.stringify(world.requests).includes(mcpSecret), 'the MCP secret reached the API');
});

// --- Usage errors ---

test('moat claude -p "" and moat claude with two positional arguments are usage errors (exit 2)', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	const env = {...sandbox.env, MOAT_CACHE_DIR: agentCache, MOAT_KEYRING_BACKEND: 'file'};
	for (const name of credentialVariables) {
		delete (env as Record<string, string | undefined>)[name];
	}

	const empty = await moat(['claude', '-p', ''], {env});
	t.is(empty.code, 2, empty.stdout + empty.stderr);
	t.is(empty.stdout, '');
	// The flag check refuses an empty value before moat claude sees it; either way, a usage message.
	t.regex(empty.stderr, /^moat: (?:-p needs a value|-p needs the question to ask)\.\n.+\n$/);

	const blank = await moat(['claude', '-p', '   '], {env});
	t.is(blank.code, 2, blank.stdout + blank.stderr);
	t.regex(blank.stderr, /^moat: -p needs the question to ask\.\nAs in moat claude -p "What does this project do\?"\.\n$/);

	const two = await moat(['claude', 'a', 'b'], {env});
	t.is(two.code, 2, two.stdout + two.stderr);
	t.is(two.stdout, '');
	t.regex(two.stderr, /^moat: moat claude takes one workspace path, got 2: a b\.\n.+\n$/);
	t.deepEqual(JSON.parse((await moat(['list', '--json'], {env})).stdout || '[]'), [], 'no run was recorded');
});

dockerTest('interactive moat claude opens straight at Claude\'s prompt (no onboarding, trust or API-key question), answers, shows as waiting, detaches with Ctrl-/ d while it goes on, and Ctrl-/ k stops it', async t => {
	const world = await createWorld(t);
	await world.grant('anthropic', apiKey());
	world.answer = `Interactive answer ${randomBytes(4).toString('hex')}.`;
	const session = await TmuxSession.start(['claude', world.workspace], {env: world.env, rows: 40, columns: 120});
	t.teardown(async () => session.kill());
	const opened = await session.waitFor(/bypass permissions on/);
	t.notRegex(opened, /trust this folder|text style|custom API key|Do you want to use this API key|Select login method/i);
	t.regex(opened, /moat · .* · Ctrl-\/ d detach/);
	let release!: () => void;
	world.hold = new Promise(resolve => {
		release = resolve;
	});
	await session.type('say hi');
	await session.keys('Enter');
	// The prompt hook reports work while the answer is held back…
	await eventually(async () => (await newestRun(world)).activity?.state === 'working');
	t.regex((await world.moat(['list'])).stdout, /\bclaude\s+running\b/);
	release();
	await session.waitFor(world.answer);
	t.true(messagesWith(world, 'say hi').length > 0, 'the prompt reached the stand-in');
	// …and the Stop hook the finished turn: the bottle waits for the user.
	await eventually(async () => (await newestRun(world)).activity?.state === 'waiting');
	t.is((await newestRun(world)).activity?.state, 'waiting', 'the run shows as waiting');
	t.regex((await world.moat(['list'])).stdout, /\bclaude\s+waiting\b/);
	await session.keys('C-_', 'd');
	await session.waitFor(/EXITED 0/);
	t.is((await newestRun(world)).state, 'running', 'detaching leaves Claude running');
	const again = await TmuxSession.start(['attach', (await newestRun(world)).id], {env: world.env, rows: 40, columns: 120});
	t.teardown(async () => again.kill());
	await again.waitFor(/bypass permissions on/);
	await again.keys('C-_', 'k');
	await again.waitFor(/EXITED/);
	t.is((await newestRun(world)).state, 'stopped');
});
