import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {createFileWatcher, type FileChange} from '../source/dashboard/file-watcher.js';
import {until} from './helpers/deadline.js';

async function folder(t: {teardown(fn: () => Promise<void>): void}): Promise<string> {
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-file-watcher-'));
	t.teardown(async () => fs.rm(directory, {recursive: true, force: true}));
	return directory;
}

test('an append to a watched file is reported as a change, by the kernel\'s notification', async t => {
	const directory = await folder(t);
	const file = path.join(directory, 'logs.jsonl');
	await fs.writeFile(file, '');
	const changes: FileChange[] = [];
	const watch = createFileWatcher().watch([file], {depth: 0, onChange(change) {
		changes.push(change);
	}});
	t.teardown(async () => watch.close());
	await watch.ready;
	t.deepEqual(changes, [], 'what was there already is not news');
	await fs.appendFile(file, '{"line":"hello"}\n');
	await until(() => changes.some(change => change.kind === 'change' && change.path === file), 'the change');
	t.true(changes.every(change => change.path === file), JSON.stringify(changes));
});

test('a watched file that does not exist yet is reported when it appears, and its writes after that', async t => {
	const directory = await folder(t);
	const file = path.join(directory, 'audit', 'entries.jsonl');
	const changes: FileChange[] = [];
	const watch = createFileWatcher().watch([file], {depth: 0, onChange(change) {
		changes.push(change);
	}});
	t.teardown(async () => watch.close());
	await watch.ready;
	await fs.mkdir(path.dirname(file));
	await fs.writeFile(file, '1\n');
	await until(() => changes.some(change => change.kind === 'add' && change.path === file), 'the file appear');
	const seen = changes.length;
	await fs.appendFile(file, '2\n');
	await until(() => changes.length > seen && changes.at(-1)!.kind === 'change', 'the append');
	t.deepEqual(changes.find(change => change.kind === 'add'), {kind: 'add', path: file});
});

test('a folder watched at depth 0 reports folders coming and going in it, not writes inside them', async t => {
	const directory = await folder(t);
	await fs.mkdir(path.join(directory, 'run_000000000001'));
	const changes: FileChange[] = [];
	const watch = createFileWatcher().watch([directory], {depth: 0, onChange(change) {
		changes.push(change);
	}});
	t.teardown(async () => watch.close());
	await watch.ready;
	await fs.writeFile(path.join(directory, 'run_000000000001', 'metadata.json'), '{}');
	await fs.mkdir(path.join(directory, 'run_000000000002'));
	await until(() => changes.some(change => change.kind === 'addDir'), 'the new folder');
	await fs.rm(path.join(directory, 'run_000000000001'), {recursive: true});
	await until(() => changes.some(change => change.kind === 'unlinkDir'), 'the folder go');
	// Events are in order: the write inside came before the new folder, so it would be here by now.
	t.false(changes.some(change => change.path.endsWith('metadata.json')), 'nothing from inside a run folder');
});

test('a closed watch reports nothing more', async t => {
	const directory = await folder(t);
	const file = path.join(directory, 'network.jsonl');
	const other = path.join(directory, 'logs.jsonl');
	await fs.writeFile(file, '');
	await fs.writeFile(other, '');
	const closed: FileChange[] = [];
	const open: FileChange[] = [];
	const watcher = createFileWatcher();
	const first = watcher.watch([file], {depth: 0, onChange(change) {
		closed.push(change);
	}});
	// A second watch of the same folder, still open, proves the notification arrived.
	const second = watcher.watch([file, other], {depth: 0, onChange(change) {
		open.push(change);
	}});
	t.teardown(async () => second.close());
	await Promise.all([first.ready, second.ready]);
	await first.close();
	await fs.appendFile(file, '1\n');
	await fs.appendFile(other, '1\n');
	await until(() => open.some(change => change.path === other) && open.some(change => change.path === file), 'both writes on the open watch');
	t.deepEqual(closed, []);
});
