import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import type {NetworkEntry} from '../source/proxy/proxy-server.js';
import {countEntries, createRunCounter} from '../source/dashboard/run-counts.js';

async function temporaryFile(t: ExecutionContext): Promise<string> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-run-counts-'));
	t.teardown(async () => {
		await fs.rm(root, {recursive: true, force: true});
	});
	return path.join(root, 'network.jsonl');
}

/** A network.jsonl line as the daemon writes it (JSON.stringify of the entry). */
function line(url: string, blocked = false): string {
	const entry: NetworkEntry = {
		ts: '2026-11-22T12:00:00.000Z', method: 'GET', url, status: blocked ? 403 : 200, duration_ms: 3,
		bytes_in: 0, bytes_out: 10, grant: null, blocked, error: blocked ? 'not allowed' : null,
	};
	return JSON.stringify(entry) + '\n';
}

test('countEntries counts complete lines and blocked ones, and hands back a torn last line', t => {
	const cases: Array<[text: string, requests: number, blocked: number, partial: string]> = [
		['', 0, 0, ''],
		[line('https://a.example/'), 1, 0, ''],
		[line('https://a.example/') + line('https://b.example/', true), 2, 1, ''],
		[line('https://a.example/', true) + '{"ts":"2026', 1, 1, '{"ts":"2026'],
		// A torn line is not counted, even if it already says blocked.
		[line('https://a.example/', true).slice(0, -2), 0, 0, line('https://a.example/', true).slice(0, -2)],
		['\n\n' + line('https://a.example/') + '  \n', 1, 0, ''],
		// A URL that contains the marker is escaped by JSON, so it is not a blocked request.
		[line('https://a.example/?q="blocked":true'), 1, 0, ''],
	];
	for (const [text, requests, blocked, partial] of cases) {
		t.deepEqual(countEntries(text), {requests, blocked, partial}, JSON.stringify(text).slice(0, 60));
	}
});

test('createRunCounter counts a growing file, carrying a torn line over to the next look', async t => {
	const file = await temporaryFile(t);
	const counter = createRunCounter();
	t.deepEqual(await counter.count('run_a', file), {requests: 0, blocked: 0}, 'no file yet');
	await fs.writeFile(file, line('https://a.example/') + line('https://b.example/', true));
	t.deepEqual(await counter.count('run_a', file), {requests: 2, blocked: 1});
	const torn = line('https://c.example/', true);
	await fs.appendFile(file, torn.slice(0, 20));
	t.deepEqual(await counter.count('run_a', file), {requests: 2, blocked: 1}, 'half a line is not a request yet');
	await fs.appendFile(file, torn.slice(20) + line('https://d.example/'));
	t.deepEqual(await counter.count('run_a', file), {requests: 4, blocked: 2});
	t.deepEqual(await counter.count('run_a', file), {requests: 4, blocked: 2}, 'looking again without changes counts nothing twice');
});

test('createRunCounter reads only what was appended since its last look', async t => {
	const file = await temporaryFile(t);
	const counter = createRunCounter();
	const first = line('https://a.example/');
	await fs.writeFile(file, first);
	t.deepEqual(await counter.count('run_a', file), {requests: 1, blocked: 0});
	// Rewrite the first line in place (same length, same file): a counter that re-read it would now see it blocked.
	const handle = await fs.open(file, 'r+');
	await handle.write(first.replace('"blocked":false', '"blocked":true '), 0);
	await handle.close();
	await fs.appendFile(file, line('https://b.example/'));
	t.deepEqual(await counter.count('run_a', file), {requests: 2, blocked: 0});
});

test('createRunCounter starts over when the file is truncated, replaced or removed', async t => {
	const file = await temporaryFile(t);
	const counter = createRunCounter();
	await fs.writeFile(file, line('https://a.example/', true) + line('https://b.example/') + line('https://c.example/'));
	t.deepEqual(await counter.count('run_a', file), {requests: 3, blocked: 1});
	await fs.truncate(file, 0);
	await fs.appendFile(file, line('https://d.example/'));
	t.deepEqual(await counter.count('run_a', file), {requests: 1, blocked: 0}, 'truncated');
	// A new file renamed over the old one, longer than what was read: only its inode says it is new.
	const replacement = `${file}.new`;
	await fs.writeFile(replacement, line('https://e.example/', true) + line('https://f.example/', true));
	await fs.rename(replacement, file);
	t.deepEqual(await counter.count('run_a', file), {requests: 2, blocked: 2}, 'replaced');
	await fs.rm(file);
	t.deepEqual(await counter.count('run_a', file), {requests: 0, blocked: 0}, 'removed');
	await fs.writeFile(file, line('https://g.example/'));
	t.deepEqual(await counter.count('run_a', file), {requests: 1, blocked: 0}, 'written again');
});

test('createRunCounter keeps each run\'s count apart', async t => {
	const first = await temporaryFile(t);
	const second = await temporaryFile(t);
	const counter = createRunCounter();
	await fs.writeFile(first, line('https://a.example/', true));
	await fs.writeFile(second, line('https://b.example/') + line('https://c.example/'));
	t.deepEqual(await counter.count('run_a', first), {requests: 1, blocked: 1});
	t.deepEqual(await counter.count('run_b', second), {requests: 2, blocked: 0});
	await fs.appendFile(first, line('https://d.example/'));
	t.deepEqual(await counter.count('run_a', first), {requests: 2, blocked: 1});
	t.deepEqual(await counter.count('run_b', second), {requests: 2, blocked: 0});
});
