import fs from 'node:fs/promises';
import path from 'node:path';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {docker, eventually, readJson} from '../helpers/moat.js';
import {createWorld, runIdOf, type World} from '../helpers/proxy-world.js';

/**
 * Records that survive damage (issue 18): a run folder's files are edited
 * on disk the way the issue did it, and every command that reads them is
 * run for real against what is left.
 */

type Listed = RunMetadata | {id: string; name: string | null; state: 'damaged'; createdAt: string; damage: string; fix: string};

const runFolder = (world: World, id: string) => path.join(world.sandbox.moatHome, 'runs', id);

/** Starts `moat run -d -- sh -c SCRIPT` and waits until the run has ended and moat has finished its record. */
async function finishedRun(world: World, name: string, script: string): Promise<string> {
	const id = runIdOf(await world.moat(['run', world.workspace, '-d', '-n', name, '--', 'sh', '-c', script]));
	await eventually(async () => {
		const run = await readJson<RunMetadata>(path.join(runFolder(world, id), 'metadata.json')).catch(() => undefined);
		return run?.state === 'stopped' && run.containerId === null;
	});
	return id;
}

async function listed(world: World): Promise<Listed[]> {
	const result = await world.moat(['list', '--json']);
	if (result.code !== 0) {
		throw new Error(`moat list --json failed: ${result.stderr}`);
	}

	return JSON.parse(result.stdout) as Listed[];
}

dockerTest('damaged metadata.json ({}, a wrong-typed field, no id, invalid JSON) is listed as damaged with the reason and the fix; other runs keep working; logs and audit still read it; stop and attach refuse; destroy removes it', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const good = await finishedRun(world, 'good', 'echo good-output');
	const damages: Array<{name: string; damage: (text: string) => string; reason: RegExp}> = [
		{name: 'empty-object', damage: () => '{}\n', reason: /metadata\.json: field id is missing; field name is missing \(and 18 more\)/},
		{name: 'wrong-type', damage: text => JSON.stringify({...JSON.parse(text) as RunMetadata, state: 42}), reason: /metadata\.json: field state must be one of created, running, stopped, failed/},
		{name: 'no-id', damage: text => JSON.stringify({...JSON.parse(text) as RunMetadata, id: undefined}), reason: /metadata\.json: field id is missing/},
		{name: 'invalid-json', damage: text => text.slice(0, Math.floor(text.length / 2)), reason: /metadata\.json is not valid JSON/},
	];
	const victims: Array<{id: string; name: string; reason: RegExp}> = [];
	for (const {name, damage, reason} of damages) {
		const id = await finishedRun(world, name, `echo ${name}-output`);
		const file = path.join(runFolder(world, id), 'metadata.json');
		await fs.writeFile(file, damage(await fs.readFile(file, 'utf8')));
		victims.push({id, name, reason});
	}

	// moat list: every run, the damaged ones as damaged, with what is wrong and the fix on stderr.
	const table = await world.moat(['list']);
	t.is(table.code, 0, table.stderr);
	t.regex(table.stdout, new RegExp(`^good\\s+${good}\\s+-\\s+stopped \\(0\\)`, 'm'));
	for (const {id, reason} of victims) {
		t.regex(table.stdout, new RegExp(`^\\S+\\s+${id}\\s+-\\s+damaged\\s`, 'm'), id);
		const note = table.stderr.split('\n').find(line => line.includes(id)) ?? '';
		t.regex(note, reason, id);
		t.true(note.endsWith(`remove it with moat destroy ${id}.`), note);
	}

	// moat list --json: state damaged, the damage and the fix.
	const json = await listed(world);
	t.like(json.find(run => run.id === good), {name: 'good', state: 'stopped'});
	for (const {id, reason} of victims) {
		const run = json.find(each => each.id === id);
		t.like(run, {state: 'damaged', fix: `moat destroy ${id}`}, id);
		t.regex(run?.state === 'damaged' ? run.damage : '', reason, id);
	}

	// moat status counts them.
	const status = await world.moat(['status', '--json']);
	t.is(status.code, 0, status.stderr);
	t.like(JSON.parse(status.stdout), {runs: {total: 5, stopped: 1, damaged: 4}});
	t.regex((await world.moat(['status'])).stdout, /^Runs {6}5 \(.*1 stopped.*, 4 damaged/m);

	// The other run is still found by name, by prefix and as the newest (a damaged run never stands in for it).
	for (const reference of [['good'], [good.slice(4, 12)], []]) {
		const logs = await world.moat(['logs', ...reference]);
		t.deepEqual([logs.code, logs.stdout], [0, 'good-output\n'], `moat logs ${reference.join(' ')}: ${logs.stderr}`);
	}

	for (const {id, name} of victims) {
		// Its output is still there to read, with a word about the record.
		const logs = await world.moat(['logs', id]);
		t.deepEqual([logs.code, logs.stdout], [0, `${name}-output\n`], logs.stderr);
		t.regex(logs.stderr, new RegExp(`${id} is damaged .*remove it with moat destroy ${id}`));

		// Its audit log is checked as it stands: the record's damage takes nothing from the proof.
		const audit = await world.moat(['audit', id]);
		t.is(audit.code, 0, `audit: ${audit.stderr}`);
		t.regex(audit.stdout, new RegExp(`^Audit log of ${id} \\((?:damaged|${name})\\)`, 'm'));
		t.regex(audit.stdout, /The run's record is damaged \(metadata\.json.*\); its audit log is checked as it stands\./);
		t.regex(audit.stdout, /^Sealed: the log ends with run\.exited/m);

		for (const command of ['stop', 'attach']) {
			const refused = await world.moat([command, id]);
			t.is(refused.code, 1, `${command}: ${refused.stderr}`);
			t.regex(refused.stderr, new RegExp(`Run ${id} is damaged: metadata\\.json[\\s\\S]*Remove it with moat destroy ${id}`), command);
		}
	}

	for (const {id} of victims) {
		const destroyed = await world.moat(['destroy', id]);
		t.deepEqual([destroyed.code, destroyed.stdout], [0, `${id}\n`], destroyed.stderr);
		await t.throwsAsync(fs.access(runFolder(world, id)), undefined, id);
	}

	t.deepEqual((await listed(world)).map(run => [run.id, run.state]), [[good, 'stopped']]);
});

dockerTest('a damaged run whose container still runs needs destroy -f, which removes the container with the record', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const id = runIdOf(await world.moat(['run', world.workspace, '-d', '-n', 'live', '--', 'sleep', '300']));
	const running = async () => docker('ps', '-q', '--filter', `label=moat.run-id=${id}`, '--filter', 'status=running');
	await eventually(async () => (await running()) !== '');
	await fs.writeFile(path.join(runFolder(world, id), 'metadata.json'), '{}');

	const refused = await world.moat(['destroy', id]);
	t.is(refused.code, 2, refused.stderr);
	t.regex(refused.stderr, new RegExp(`Run ${id} is damaged and its container is still running\\.[\\s\\S]*moat destroy -f ${id}`));
	t.not(await running(), '');

	const destroyed = await world.moat(['destroy', '-f', id]);
	t.is(destroyed.code, 0, destroyed.stderr);
	t.is(await docker('ps', '-aq', '--filter', `label=moat.run-id=${id}`), '');
	await t.throwsAsync(fs.access(runFolder(world, id)));
});

