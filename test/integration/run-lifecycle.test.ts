import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {collect, createSandbox, createWorkspace, docker, eventually, moat, readJson, spawnMoat, waitForOutput, type Sandbox} from '../helpers/moat.js';

async function setUp(t: {teardown(fn: () => Promise<void>): void}): Promise<{sandbox: Sandbox; workspace: string}> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace();
	t.teardown(async () => {
		// Leave no containers behind, whatever the test did.
		const result = await moat(['list', '--json'], {env: sandbox.env});
		for (const run of JSON.parse(result.stdout || '[]') as RunMetadata[]) {
			await moat(['destroy', '-f', run.id], {env: sandbox.env});
		}

		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {sandbox, workspace};
}

async function metadata(sandbox: Sandbox, runId: string): Promise<RunMetadata> {
	return readJson<RunMetadata>(path.join(sandbox.moatHome, 'runs', runId, 'metadata.json'));
}

async function listJson(sandbox: Sandbox): Promise<RunMetadata[]> {
	const result = await moat(['list', '--json'], {env: sandbox.env});
	return JSON.parse(result.stdout) as RunMetadata[];
}

dockerTest('a detached run prints only its id, and list, logs, stop and destroy manage it', async t => {
	const {sandbox, workspace} = await setUp(t);
	const started = await moat(['run', workspace, '-d', '-n', 'sleeper', '--', 'sh', '-c', 'echo started; sleep 300'], {env: sandbox.env});
	t.is(started.code, 0, started.stderr);
	t.regex(started.stdout, /^run_[\da-f]{12}\n$/);
	const runId = started.stdout.trim();

	const listed = await moat(['list'], {env: sandbox.env});
	t.regex(listed.stdout, /^NAME\s+RUN ID\s+AGENT\s+STATE\s+AGE\s+SERVICES\n/);
	t.regex(listed.stdout, new RegExp(`sleeper\\s+${runId}\\s+-\\s+running`));

	await eventually(async () => (await moat(['logs', 'sleeper'], {env: sandbox.env})).stdout === 'started\n');

	const refused = await moat(['destroy', runId], {env: sandbox.env});
	t.is(refused.code, 2);
	t.regex(refused.stderr, /still running[\s\S]*moat destroy -f/);

	const stopped = await moat(['stop', runId.slice(4, 10)], {env: sandbox.env});
	t.is(stopped.code, 0, stopped.stderr);
	const afterStop = await metadata(sandbox, runId);
	t.is(afterStop.state, 'stopped');
	t.is(afterStop.containerId, null);
	t.is(await docker('ps', '-aq', '--filter', `label=moat.run-id=${runId}`), '');

	const destroyed = await moat(['destroy', runId], {env: sandbox.env});
	t.is(destroyed.code, 0, destroyed.stderr);
	await t.throwsAsync(fs.access(path.join(sandbox.moatHome, 'runs', runId)));
	const gone = await moat(['logs', runId], {env: sandbox.env});
	t.is(gone.code, 4);
});

dockerTest('stopping an interactive bash, which ignores SIGTERM, hangs it up: it ends on SIGHUP and reads stopped', async t => {
	const {sandbox, workspace} = await setUp(t);
	const runId = (await moat(['run', workspace, '-d', '-i', '-n', 'shell', '--', 'bash'], {env: sandbox.env})).stdout.trim();
	t.regex(runId, /^run_[\da-f]{12}$/);
	// An interactive bash ignores SIGTERM; the engine's default stop waited 10 s and killed it (137).
	const stopped = await moat(['stop', runId], {env: sandbox.env});
	t.is(stopped.code, 0, stopped.stderr);
	const run = await metadata(sandbox, runId);
	t.is(run.state, 'stopped');
	t.is(run.exitCode, 128 + 1, 'bash ended on the hangup (128 + SIGHUP), not on the kill after the grace (137)');
	const listed = await moat(['list'], {env: sandbox.env});
	t.regex(listed.stdout, new RegExp(`shell\\s+${runId}\\s+-\\s+stopped\\s+\\d+[smhd]\\s`), 'moat stopped it: no exit code in the state');
});

dockerTest('a bottle that ignores the stop signal gets it, then is killed after the grace, and reads stopped', async t => {
	const {sandbox, workspace} = await setUp(t);
	const script = 'trap "echo TERM reached" TERM; echo ready; while :; do sleep 1 & wait $!; done';
	const runId = (await moat(['run', workspace, '-d', '-n', 'stubborn', '--', 'bash', '-c', script], {env: sandbox.env})).stdout.trim();
	await eventually(async () => (await moat(['logs', runId], {env: sandbox.env})).stdout.includes('ready'));
	const stopped = await moat(['stop', runId], {env: sandbox.env});
	t.is(stopped.code, 0, stopped.stderr);
	const run = await metadata(sandbox, runId);
	t.is(run.state, 'stopped');
	t.is(run.exitCode, 137, 'it ignored SIGTERM, so the kill after the grace ended it');
	t.is(run.containerId, null);
	const logs = await moat(['logs', runId], {env: sandbox.env});
	t.regex(logs.stdout, /TERM reached/, 'the init passed SIGTERM on to the command');
	const listed = await moat(['list'], {env: sandbox.env});
	t.regex(listed.stdout, new RegExp(`stubborn\\s+${runId}\\s+-\\s+stopped\\s+\\d+[smhd]\\s`));
});

dockerTest('destroy -f removes a running run and its container', async t => {
	const {sandbox, workspace} = await setUp(t);
	const runId = (await moat(['run', workspace, '-d', '--', 'sleep', '300'], {env: sandbox.env})).stdout.trim();
	const result = await moat(['destroy', '-f', runId], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	t.is(await docker('ps', '-aq', '--filter', `label=moat.run-id=${runId}`), '');
	t.deepEqual(await listJson(sandbox), []);
});

dockerTest('output a detached run writes after its CLI was SIGKILLed still reaches moat logs, once', async t => {
	const {sandbox, workspace} = await setUp(t);
	const child = spawnMoat(['run', workspace, '--', 'sh', '-c', 'echo early; sleep 2; echo late; echo late-err >&2'], {env: sandbox.env});
	const done = collect(child);
	await waitForOutput(child, 'early');
	child.kill('SIGKILL');
	await done;

	const runId = (await fs.readdir(path.join(sandbox.moatHome, 'runs')))[0]!;
	await eventually(async () => (await docker('inspect', '-f', '{{.State.Status}}', `moat-${runId}`).catch(() => 'gone')) !== 'running');
	const logs = await moat(['logs', runId], {env: sandbox.env});
	t.is(logs.code, 0, logs.stderr);
	t.is(logs.stdout, 'early\nlate\n');
	t.is(logs.stderr, 'late-err\n');

	// Looking again must not copy the same lines a second time.
	const again = await moat(['logs', runId], {env: sandbox.env});
	t.is(again.stdout, 'early\nlate\n');
	const run = await metadata(sandbox, runId);
	t.is(run.state, 'stopped');
	t.is(run.exitCode, 0);
});

dockerTest('moat logs -n shows the last lines and -f follows until the run ends', async t => {
	const {sandbox, workspace} = await setUp(t);
	const runId = (await moat(['run', workspace, '-d', '--', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; sleep 1; echo after'], {env: sandbox.env})).stdout.trim();
	const followed = await moat(['logs', '-f', runId], {env: sandbox.env});
	t.is(followed.code, 0, followed.stderr);
	t.is(followed.stdout, 'line1\nline2\nline3\nline4\nline5\nafter\n');
	const tail = await moat(['logs', '-n', '2', runId], {env: sandbox.env});
	t.is(tail.stdout, 'line5\nafter\n');
});

dockerTest('--keep keeps the stopped container until clean removes it', async t => {
	const {sandbox, workspace} = await setUp(t);
	const result = await moat(['run', workspace, '--keep', '--', 'sh', '-c', 'echo kept > /tmp/evidence'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	const runId = (await fs.readdir(path.join(sandbox.moatHome, 'runs')))[0]!;
	const run = await metadata(sandbox, runId);
	t.is(run.state, 'stopped');
	t.truthy(run.containerId);
	t.is(await docker('inspect', '-f', '{{.State.Status}}', run.containerId!), 'exited');

	const dryRun = await moat(['clean', '--dry-run'], {env: sandbox.env});
	t.regex(dryRun.stdout, new RegExp(runId));
	t.is(await docker('inspect', '-f', '{{.State.Status}}', run.containerId!), 'exited', '--dry-run removes nothing');

	const noTerminal = await moat(['clean'], {env: sandbox.env});
	t.is(noTerminal.code, 2, 'without a terminal to confirm on, clean needs -f');

	const cleaned = await moat(['clean', '-f'], {env: sandbox.env});
	t.is(cleaned.code, 0, cleaned.stderr);
	await t.throwsAsync(docker('inspect', run.containerId!));
	t.deepEqual(await listJson(sandbox), []);
});

dockerTest('clean removes finished runs but leaves running ones, and never touches another MOAT_HOME\'s containers', async t => {
	const {sandbox, workspace} = await setUp(t);
	const other = await setUp(t);
	await moat(['run', other.workspace, '--keep', '-n', 'elsewhere', '--', 'true'], {env: other.sandbox.env});
	const [kept] = await listJson(other.sandbox);
	await moat(['run', workspace, '-n', 'finished', '--', 'true'], {env: sandbox.env});
	const running = (await moat(['run', workspace, '-d', '-n', 'busy', '--', 'sleep', '300'], {env: sandbox.env})).stdout.trim();
	const cleaned = await moat(['clean', '-f'], {env: sandbox.env});
	t.is(cleaned.code, 0, cleaned.stderr);
	const remaining = await listJson(sandbox);
	t.deepEqual(remaining.map(run => run.id), [running]);
	t.is(remaining[0]!.state, 'running');
	t.is(await docker('inspect', '-f', '{{.State.Status}}', kept!.containerId!), 'exited', 'the other home\'s kept container is still there');
});

dockerTest('a container killed outside moat becomes a failed run with its exit code', async t => {
	const {sandbox, workspace} = await setUp(t);
	const runId = (await moat(['run', workspace, '-d', '--', 'sleep', '300'], {env: sandbox.env})).stdout.trim();
	await docker('kill', `moat-${runId}`);
	const [run] = await listJson(sandbox);
	t.is(run!.state, 'failed');
	t.is(run!.exitCode, 137);
	t.is(run!.containerId, null);
});

dockerTest('a container removed outside moat becomes a failed run with a reason, not a crash', async t => {
	const {sandbox, workspace} = await setUp(t);
	const runId = (await moat(['run', workspace, '-d', '--', 'sleep', '300'], {env: sandbox.env})).stdout.trim();
	await docker('rm', '-f', `moat-${runId}`);
	const listed = await moat(['list'], {env: sandbox.env});
	t.is(listed.code, 0, listed.stderr);
	t.regex(listed.stdout, new RegExp(`${runId}\\s+-\\s+failed`));
	const run = await metadata(sandbox, runId);
	t.is(run.error, 'The container was removed outside moat.');
	const logs = await moat(['logs', runId], {env: sandbox.env});
	t.is(logs.code, 0);
});

dockerTest('Ctrl+C once detaches and the run goes on; twice within the window stops it', async t => {
	const {sandbox, workspace} = await setUp(t);
	const first = spawnMoat(['run', workspace, '-n', 'detach-me', '--', 'sh', '-c', 'echo ready; sleep 300'], {env: sandbox.env});
	const firstDone = collect(first);
	await waitForOutput(first, 'ready');
	first.kill('SIGINT');
	const detached = await firstDone;
	t.is(detached.code, 0, detached.stderr);
	t.regex(detached.stderr, /detached from run_/);
	const [stillRunning] = await listJson(sandbox);
	t.is(stillRunning!.state, 'running');

	// A wide window: on a loaded machine the second signal may come long after the message.
	const second = spawnMoat(['run', workspace, '-n', 'stop-me', '--', 'sh', '-c', 'echo ready; sleep 300'], {env: {...sandbox.env, MOAT_DOUBLE_INTERRUPT_MS: '60000'}});
	const secondDone = collect(second);
	await waitForOutput(second, 'ready');
	second.kill('SIGINT');
	await waitForOutput(second, 'press Ctrl+C again');
	second.kill('SIGINT');
	const stopped = await secondDone;
	t.is(stopped.code, 130, stopped.stderr);
	const runs = await listJson(sandbox);
	t.is(runs.find(run => run.name === 'stop-me')!.state, 'stopped');
	t.is(runs.find(run => run.name === 'detach-me')!.state, 'running');
});

dockerTest('moat status reports the engine, runs, images and disk usage', async t => {
	const {sandbox, workspace} = await setUp(t);
	await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
	const result = await moat(['status', '--json'], {env: sandbox.env});
	t.is(result.code, 0, result.stderr);
	const status = JSON.parse(result.stdout) as {
		engine: {reachable: boolean; serverVersion: string};
		runs: {total: number; stopped: number};
		images: Array<{tags: string[]}>;
		disk: {moatHomeBytes: number; imagesBytes: number};
	};
	t.true(status.engine.reachable);
	t.truthy(status.engine.serverVersion);
	t.is(status.runs.total, 1);
	t.is(status.runs.stopped, 1);
	t.true(status.images.some(image => image.tags.some(tag => tag.startsWith('moat/run:'))));
	t.true(status.disk.moatHomeBytes > 0);
	t.true(status.disk.imagesBytes > 0);
	const text = await moat(['status'], {env: sandbox.env});
	t.regex(text.stdout, /Engine\s+Docker .* \(API [\d.]+\)/);
});

/** A Unix socket path with nothing listening on it (ECONNREFUSED), as a stopped engine leaves behind. */
async function deadSocket(directory: string): Promise<string> {
	const live = path.join(directory, 'live.sock');
	const dead = path.join(directory, 'dead.sock');
	const server = net.createServer();
	await new Promise<void>(resolve => {
		server.listen(live, resolve);
	});
	// Closing the server removes its path; a second link to the socket stays, with no one behind it.
	await fs.link(live, dead);
	await new Promise(resolve => {
		server.close(resolve);
	});
	return dead;
}

dockerTest('with the engine down, list and status show the runs from their records, mark the unchecked ones and exit 3', async t => {
	const {sandbox, workspace} = await setUp(t);
	const live = (await moat(['run', workspace, '-d', '-n', 'live', '--', 'sleep', '300'], {env: sandbox.env})).stdout.trim();
	const finished = await moat(['run', workspace, '-n', 'finished', '--', 'true'], {env: sandbox.env});
	t.is(finished.code, 0, finished.stderr);
	const down = {...sandbox.env, DOCKER_HOST: `unix://${await deadSocket(sandbox.userHome)}`};
	const engineLines = /^moat: Cannot reach the Docker engine at .*dead\.sock\.[^\n]*\nStart Docker, or set DOCKER_HOST\.\n$/;

	const listed = await moat(['list'], {env: down});
	t.is(listed.code, 3, listed.stderr);
	t.regex(listed.stdout, new RegExp(`live\\s+${live}\\s+-\\s+running \\(not checked\\)`));
	t.regex(listed.stdout, /finished\s+run_[\da-f]{12}\s+-\s+stopped \(0\)\s/, 'a finished run needs no engine: its record is final');
	t.regex(listed.stderr, engineLines);
	t.regex(listed.stderr, /Runs marked "not checked" are shown as last recorded/);

	const json = await moat(['list', '--json'], {env: down});
	t.is(json.code, 3);
	const runs = JSON.parse(json.stdout) as Array<RunMetadata & {checked?: boolean}>;
	t.deepEqual(runs.map(run => [run.name, run.state, run.checked]), [['finished', 'stopped', undefined], ['live', 'running', false]]);

	const status = await moat(['status'], {env: down});
	t.is(status.code, 3);
	t.regex(status.stdout, /^Engine {4}unreachable at .*dead\.sock$/m);
	t.regex(status.stdout, /^Runs {6}2 \(0 created, 1 running, 1 stopped, 0 failed\)\n {10}as last recorded: 1 not checked, the engine is unreachable$/m);
	t.regex(status.stdout, /^Images {4}not checked, the engine is unreachable$/m);
	t.regex(status.stderr, engineLines);
	const statusJson = JSON.parse((await moat(['status', '--json'], {env: down})).stdout) as {runs: {total: number; running: number; unchecked: number}; images: unknown};
	t.deepEqual([statusJson.runs.total, statusJson.runs.running, statusJson.runs.unchecked, statusJson.images], [2, 1, 1, null]);

	// The engine back, the same runs are checked again: nothing was changed while it was away.
	const back = await moat(['list'], {env: sandbox.env});
	t.is(back.code, 0, back.stderr);
	t.regex(back.stdout, new RegExp(`live\\s+${live}\\s+-\\s+running\\s+\\d+[smhd]\\s`));
});
