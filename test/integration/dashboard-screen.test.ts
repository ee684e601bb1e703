import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {createRunStore} from '../../source/runs/run-store.js';
import {attachedKeys, overlayBindings} from '../../components/key-bindings.js';
import {createSandbox} from '../helpers/moat.js';
import {TmuxSession} from '../helpers/tmux.js';

/**
 * What the dashboard writes to a real terminal (tmux), byte for byte, and
 * what it draws when the engine does not answer, and its help on a small
 * terminal. The runs are records written straight into MOAT_HOME: no test
 * here needs a container.
 */

function record(id: string, name: string, overrides: Partial<RunMetadata> = {}): RunMetadata {
	return {
		id, name, workspace: '/w', agent: null, image: 'moat/run:x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, interactive: false, keep: false, state: 'stopped', createdAt: new Date().toISOString(),
		startedAt: null, stoppedAt: null, exitCode: 0, error: null, stopRequested: false, ...overrides,
	};
}

const ageOf = (screen: string, name: string) => new RegExp(`${name} +\\S+ +stopped \\(0\\) +run_[\\da-f]{12} +(\\d+[smhd])`).exec(screen)?.[1];

test.serial('an idle dashboard writes only the row whose age changed: no clear, no redrawn title, table header or hint bar', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	await createRunStore(sandbox.moatHome).create(record('run_0000000000e1', 'idle-run'));
	const dashboard = await TmuxSession.start([], {env: sandbox.env, rows: 20, columns: 100});
	t.teardown(async () => dashboard.kill());
	// The pane loaded: the dashboard itself is up, not only the first frame moat draws before it.
	const first = await dashboard.waitFor(screen => ageOf(screen, 'idle-run') !== undefined && /\? help · q quit/.test(screen) && !screen.includes('Loading…'));
	t.regex(first, /^moat · 1 run$/m);

	// Everything the program writes from here on, while nobody touches it.
	const written = path.join(sandbox.moatHome, '..', 'written.bin');
	await dashboard.tmux('pipe-pane', '-o', `cat >> '${written}'`);
	// Two ticks of the age, whenever they come.
	const before = ageOf(await dashboard.screen(), 'idle-run');
	const second = ageOf(await dashboard.waitFor(screen => ageOf(screen, 'idle-run') !== before), 'idle-run');
	const third = ageOf(await dashboard.waitFor(screen => ![before, second].includes(ageOf(screen, 'idle-run'))), 'idle-run')!;
	await dashboard.tmux('pipe-pane');
	const bytes = await fs.readFile(written, 'latin1');

	t.true(bytes.includes(`${third} `), 'the new age was written');
	t.false(bytes.includes('\u001B[2J'), 'the screen was never cleared');
	t.false(bytes.includes('\u001B[3J'), 'nor the scrollback');
	for (const unchanged of ['moat · 1 run', 'NAME', 'enter attach', 'q quit', 'Preview']) {
		t.false(bytes.includes(unchanged), `"${unchanged}" was not written again`);
	}
});

test.serial('with an engine that never answers, the dashboard draws the runs from their records at once', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	// An engine that takes every connection and never says a word (a busy or wedged Docker).
	const socket = path.join(sandbox.moatHome, '..', 'silent-engine.sock');
	const connections = new Set<net.Socket>();
	const engine = net.createServer(connection => {
		connections.add(connection);
	});
	await new Promise<void>(resolve => {
		engine.listen(socket, resolve);
	});
	t.teardown(() => {
		for (const connection of connections) {
			connection.destroy();
		}

		engine.close();
	});
	await createRunStore(sandbox.moatHome).create(record('run_0000000000e2', 'said-running', {state: 'running', containerId: 'c0ffee', exitCode: null}));
	await createRunStore(sandbox.moatHome).create(record('run_0000000000e3', 'ended-run'));
	const dashboard = await TmuxSession.start([], {env: {...sandbox.env, DOCKER_HOST: `unix://${socket}`}, rows: 20, columns: 100});
	t.teardown(async () => dashboard.kill());
	const screen = await dashboard.waitFor(current => /said-running +\S+ +running/.test(current) && /ended-run +\S+ +stopped \(0\)/.test(current));
	t.regex(screen, /^moat · 2 runs$/m);
});

test.serial('on a 60×15 terminal the help overlay pages: every key is on some page whole, nothing is cut, space goes round, another key closes it', async t => {
	const sandbox = await createSandbox();
	t.teardown(async () => sandbox.cleanup());
	await createRunStore(sandbox.moatHome).create(record('run_0000000000e4', 'small-run'));
	const size = {rows: 15, columns: 60};
	const dashboard = await TmuxSession.start([], {env: sandbox.env, ...size});
	t.teardown(async () => dashboard.kill());
	await dashboard.waitFor(screen => /small-run +stopped \(0\)/.test(screen) && /\? help · q quit/.test(screen));
	await dashboard.type('?');
	const pageOf = (screen: string) => /space: (?:more|first page) \((\d+)\/(\d+)\)/.exec(screen);
	const first = await dashboard.waitFor(screen => pageOf(screen)?.[1] === '1');
	const pages = Number(pageOf(first)![2]);
	t.true(pages > 1);
	const seen: string[] = [];
	let screen = first;
	for (let page = 1; ; page++) {
		const lines = screen.replace(/\n$/, '').split('\n');
		t.true(lines.length <= size.rows && lines.every(line => [...line].length <= size.columns), screen);
		t.false(screen.replaceAll('1…9', '').includes('…'), screen);
		seen.push(screen);
		if (page === pages) {
			break;
		}

		await dashboard.type(' ');
		screen = await dashboard.waitFor(current => pageOf(current)?.[1] === String(page + 1));
	}

	// Every key and its whole description, wherever its lines fell.
	const text = seen.join('\n').split(/\s+/).join(' ');
	for (const binding of [...overlayBindings, ...attachedKeys]) {
		t.true(text.includes(`${binding.label} ${binding.description}`), binding.label);
	}

	await dashboard.type(' ');
	await dashboard.waitFor(current => pageOf(current)?.[1] === '1');
	await dashboard.keys('Escape');
	const closed = await dashboard.waitFor(current => pageOf(current) === null && current.includes('small-run'));
	t.regex(closed, /\? help · q quit/);
});