dockerTest('garbage lines in network.jsonl and logs.jsonl are skipped and counted: trace, trace --json and logs print the rest and say how many they skipped', async t => {
	const world = await createWorld(t, {hosts: ['api.github.com']});
	const id = await finishedRun(world, 'talker', 'echo first; curl -s -o /dev/null -w "%{http_code}\\n" https://api.github.com/one; echo second >&2');
	await eventually(async () => (await world.networkEntries(id)).length === 1);
	const folder = runFolder(world, id);

	// The damage: a garbage line (and two more of the wrong shape) around a real request.
	const request = await fs.readFile(path.join(folder, 'network.jsonl'), 'utf8');
	await fs.writeFile(path.join(folder, 'network.jsonl'), `this is not json\n${request}{}\n{"ts":"x","method":"GET","url":5}\n`);
	const trace = await world.moat(['trace', '--network', id]);
	t.is(trace.code, 0, trace.stderr);
	t.regex(trace.stdout, /^\[\d{2}:\d{2}:\d{2}\.\d{3}] GET https:\/\/api\.github\.com\/one 200 \(\d+ms\)$/m);
	t.is(trace.stderr, 'moat: skipped 3 unreadable lines in network.jsonl.\n');
	const traceJson = await world.moat(['trace', id, '--json']);
	t.is(traceJson.code, 0, traceJson.stderr);
	t.deepEqual((JSON.parse(traceJson.stdout) as Array<{url: string}>).map(entry => entry.url), ['https://api.github.com/one']);
	t.is(traceJson.stderr, 'moat: skipped 3 unreadable lines in network.jsonl.\n');

	const lines = (await fs.readFile(path.join(folder, 'logs.jsonl'), 'utf8')).split('\n').filter(Boolean);
	t.is(lines.length, 3, lines.join('\n'));
	await fs.writeFile(path.join(folder, 'logs.jsonl'), [lines[0], 'garbage', lines[1], '{"ts":1}', lines[2], ''].join('\n'));
	const logs = await world.moat(['logs', id]);
	t.deepEqual([logs.code, logs.stdout], [0, 'first\n200\n']);
	t.is(logs.stderr, 'second\nmoat: skipped 2 unreadable lines in logs.jsonl.\n');
	const last = await world.moat(['logs', '-n', '1', id]);
	t.deepEqual([last.code, last.stderr], [0, 'second\nmoat: skipped 2 unreadable lines in logs.jsonl.\n']);

	const list = await world.moat(['list']);
	t.is(list.code, 0, list.stderr);
	t.regex(list.stdout, new RegExp(`^talker\\s+${id}\\s+-\\s+stopped`, 'm'));
});
