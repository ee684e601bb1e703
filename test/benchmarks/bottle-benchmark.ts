/**
 * bench:bottle — time from `moat claude -p` to the answer, against running
 * the same Claude Code binary on the host against the same stand-in
 * (ratio; target ≤ 2×). The image, the agent install and the daemon are
 * warmed first, so the figure is a bottle's own cost: container start,
 * the proxy and the copy of the output.
 *
 * Not a test: it prints figures and never fails on them.
 */
import {execFile} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import {ensureAgentPackage} from '../../source/agents/agent-cache.js';
import {agentPackages} from '../../source/agents/agent-packages.js';
import {createEnvironment} from '../../source/environment.js';
import {startHttpsStandIn, writeTrustBundle} from '../helpers/https-stand-in.js';
import {reportFigures} from './bench-report.js';

const execFileAsync = promisify(execFile);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));
const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-bottle-'));
const workspace = path.join(root, 'workspace');
await fs.mkdir(workspace);
await fs.chown(workspace, 1000, 1000);
const answer = 'the bottle answers';

const standIn = await startHttpsStandIn(['api.anthropic.com', 'localhost'], (request, response) => {
	let body = '';
	request.on('data', (chunk: Buffer) => {
		body += String(chunk);
	});
	request.on('end', () => {
		response.setHeader('content-type', 'application/json');
		if (request.method !== 'POST' || !(request.url ?? '').startsWith('/v1/messages') || (request.url ?? '').includes('count_tokens')) {
			response.end(request.method === 'HEAD' ? undefined : '{}');
			return;
		}

		const message = {id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{type: 'text', text: answer}], stop_reason: 'end_turn', stop_sequence: null, usage: {input_tokens: 1, output_tokens: 3}};
		if (!body.includes('"stream":true')) {
			response.end(JSON.stringify(message));
			return;
		}

		response.setHeader('content-type', 'text/event-stream');
		const send = (type: string, data: Record<string, unknown>) => response.write(`event: ${type}\ndata: ${JSON.stringify({type, ...data})}\n\n`);
		send('message_start', {message: {...message, content: [], stop_reason: null}});
		send('content_block_start', {index: 0, content_block: {type: 'text', text: ''}});
		send('content_block_delta', {index: 0, delta: {type: 'text_delta', text: answer}});
		send('content_block_stop', {index: 0});
		send('message_delta', {delta: {stop_reason: 'end_turn', stop_sequence: null}, usage: {output_tokens: 3}});
		send('message_stop', {});
		response.end();
	});
});

const key = `sk-ant-api03-${randomBytes(24).toString('hex')}`;
const bundle = await writeTrustBundle(path.join(root, 'trust.pem'), [standIn.caFile]);
const env: Record<string, string> = {
	...process.env as Record<string, string>,
	MOAT_HOME: path.join(root, 'home'),
	MOAT_KEYRING_BACKEND: 'file',
	MOAT_UPSTREAM_OVERRIDES: `api.anthropic.com=127.0.0.1:${standIn.port}`,
	NODE_EXTRA_CA_CERTS: bundle,
};

async function timed(command: string, args: string[], variables: Record<string, string>, cwd: string): Promise<number> {
	const started = performance.now();
	const {stdout} = await execFileAsync(command, args, {env: variables, cwd, maxBuffer: 16 * 1024 * 1024});
	if (!stdout.includes(answer)) {
		throw new Error(`no answer from ${command}: ${stdout}`);
	}

	return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
	await execFileAsync(process.execPath, [cli, 'grant', 'anthropic', '--no-validate'], {env: {...env, ANTHROPIC_API_KEY: key, PATH: '/usr/bin:/bin'}});
	const installed = await ensureAgentPackage(createEnvironment(env), agentPackages.claude, message => {
		console.log(message);
	});
	const binary = path.join(installed.directory, installed.binary);
	const hostHome = path.join(root, 'host-home');
	await fs.mkdir(hostHome);
	const hostEnv = {...env, HOME: hostHome, ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: `https://localhost:${standIn.port}`, DISABLE_AUTOUPDATER: '1'};
	// Warm both: the image, the daemon and the agent's first-run files.
	await timed(process.execPath, [cli, 'claude', workspace, '-p', 'warm up'], env, workspace);
	await timed(binary, ['-p', 'warm up'], hostEnv, workspace);
	const bottle: number[] = [];
	const host: number[] = [];
	for (let round = 0; round < rounds; round++) {
		bottle.push(await timed(process.execPath, [cli, 'claude', workspace, '-p', `question ${round}`], env, workspace));
		host.push(await timed(binary, ['-p', `question ${round}`], hostEnv, workspace));
	}

	console.log(`bench:bottle — claude -p to the answer, median of ${rounds}`);
	console.log(`  on the host      ${median(host).toFixed(0)} ms`);
	console.log(`  moat claude -p   ${median(bottle).toFixed(0)} ms`);
	console.log(`  ratio            ${(median(bottle) / median(host)).toFixed(2)}×  (target ≤ 2)`);
	reportFigures('bottle', [
		{figure: 'moat claude -p to the answer', measured: `${median(bottle).toFixed(0)} ms = ${(median(bottle) / median(host)).toFixed(2)}× claude on the host`, target: '≤ 2× on the host', met: median(bottle) / median(host) <= 2},
	]);
} finally {
	await execFileAsync(process.execPath, [cli, 'proxy', 'stop'], {env}).catch(() => undefined);
	const listed = await execFileAsync(process.execPath, [cli, 'list', '--json'], {env}).catch(() => ({stdout: '[]'}));
	for (const run of JSON.parse(listed.stdout || '[]') as Array<{id: string}>) {
		await execFileAsync(process.execPath, [cli, 'destroy', '-f', run.id], {env}).catch(() => undefined);
	}

	await standIn.close();
	await fs.rm(root, {recursive: true, force: true});
}
