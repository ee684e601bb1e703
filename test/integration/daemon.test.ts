import {spawn} from 'node:child_process';
import process from 'node:process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import {dockerTest} from '../helpers/docker.js';
import {createSandbox, createWorkspace, daemonPidOf, docker, moat, processAlive, type Sandbox} from '../helpers/moat.js';
import {waitDeadlineMilliseconds} from '../helpers/deadline.js';

/**
 * The daemon's life: one per MOAT_HOME, started on demand, replaced when
 * its settings differ, gone when idle, and able to start whatever its
 * predecessor left behind.
 */

async function setUp(t: ExecutionContext): Promise<Sandbox> {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	return sandbox;
}

const lockPid = async (sandbox: Sandbox) => daemonPidOf(sandbox.moatHome);
const alive = processAlive;

async function eventually(condition: () => Promise<boolean> | boolean, timeoutMilliseconds = waitDeadlineMilliseconds): Promise<boolean> {
	const deadline = Date.now() + timeoutMilliseconds;
	while (Date.now() < deadline) {
		if (await condition()) {
			return true;
		}

		await new Promise(resolve => setTimeout(resolve, 100));
	}

	return condition();
}

dockerTest('several moat commands starting the daemon at once end up with one daemon, the one in the lock', async t => {
	const sandbox = await setUp(t);
	const results = await Promise.all([1, 2, 3].map(async () => moat(['proxy', 'start', '--json'], {env: sandbox.env})));
	for (const result of results) {
		t.is(result.code, 0, result.stderr);
	}

	const pids = new Set(results.map(result => (JSON.parse(result.stdout) as {pid: number}).pid));
	t.is(pids.size, 1);
	t.is([...pids][0], await lockPid(sandbox));
	const socket = await fs.stat(path.join(sandbox.moatHome, 'daemon.sock'));
	t.true(socket.isSocket());
	t.is(socket.mode & 0o777, 0o600);
});

dockerTest('a daemon started with other upstream overrides is replaced, and says why', async t => {
	const sandbox = await setUp(t);
	t.is((await moat(['proxy', 'start'], {env: sandbox.env})).code, 0);
	const first = await lockPid(sandbox);
	const again = await moat(['proxy', 'start'], {env: sandbox.env});
	t.is(await lockPid(sandbox), first, 'the same settings reuse the daemon');
	t.is(again.stderr, '');
	const replaced = await moat(['proxy', 'start'], {env: {...sandbox.env, MOAT_UPSTREAM_OVERRIDES: 'api.github.com=127.0.0.1:9'}});
	t.is(replaced.code, 0, replaced.stderr);
	t.regex(replaced.stderr, /^Restarting the moat daemon: its MOAT_UPSTREAM_OVERRIDES changed\.$/m);
	const second = await lockPid(sandbox);
	t.not(second, first);
	t.false(alive(first));
});

dockerTest('an idle daemon with no runs exits by itself and removes its socket', async t => {
	const sandbox = await setUp(t);
	const env = {...sandbox.env, MOAT_DAEMON_IDLE_MS: '1000'};
	t.is((await moat(['proxy', 'start'], {env})).code, 0);
	const pid = await lockPid(sandbox);
	t.true(await eventually(() => !alive(pid)), 'the daemon is still running');
	await t.throwsAsync(fs.stat(path.join(sandbox.moatHome, 'daemon.sock')));
	const status = await moat(['proxy', 'status'], {env});
	t.is(status.code, 1);
	t.regex(status.stdout, /not running/);
});

dockerTest('a daemon starts over a lock left by a dead daemon, and over one naming a live process that is not a daemon', async t => {
	const sandbox = await setUp(t);
	await fs.mkdir(sandbox.moatHome, {recursive: true});
	const lock = path.join(sandbox.moatHome, 'daemon.lock');
	await fs.writeFile(lock, '2147483646');
	const overDead = await moat(['proxy', 'start'], {env: sandbox.env});
	t.is(overDead.code, 0, overDead.stderr);
	t.not(await lockPid(sandbox), 2_147_483_646);
	t.is((await moat(['proxy', 'stop'], {env: sandbox.env})).code, 0);

	const impostor = spawn('sleep', ['60'], {stdio: 'ignore'});
	t.teardown(() => impostor.kill());
	await fs.writeFile(lock, String(impostor.pid));
	const overImpostor = await moat(['proxy', 'start'], {env: sandbox.env});
	t.is(overImpostor.code, 0, overImpostor.stderr);
	t.not(await lockPid(sandbox), impostor.pid);
	t.true(alive(impostor.pid!), 'the unrelated process is left alone');
});

