import {execFile} from 'node:child_process';
import path from 'node:path';
import {promisify} from 'node:util';
import {clientTimeoutSeconds} from '../helpers/deadline.js';
import {farEngine, farEngineTest} from '../helpers/docker.js';
import {eventually, freePort} from '../helpers/moat.js';
import {createWorld, newestRunId, parseProbes, probeScript} from '../helpers/proxy-world.js';

/**
 * The Docker Desktop topology (README: The gateway): an engine in its own
 * network namespace, reached only by its API socket, whose bridges this
 * machine cannot listen on. Everything a bottle does still works, because
 * it goes through moat's gateway inside that engine.
 */

const execFileAsync = promisify(execFile);


farEngineTest('on an engine whose networks are not this machine\'s, a strict run gets the GitHub token injected, a host off the list gets the 403, its agent hook marks it waiting, and status names the topology', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com', 'off-list.test'], engine: farEngine, files: {'agent.yaml': 'network:\n  policy: strict\n'}});
	const token = await world.grantGithub();
	const result = await world.moat(['run', world.workspace, '--grant', 'github', '--', 'sh', '-c', probeScript([
		['api', 'curl -sS https://api.github.com/user'],
		['off-list', 'curl -sS -o /dev/null -w "%{http_code}" http://off-list.test/'],
		['hook', 'curl -sS -o /dev/null -w "%{http_code}" -X POST --data waiting http://moat.hooks/activity'],
	])]);
	t.is(result.code, 0, result.stderr);
	const probes = parseProbes(result.stdout);
	t.deepEqual(probes.api, {code: 0, output: 'stand-in api.github.com GET /user'});
	t.deepEqual(probes['off-list'], {code: 0, output: '403'});
	t.deepEqual(probes.hook, {code: 0, output: '204'});
	t.is(world.standIn.requests.find(request => request.url === '/user')?.headers.authorization, `Bearer ${token}`);
	t.false(world.standIn.requests.some(request => request.headers.host === 'off-list.test'), 'the blocked host was never contacted');

	const runId = await newestRunId(world);
	t.is((await world.runs()).find(run => run.id === runId)?.activity?.state, 'waiting');
	const status = await world.moat(['status']);
	t.regex(status.stdout, /^Gateway {3}ready \(moat-gateway-[\da-f]{10}\): engine in a VM \(its networks are not this machine's\), carried over the daemon's socket$/m);
});

farEngineTest('over the Docker API channel alone (an engine that shares no files), the far engine\'s bottles get their credential and a service is reached by name through the router', async t => {
	const port = await freePort();
	const world = await createWorld(t, {
		hosts: ['api.github.com'],
		engine: farEngine,
		files: {'agent.yaml': 'dependencies:\n  - node@20\nports:\n  web: 3000\n'},
		variables: {MOAT_GATEWAY_CHANNEL: 'api', MOAT_ROUTER_PORT: String(port)},
	});
	const token = await world.grantGithub();
	// curl asks GitHub (through the proxy) first; the server then answers with what it got.
	const server = 'require("http").createServer((q, s) => s.end(`${process.env.MOAT_RUN_NAME} ${q.url} ${process.env.GITHUB_STATUS}\\n`)).listen(3000, "0.0.0.0")';
	const started = await world.moat(['run', world.workspace, '-d', '-n', 'far-web', '--grant', 'github', '--', 'sh', '-c', `GITHUB_STATUS=$(curl -s -o /dev/null -w '%{http_code}' https://api.github.com/user) exec node -e '${server}'`]);
	t.is(started.code, 0, started.stderr);

	const curl = async (scheme = 'http', extra: string[] = []) => {
		try {
			const {stdout} = await execFileAsync('curl', ['-sS', '-m', String(clientTimeoutSeconds), '--noproxy', '*', '-w', '%{http_code}', '--resolve', `web.far-web.localhost:${port}:127.0.0.1`, ...extra, `${scheme}://web.far-web.localhost:${port}/hello`]);
			return stdout;
		} catch (error) {
			return `failed: ${(error as Error).message}`;
		}
	};

	await eventually(async () => (await curl()).endsWith('200'));
	t.is(await curl(), 'far-web /hello 200\n200');
	t.is(await curl('https', ['--cacert', path.join(world.sandbox.moatHome, 'proxy', 'ca.pem')]), 'far-web /hello 200\n200');
	t.is(world.standIn.requests.find(request => request.url === '/user')?.headers.authorization, `Bearer ${token}`);
	const status = await world.moat(['proxy', 'status']);
	t.regex(status.stdout, /^Gateway {3}ready \(moat-gateway-[\da-f]{10}\): engine in a VM \(its networks are not this machine's\), carried over the Docker API$/m);
});
