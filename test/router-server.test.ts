import {execFile} from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import {WebSocket, WebSocketServer} from 'ws';
import {openCertificateAuthority} from '../source/proxy/certificate-authority.js';
import {decideRoute, parseRouteHost, serviceVariables, type RouteRun} from '../source/routing/route-decisions.js';
import {startRouterServer} from '../source/routing/router-server.js';
import {clientTimeoutSeconds} from './helpers/deadline.js';

const execFileAsync = promisify(execFile);

/** A stand-in for a container's service: same port, its own loopback address. */
async function service(t: ExecutionContext, address: string, port: number, text: string): Promise<number> {
	const server = http.createServer((request, response) => {
		response.end(`${text} ${request.method} ${request.url} host=${request.headers.host}\n`);
	});
	const sockets = new WebSocketServer({server});
	sockets.on('connection', socket => {
		socket.on('message', message => {
			socket.send(`${text}: ${String(message as Buffer)}`);
		});
	});
	await new Promise<void>(resolve => {
		server.listen(port, address, resolve);
	});
	t.teardown(async () => new Promise<void>(resolve => {
		for (const client of sockets.clients) {
			client.terminate();
		}

		sockets.close();
		server.closeAllConnections();
		server.close(() => {
			resolve();
		});
	}));
	return (server.address() as AddressInfo).port;
}

async function createWorld(t: ExecutionContext) {
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-router-'));
	const authority = await openCertificateAuthority(path.join(directory, 'proxy'));
	const port = await service(t, '127.0.0.2', 0, 'one');
	await service(t, '127.0.0.3', port, 'two');
	const runs: RouteRun[] = [
		{name: 'one', active: true, ports: {web: port}, address: '127.0.0.2'},
		{name: 'two', active: true, ports: {web: port}, address: '127.0.0.3'},
		{name: 'down', active: true, ports: {web: 9}, address: '127.0.0.4'},
		{name: 'gone', active: false, ports: {web: port}, address: undefined},
	];
	const router = await startRouterServer({host: '127.0.0.1', port: 0, authority, runs: async () => runs});
	t.teardown(async () => {
		await router.close();
		await fs.rm(directory, {recursive: true, force: true});
	});
	const curl = async (...args: string[]) => {
		try {
			// Straight to the router, whatever proxy the environment names.
			const {stdout} = await execFileAsync('curl', ['-sS', '-m', String(clientTimeoutSeconds), '--noproxy', '*', '-w', '\n%{http_code}', ...args]);
			return stdout;
		} catch (error) {
			return String((error as {stdout?: string}).stdout ?? '') + String((error as Error).message);
		}
	};

	const resolveTo = (name: string) => ['--resolve', `${name}:${router.port}:127.0.0.1`];
	return {router, authority, curl, resolveTo};
}

test('two runs with the same internal port are each reached by name, over HTTP and HTTPS with moat\'s CA', async t => {
	const {router, authority, curl, resolveTo} = await createWorld(t);
	t.regex(await curl(...resolveTo('web.one.localhost'), `http://web.one.localhost:${router.port}/a?b=1`), /^one GET \/a\?b=1 host=web\.one\.localhost:\d+\n\n200$/);
	t.regex(await curl(...resolveTo('web.two.localhost'), `http://web.two.localhost:${router.port}/`), /^two GET \/ /);
	t.regex(await curl('--cacert', authority.certificateFile, ...resolveTo('web.two.localhost'), `https://web.two.localhost:${router.port}/secure`), /^two GET \/secure .*\n\n200$/);
});

test('a service that is not up gets a clear 502 page; unknown runs, services and names a 404 that says where to look', async t => {
	const {router, curl, resolveTo} = await createWorld(t);
	const down = await curl(...resolveTo('web.down.localhost'), `http://web.down.localhost:${router.port}/`);
	t.regex(down, /web in down is not answering[\s\S]*502$/);
	t.regex(await curl(...resolveTo('web.gone.localhost'), `http://web.gone.localhost:${router.port}/`), /gone is not running[\s\S]*502$/);
	t.regex(await curl(...resolveTo('api.one.localhost'), `http://api.one.localhost:${router.port}/`), /one has no service named api[\s\S]*Its services: web[\s\S]*404$/);
	t.regex(await curl(...resolveTo('web.nobody.localhost'), `http://web.nobody.localhost:${router.port}/`), /No run named nobody[\s\S]*404$/);
	t.regex(await curl(`http://127.0.0.1:${router.port}/`), /Not a moat service address[\s\S]*404$/);
});

test('WebSockets go through to the named run', async t => {
	const {router} = await createWorld(t);
	const client = new WebSocket(`ws://127.0.0.1:${router.port}/socket`, {headers: {host: 'web.two.localhost'}});
	const reply = await new Promise<string>((resolve, reject) => {
		client.once('open', () => client.send('ping'));
		client.once('message', data => {
			resolve(String(data as Buffer));
		});
		client.once('error', reject);
	});
	client.close();
	t.is(reply, 'two: ping');
});

test('route names: service.run.localhost, case and port ignored; MOAT_URL_ variables for each port', t => {
	t.deepEqual(parseRouteHost('Web.My-App.localhost:8080'), {service: 'web', runName: 'my-app'});
	t.is(parseRouteHost('web.localhost'), undefined);
	t.is(parseRouteHost('web.app.example.com'), undefined);
	t.deepEqual(serviceVariables({web: 3000, 'admin-ui': 4000}, 'App', 8080), {MOAT_URL_WEB: 'http://web.app.localhost:8080', MOAT_URL_ADMIN_UI: 'http://admin-ui.app.localhost:8080'});
	t.like(decideRoute('web.app.localhost', [{name: 'app', active: true, ports: {web: 3000}, address: '172.18.0.5'}]), {kind: 'forward', address: '172.18.0.5', port: 3000});
	// An active run wins over an old stopped one with the same name.
	t.like(decideRoute('web.app.localhost', [{name: 'app', active: false, ports: {web: 3000}, address: undefined}, {name: 'app', active: true, ports: {web: 3000}, address: '172.18.0.6'}]), {kind: 'forward', address: '172.18.0.6'});
});
