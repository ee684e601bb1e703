import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {createDaemonLog} from '../source/daemon/daemon-log.js';
import {longestRetryMilliseconds, nextRetryDelay, retryDue, watchMilliseconds, freedBytesWorthRetrying} from '../source/daemon/daemon-watchers.js';
import {createStorageHealth, describeStorage} from '../source/daemon/storage-health.js';
import {writeFileAtomic} from '../source/files/atomic-write.js';
import {diskFullError, isDiskFull, writingTo} from '../source/files/disk-full.js';
import {openLineAppender, repairTornLine} from '../source/files/line-appender.js';

const errno = (code: string) => Object.assign(new Error(`${code}: failed, write`), {code});

async function temporaryDirectory(t: {teardown(fn: () => Promise<void>): void}) {
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-full-disk-'));
	t.teardown(async () => fs.rm(directory, {recursive: true, force: true}));
	return directory;
}

for (const [error, full] of [
	[errno('ENOSPC'), true],
	[errno('EDQUOT'), true],
	[new Error('wrapped', {cause: errno('ENOSPC')}), true],
	[errno('EACCES'), false],
	[new Error('plain'), false],
	[undefined, false],
] as const) {
	test(`isDiskFull: ${error ? `${(error as {code?: string}).code ?? error.message}` : 'nothing'} is ${full ? '' : 'not '}a full disk`, t => {
		t.is(isDiskFull(error), full);
	});
}

test('a full disk is said with the folder and what to free, and still reads as a full disk', async t => {
	const error = diskFullError('/home/me/.moat/runs/run_1', errno('ENOSPC'));
	t.regex(error.message, /The disk holding \/home\/me\/\.moat\/runs\/run_1 is full/);
	t.false(error.message.includes('ENOSPC'));
	t.true(error.hint.includes('moat clean'));
	t.true(isDiskFull(error));
	const thrown = await t.throwsAsync(writingTo('/somewhere', async () => {
		throw errno('ENOSPC');
	}));
	t.regex(thrown.message, /The disk holding \/somewhere is full/);
	await t.throwsAsync(writingTo('/somewhere', async () => {
		throw errno('EACCES');
	}), {message: /EACCES/});
});

test('storage health keeps what waits for space until it is written, says each trouble once, and ignores other errors', t => {
	let clock = Date.parse('2026-01-01T00:00:00Z');
	const health = createStorageHealth(() => new Date(clock));
	t.is(health.report(), undefined);
	t.is(health.failed('output of run_1', errno('ENOSPC')), 'new');
	clock += 1000;
	t.is(health.failed('output of run_1', errno('ENOSPC')), 'again');
	t.is(health.failed('record of run_1', errno('EDQUOT')), 'new');
	t.is(health.failed('audit log of run_1', errno('EACCES')), 'other');
	t.deepEqual(health.report(), {since: '2026-01-01T00:00:00.000Z', waiting: ['output of run_1', 'record of run_1']});
	t.true(health.wrote('output of run_1'));
	t.false(health.wrote('output of run_1'));
	t.deepEqual(health.report(), {since: '2026-01-01T00:00:01.000Z', waiting: ['record of run_1']});
	t.true(health.wrote('record of run_1'));
	t.is(health.report(), undefined);

	const words = describeStorage({since: '2026-01-01T00:00:00.000Z', waiting: ['output of run_1', 'daemon-state.json']}, '/m');
	t.is(words?.message, 'The disk holding /m is full: since 2026-01-01T00:00:00.000Z the daemon could not write the output of run_1, the daemon-state.json.');
	t.true(words?.fix.includes('moat clean'));
	t.is(describeStorage(undefined, '/m'), undefined);
});

test('a write that found no room is tried again after a doubling delay, up to the longest, or at once when space is freed', t => {
	const delays = [nextRetryDelay(undefined)];
	while (delays.at(-1)! < longestRetryMilliseconds) {
		delays.push(nextRetryDelay(delays.at(-1)));
	}

	t.is(delays[0], watchMilliseconds);
	t.is(delays.at(-1), longestRetryMilliseconds);
	t.is(nextRetryDelay(longestRetryMilliseconds), longestRetryMilliseconds);
	for (const [index, delay] of delays.slice(1).entries()) {
		t.true(delay > delays[index]!);
	}

	const stalled = {retryAt: 10_000, freeBytes: 1000};
	t.false(retryDue(stalled, 9999, 1000));
	t.false(retryDue(stalled, 9999, undefined));
	t.false(retryDue(stalled, 9999, 1000 + freedBytesWorthRetrying - 1));
	t.true(retryDue(stalled, 9999, 1000 + freedBytesWorthRetrying));
	t.true(retryDue(stalled, 10_000, 0));
});

test('the daemon\'s log never throws on a failed write, and says how many lines it lost once it can write again', t => {
	const written: string[] = [];
	let failing = 2;
	const log = createDaemonLog(text => {
		if (failing > 0) {
			failing--;
			throw errno('ENOSPC');
		}

		written.push(text);
	}, () => new Date('2026-01-01T00:00:00Z'));
	t.notThrows(() => {
		log('one');
		log('two');
		log('three');
	});
	t.deepEqual(written, [
		'2026-01-01T00:00:00.000Z (2 lines of this log could not be written, most likely for want of space)\n',
		'2026-01-01T00:00:00.000Z three\n',
	]);
});

test('a line appender cuts a torn last line on opening and appends whole lines after it', async t => {
	const directory = await temporaryDirectory(t);
	const file = path.join(directory, 'log.jsonl');
	// The torn line is longer than the block read from the end at a time.
	await fs.writeFile(file, `{"a":1}\n{"b":"${'x'.repeat(100_000)}`);
	const appender = await openLineAppender(file);
	await appender.append('{"c":3}\n');
	await appender.append('');
	await appender.close();
	t.is(await fs.readFile(file, 'utf8'), '{"a":1}\n{"c":3}\n');
	const created = path.join(directory, 'new.jsonl');
	await (await openLineAppender(created)).close();
	t.is((await fs.stat(created)).mode & 0o777, 0o600, 'a new file is private');

	await fs.writeFile(file, 'no newline at all');
	await repairTornLine(file);
	t.is(await fs.readFile(file, 'utf8'), '');
	await repairTornLine(path.join(directory, 'missing.jsonl'));
	await t.throwsAsync(fs.stat(path.join(directory, 'missing.jsonl')), {code: 'ENOENT'});
});

test('writeFileAtomic replaces a file whole with exactly the mode asked, and leaves nothing behind when it cannot', async t => {
	const directory = await temporaryDirectory(t);
	const file = path.join(directory, 'state.json');
	await fs.writeFile(file, '{"old":true}\n');
	await writeFileAtomic(file, '{"new":true}\n', 0o644);
	t.is(await fs.readFile(file, 'utf8'), '{"new":true}\n');
	t.is((await fs.stat(file)).mode & 0o777, 0o644);
	t.deepEqual(await fs.readdir(directory), ['state.json']);

	// The rename fails (a folder stands in the way): the old content stays, and no temporary file.
	const blocked = path.join(directory, 'blocked');
	await fs.mkdir(path.join(blocked, 'inside'), {recursive: true});
	await t.throwsAsync(writeFileAtomic(blocked, 'x'));
	t.deepEqual((await fs.readdir(directory)).sort(), ['blocked', 'state.json']);
});
