import {randomBytes} from 'node:crypto';
import fs from 'node:fs/promises';
import http, {type IncomingHttpHeaders, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import type {NetworkEntry} from '../../source/proxy/proxy-server.js';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {clientTimeoutSeconds} from './deadline.js';
import {startHttpsStandIn, writeTrustBundle, type HttpsStandIn, type StandInHandler} from './https-stand-in.js';
import {auditRecordsOf, createSandbox, createWorkspace, destroyRuns, eventually, listRuns, moat, networkEntriesOf, type AuditRecord, type MoatResult, type Sandbox} from './moat.js';

/**
 * The world of a proxy test: a private MOAT_HOME and workspace, an HTTPS
 * stand-in for internet hosts and a plain-HTTP server, reached through
 * MOAT_UPSTREAM_OVERRIDES (TLS name and Host unchanged), with the
 * stand-in's CA trusted by the daemon through NODE_EXTRA_CA_CERTS; plus
 * the probes and requests those tests make. `engine` runs the world on
 * another Docker engine (DOCKER_HOST).
 */

// --- Local servers ---

export type RecordedRequest = {method: string; url: string; headers: IncomingHttpHeaders};

export type PlainServer = {port: number; requests: RecordedRequest[]; close(): Promise<void>};

/** A plain-HTTP server recording every request (a stand-in for port 80, or a canary). */
export async function startPlainServer(listenOn: string, handler: StandInHandler = answerWithHost): Promise<PlainServer> {
	const requests: RecordedRequest[] = [];
	const server = http.createServer((request, response) => {
		requests.push({method: request.method ?? '', url: request.url ?? '', headers: {...request.headers}});
		handler(request, response);
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, listenOn, () => {
			resolve();
		});
	});
	return {
		port: (server.address() as AddressInfo).port,
		requests,
		async close() {
			server.closeAllConnections();
			await new Promise<void>(resolve => {
				server.close(() => {
					resolve();
				});
			});
		},
	};
}

/** The default answer: which host and path the server saw, so the client's output proves where it got. */
export function answerWithHost(request: IncomingMessage, response: ServerResponse): void {
	response.writeHead(200, {'content-type': 'text/plain'});
	response.end(`stand-in ${request.headers.host ?? '?'} ${request.method ?? '?'} ${request.url ?? '?'}\n`);
}

// --- The world of one test ---


export type World = {
	sandbox: Sandbox;
	workspace: string;
	/** The environment every moat command of the test gets (one daemon's settings). */
	env: Record<string, string>;
	standIn: HttpsStandIn;
	plain: PlainServer;
	/** Everything moat printed during the test. */
	outputs: string[];
	moat(args: readonly string[]): Promise<MoatResult>;
	/** Stores a github grant (by default a fresh random token) and returns its value. */
	grantGithub(token?: string): Promise<string>;
	networkEntries(runId: string): Promise<NetworkEntry[]>;
	auditRecords(runId: string): Promise<AuditRecord[]>;
	runs(): Promise<RunMetadata[]>;
};

export type WorldOptions = {
	/** Names the HTTPS stand-in holds a certificate for; each is routed to it (every port). */
	hosts: readonly string[];
	handler?: StandInHandler;
	/** host:port keys routed to the plain-HTTP server. */
	plainRoutes?: readonly string[];
	plainHandler?: StandInHandler;
	files?: Record<string, string>;
	/** DOCKER_HOST of the engine the world's runs use (the machine's default when absent). */
	engine?: string;
	/** More variables for every moat command of the world. */
	variables?: Record<string, string>;
};

export const githubToken = () => `ghp_${randomBytes(18).toString('hex')}`;