dockerTest('a damaged daemon-state.json does not keep the daemon from starting', async t => {
	const sandbox = await setUp(t);
	await fs.mkdir(sandbox.moatHome, {recursive: true});
	await fs.writeFile(path.join(sandbox.moatHome, 'daemon-state.json'), '{"proxyPort": 1, "network": "moat-sealed", "runs": {"x": {"runId": 5}}}');
	const started = await moat(['proxy', 'start', '--json'], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	const status = JSON.parse(started.stdout) as {gateway: {state: string}; registered: unknown[]};
	t.deepEqual(status.registered, []);
	t.is(status.gateway.state, 'ready');
});

dockerTest('moat proxy stop stops the daemon; stop again says it was not running; a wrong action is a usage error', async t => {
	const sandbox = await setUp(t);
	t.is((await moat(['proxy', 'start'], {env: sandbox.env})).code, 0);
	const pid = await lockPid(sandbox);
	const stopped = await moat(['proxy', 'stop'], {env: sandbox.env});
	t.is(stopped.code, 0, stopped.stderr);
	t.is(stopped.stdout, 'Stopped the moat daemon.\n');
	t.false(alive(pid));
	const again = await moat(['proxy', 'stop'], {env: sandbox.env});
	t.is(again.stdout, 'The moat daemon was not running.\n');
	const wrong = await moat(['proxy', 'launch'], {env: sandbox.env});
	t.is(wrong.code, 2);
	t.regex(wrong.stderr, /^moat: Unknown proxy action "launch"\.\nUse moat proxy start, stop, status or restart\.\n$/);
});

dockerTest('the daemon makes the next run\'s network ahead: the next run takes it, one left by a daemon that died goes at the next start, and none outlives moat proxy stop', async t => {
	const sandbox = await setUp(t);
	const workspace = await createWorkspace();
	t.teardown(async () => fs.rm(workspace, {recursive: true, force: true}));
	const runNetworks = async () => (await docker('network', 'ls', '--filter', 'label=moat.run-network=true', '--filter', `label=moat.home=${sandbox.moatHome}`, '--format', '{{.Name}}'))
		.split('\n').filter(Boolean).map(name => name.replace(/^moat-run-/, ''));
	const runIds = async () => (JSON.parse((await moat(['list', '--json'], {env: sandbox.env})).stdout) as Array<{id: string}>).map(run => run.id);

	const first = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	t.is(first.code, 0, first.stderr);
	// The first run's network goes just after it; the one left is made for a run not started yet.
	t.true(await eventually(async () => {
		const networks = await runNetworks();
		return networks.length === 1 && !(await runIds()).includes(networks[0]!);
	}), `networks: ${(await runNetworks()).join(', ')}`);
	const [madeAhead] = await runNetworks();

	const second = await moat(['run', workspace, '--', 'sh', '-c', 'echo "$MOAT_RUN_ID"'], {env: sandbox.env});
	t.is(second.code, 0, second.stderr);
	t.is(second.stdout.trim(), madeAhead!, 'the second run took the network made ahead for it');

	// A daemon that dies leaves the network it made ahead; the next daemon's gateway takes it down.
	t.true(await eventually(async () => (await runNetworks()).some(id => id !== madeAhead)));
	const left = (await runNetworks()).filter(id => id !== madeAhead);
	process.kill(await lockPid(sandbox), 'SIGKILL');
	t.true(await eventually(async () => !alive(await lockPid(sandbox))));
	t.is((await moat(['proxy', 'start'], {env: sandbox.env})).code, 0);
	t.false((await runNetworks()).some(id => left.includes(id)), 'the network left by the dead daemon is gone');

	// A run to make one ahead again, then the stop takes it (and the run's own) down.
	t.is((await moat(['run', workspace, '--', 'true'], {env: sandbox.env})).code, 0);
	t.true(await eventually(async () => (await runNetworks()).length > 0));
	t.is((await moat(['proxy', 'stop'], {env: sandbox.env})).code, 0);
	t.deepEqual(await runNetworks(), []);
});
