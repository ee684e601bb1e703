import {execFile} from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import {promisify} from 'node:util';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, destroyRuns, eventually, freePort, moat} from '../helpers/moat.js';
import {clientTimeoutSeconds} from '../helpers/deadline.js';

const execFileAsync = promisify(execFile);

/**
 * Hostname routing against real containers: two runs declaring the same
 * port, each reached by name through the daemon's router, over HTTP and
 * over HTTPS with moat's CA, by the real curl.
 */


const serverScript = 'require("http").createServer((q, r) => r.end(`${process.env.MOAT_RUN_NAME} ${q.url} ${process.env.MOAT_URL_WEB}\\n`)).listen(3000, "0.0.0.0")';

dockerTest('two runs with the same ports are each reached by name through the router, over HTTP and HTTPS with moat\'s CA; a stopped one gets the 502 page', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'dependencies:\n  - node@20\nports:\n  web: 3000\n'});
	const port = await freePort();
	const env = {...sandbox.env, MOAT_ROUTER_PORT: String(port)};
	t.teardown(async () => {
		await destroyRuns(env);
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	for (const name of ['alpha', 'beta']) {
		const started = await moat(['run', workspace, '-d', '-n', name, '--', 'node', '-e', serverScript], {env});
		t.is(started.code, 0, started.stderr);
	}

	const curl = async (name: string, scheme = 'http', extra: string[] = []) => {
		try {
			const {stdout} = await execFileAsync('curl', ['-sS', '-m', String(clientTimeoutSeconds), '--noproxy', '*', '-w', '%{http_code}', '--resolve', `web.${name}.localhost:${port}:127.0.0.1`, ...extra, `${scheme}://web.${name}.localhost:${port}/hello`]);
			return stdout;
		} catch (error) {
			return `failed: ${(error as Error).message}`;
		}
	};

	await eventually(async () => (await curl('alpha')).endsWith('200'));
	t.is(await curl('alpha'), `alpha /hello http://web.alpha.localhost:${port}\n200`);
	await eventually(async () => (await curl('beta')).endsWith('200'));
	t.is(await curl('beta'), `beta /hello http://web.beta.localhost:${port}\n200`);
	const ca = path.join(sandbox.moatHome, 'proxy', 'ca.pem');
	t.is(await curl('beta', 'https', ['--cacert', ca]), `beta /hello http://web.beta.localhost:${port}\n200`);

	const listed = await moat(['list'], {env});
	t.regex(listed.stdout, /alpha .* web/);
	const stopped = await moat(['stop', 'alpha'], {env});
	t.is(stopped.code, 0, stopped.stderr);
	const page = await curl('alpha');
	t.regex(page, /alpha is not running[\s\S]*502$/);
	t.regex(await curl('gamma'), /No run named gamma[\s\S]*404$/);
});

dockerTest('read-only mounts are really read-only, from agent.yaml and from -m; a read-write one is writable', async t => {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'agent.yaml': 'mounts:\n  - ./data:/data:ro\n'});
	const extra = await createWorkspace(1000, 1000, {'notes.txt': 'from -m\n'});
	await fs.mkdir(path.join(workspace, 'data'));
	await fs.writeFile(path.join(workspace, 'data', 'seed.txt'), 'seeded\n');
	await fs.chown(path.join(workspace, 'data'), 1000, 1000);
	t.teardown(async () => {
		await destroyRuns(sandbox.env);
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
		await fs.rm(extra, {recursive: true, force: true});
	});
	const script = [
		'cat /data/seed.txt /extra/notes.txt',
		'touch /data/new 2>&1 || echo data-refused',
		'touch /extra/new 2>&1 || echo extra-refused',
		'touch /writable/new && echo writable-ok',
	].join('; ');
	const result = await moat(['run', workspace, '-m', `${extra}:/extra:ro`, '-m', `${extra}:/writable`, '--', 'sh', '-c', script], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /seeded\nfrom -m\n/);
	t.regex(result.stdout, /Read-only file system[\s\S]*data-refused/);
	t.regex(result.stdout, /extra-refused/);
	t.regex(result.stdout, /writable-ok/);
	t.false(await fs.stat(path.join(workspace, 'data', 'new')).then(() => true, () => false));
	t.true(await fs.stat(path.join(extra, 'new')).then(() => true, () => false), 'the read-write mount of the same folder was written');
});