/** Variables on the developer's machine that would be found as credentials. */
export const credentialVariables = ['GITHUB_TOKEN', 'GH_TOKEN', 'ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'OPENAI_API_KEY', 'SSH_AUTH_SOCK'];

export async function createWorld(t: ExecutionContext, options: WorldOptions): Promise<World> {
	const sandbox = await createSandbox();
	const root = path.dirname(sandbox.moatHome);
	const workspace = await createWorkspace(1000, 1000, options.files ?? {});
	const standIn = await startHttpsStandIn(options.hosts, options.handler ?? answerWithHost);
	const plain = await startPlainServer('127.0.0.1', options.plainHandler);
	const env: Record<string, string> = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		MOAT_UPSTREAM_OVERRIDES: [
			...options.hosts.map(host => `${host}=127.0.0.1:${standIn.port}`),
			...(options.plainRoutes ?? []).map(key => `${key}=127.0.0.1:${plain.port}`),
		].join(','),
		NODE_EXTRA_CA_CERTS: await writeTrustBundle(path.join(root, 'trust-bundle.pem'), [standIn.caFile]),
		...options.engine ? {DOCKER_HOST: options.engine} : {},
		...options.variables,
	};
	for (const name of credentialVariables) {
		delete env[name];
	}

	const world: World = {
		sandbox,
		workspace,
		env,
		standIn,
		plain,
		outputs: [],
		async moat(args) {
			const result = await moat(args, {env});
			world.outputs.push(result.stdout, result.stderr);
			return result;
		},
		async grantGithub(token = githubToken()) {
			// No gh on PATH, so the token comes from GITHUB_TOKEN; --no-validate: no request.
			const result = await moat(['grant', 'github', '--no-validate'], {env: {...env, GITHUB_TOKEN: token, PATH: '/usr/bin:/bin'}});
			world.outputs.push(result.stdout, result.stderr);
			if (result.code !== 0) {
				throw new Error(`moat grant github failed: ${result.stderr}`);
			}

			return token;
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
		await plain.close();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return world;
}

// --- Shell probes: several commands in one container run, each result labelled ---

/**
 * A shell script that runs each command, capturing its output (stdout and
 * stderr) and exit code, and prints them under `### label exit=N`.
 */
export function probeScript(probes: ReadonlyArray<readonly [label: string, command: string]>): string {
	return probes.map(([label, command]) => `out=$( { ${command} ; } 2>&1 ); printf '### %s exit=%s\\n%s\\n' '${label}' "$?" "$out"`).join('\n');
}

export type ProbeResult = {code: number; output: string};

export function parseProbes(stdout: string): Record<string, ProbeResult> {
	const results: Record<string, ProbeResult> = {};
	for (const part of stdout.split(/^### /m).slice(1)) {
		const newline = part.indexOf('\n');
		const header = /^(\S+) exit=(\d+)$/.exec(part.slice(0, newline));
		if (header) {
			results[header[1]!] = {code: Number(header[2]), output: part.slice(newline + 1).replace(/\n$/, '')};
		}
	}

	return results;
}

// --- Helpers ---

export const runIdOf = (result: MoatResult) => {
	const id = result.stdout.trim();
	if (!/^run_[\da-f]{12}$/.test(id)) {
		throw new Error(`moat run -d did not print a run id: ${result.stdout}${result.stderr}`);
	}

	return id;
};

export async function newestRunId(world: World): Promise<string> {
	const runs = await world.runs();
	return runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]!.id;
}

export async function waitForFile(file: string): Promise<string> {
	await eventually(async () => fs.access(file).then(() => true, () => false));
	return fs.readFile(file, 'utf8');
}

export async function waitForRunToEnd(world: World, runId: string): Promise<RunMetadata> {
	let run: RunMetadata | undefined;
	await eventually(async () => {
		run = (await world.runs()).find(candidate => candidate.id === runId);
		return run !== undefined && run.state !== 'running' && run.state !== 'created';
	});
	return run!;
}

/** Where the proxy is reached from the host: a TCP address, or the daemon's socket the gateway uses. */
export type ProxyAddress = {host: string; port: number} | {socketPath: string};

/** A request through the proxy from the host, as a client outside any container would send it. */
export async function viaProxy(proxy: ProxyAddress, target: string, credentials?: string): Promise<{status: number; body: string; headers: IncomingHttpHeaders}> {
	return new Promise((resolve, reject) => {
		const request = http.request({
			...'socketPath' in proxy ? {socketPath: proxy.socketPath} : {host: proxy.host, port: proxy.port},
			method: 'GET',
			path: target,
			agent: false,
			timeout: clientTimeoutSeconds * 1000,
			headers: {host: new URL(target).host, ...(credentials ? {'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}`} : {})},
		}, response => {
			let body = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => {
				body += chunk;
			});
			response.on('end', () => {
				resolve({status: response.statusCode ?? 0, body, headers: response.headers});
			});
		});
		request.on('timeout', () => request.destroy(new Error('the proxy did not answer in time')));
		request.on('error', reject);
		request.end();
	});
}

/** The status a CONNECT through the proxy gets. */
export async function connectStatus(proxy: ProxyAddress, target: string, credentials?: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const request = http.request({
			...'socketPath' in proxy ? {socketPath: proxy.socketPath} : {host: proxy.host, port: proxy.port},
			method: 'CONNECT',
			path: target,
			agent: false,
			timeout: clientTimeoutSeconds * 1000,
			headers: {host: target, ...(credentials ? {'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}`} : {})},
		});
		request.on('connect', (response: IncomingMessage, socket) => {
			socket.destroy();
			resolve(response.statusCode ?? 0);
		});
		request.on('response', response => {
			response.resume();
			resolve(response.statusCode ?? 0);
		});
		request.on('timeout', () => request.destroy(new Error('the proxy did not answer in time')));
		request.on('error', reject);
		request.end();
	});
}

export function parseProxyUrl(text: string): {host: string; port: number; token: string} {
	const url = new URL(text.trim());
	return {host: url.hostname, port: Number(url.port), token: decodeURIComponent(url.password)};
}
