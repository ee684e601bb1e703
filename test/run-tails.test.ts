import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import type {AuditEntry, Verification} from '../source/audit/audit-chain.js';
import {createAuditLog} from '../source/audit/audit-log.js';
import {
	auditTail,
	createTail,
	displayLogLine,
	formatAuditEntry,
	formatNetworkEntry,
	logTail,
	networkTail,
	runEnding,
	summarizeVerification,
} from '../source/dashboard/run-tails.js';
import type {NetworkEntry} from '../source/proxy/proxy-server.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';
import {createRunStore} from '../source/runs/run-store.js';

const runId = 'run_0123456789ab';

async function temporaryDirectory(t: ExecutionContext): Promise<string> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-run-tails-'));
	t.teardown(async () => {
		await fs.rm(root, {recursive: true, force: true});
	});
	return root;
}

const jsonLines = (values: readonly unknown[]) => values.map(value => JSON.stringify(value) + '\n').join('');

/** A tail of `{n}` lines whose parser counts the lines it is given. */
function countingTail(file: string, limit: number) {
	const counter = {parsed: 0};
	const tail = createTail(file, line => {
		counter.parsed++;
		return (JSON.parse(line) as {n: number}).n;
	}, {limit});
	return {tail, counter};
}

const numbered = (from: number, to: number) => jsonLines(Array.from({length: to - from}, (_, index) => ({n: from + index})));

test('createTail returns what was appended since the last read, parsing only the new lines, with a running total', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, numbered(0, 3));
	const {tail, counter} = countingTail(file, 10);
	t.deepEqual(await tail.read(), {entries: [0, 1, 2], total: 3, skipped: 0, changed: true});

	await fs.appendFile(file, numbered(3, 5));
	counter.parsed = 0;
	t.deepEqual(await tail.read(), {entries: [0, 1, 2, 3, 4], total: 5, skipped: 0, changed: true});
	t.is(counter.parsed, 2);

	counter.parsed = 0;
	t.deepEqual(await tail.read(), {entries: [0, 1, 2, 3, 4], total: 5, skipped: 0, changed: false});
	t.is(counter.parsed, 0);
});

test('createTail keeps only the newest `limit` entries while the total counts them all', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, numbered(0, 7));
	const {tail} = countingTail(file, 3);
	t.deepEqual(await tail.read(), {entries: [4, 5, 6], total: 7, skipped: 0, changed: true});
	await fs.appendFile(file, numbered(7, 9));
	t.deepEqual(await tail.read(), {entries: [6, 7, 8], total: 9, skipped: 0, changed: true});
	await fs.appendFile(file, numbered(9, 20));
	t.deepEqual(await tail.read(), {entries: [17, 18, 19], total: 20, skipped: 0, changed: true});
});

test('createTail with a limit of 0 keeps no entries but still counts them', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, numbered(0, 4));
	const {tail, counter} = countingTail(file, 0);
	t.deepEqual(await tail.read(), {entries: [], total: 4, skipped: 0, changed: true});
	t.is(counter.parsed, 0);
});

test('createTail holds a torn last line until its newline arrives', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, '{"n":0}\n{"n":');
	const {tail} = countingTail(file, 10);
	t.deepEqual(await tail.read(), {entries: [0], total: 1, skipped: 0, changed: true});
	await fs.appendFile(file, '1');
	t.deepEqual(await tail.read(), {entries: [0], total: 1, skipped: 0, changed: false});
	await fs.appendFile(file, '}\n{"n":2}\n');
	t.deepEqual(await tail.read(), {entries: [0, 1, 2], total: 3, skipped: 0, changed: true});
});

test('createTail counts but does not show lines that do not parse, and ignores empty lines', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, '{"n":0}\n\nnot json\n\n{"n":1}\n');
	const {tail} = countingTail(file, 10);
	t.deepEqual(await tail.read(), {entries: [0, 1], total: 3, skipped: 1, changed: true});
});

test('createTail reads a missing file as empty, then picks it up once it exists', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	const {tail} = countingTail(file, 10);
	t.deepEqual(await tail.read(), {entries: [], total: 0, skipped: 0, changed: false});
	await fs.writeFile(file, numbered(0, 2));
	t.deepEqual(await tail.read(), {entries: [0, 1], total: 2, skipped: 0, changed: true});
	await fs.rm(file);
	t.deepEqual(await tail.read(), {entries: [], total: 0, skipped: 0, changed: true});
});

test('createTail starts over when the file shrinks', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, numbered(0, 5));
	const {tail} = countingTail(file, 10);
	t.is((await tail.read()).total, 5);
	await fs.writeFile(file, numbered(100, 102));
	t.deepEqual(await tail.read(), {entries: [100, 101], total: 2, skipped: 0, changed: true});
});

test('createTail starts over when the file is replaced by another, even a longer one', async t => {
	const directory = await temporaryDirectory(t);
	const file = path.join(directory, 'lines.jsonl');
	await fs.writeFile(file, numbered(0, 2));
	const {tail} = countingTail(file, 10);
	t.is((await tail.read()).total, 2);
	const replacement = path.join(directory, 'replacement.jsonl');
	await fs.writeFile(replacement, numbered(100, 105));
	await fs.rename(replacement, file);
	t.deepEqual(await tail.read(), {entries: [100, 101, 102, 103, 104], total: 5, skipped: 0, changed: true});
});

test('createTail starts over when the file is rewritten in place so that a line no longer ends where it read to', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, numbered(0, 2));
	const {tail} = countingTail(file, 10);
	t.is((await tail.read()).total, 2);
	// Same file (inode), longer, and the byte before the old end is no longer a newline.
	await fs.writeFile(file, jsonLines([{n: 1000}, {n: 1001}, {n: 1002}]));
	t.deepEqual(await tail.read(), {entries: [1000, 1001, 1002], total: 3, skipped: 0, changed: true});
});

test('createTail reads a file of tens of MB from its end on the first read, counting the older lines without parsing them', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	const padding = 'x'.repeat(100);
	const count = 200_000;
	const chunk: string[] = [];
	for (let n = 0; n < count; n++) {
		chunk.push(`{"n":${n},"p":"${padding}"}\n`);
	}

	await fs.writeFile(file, chunk.join(''));
	t.true((await fs.stat(file)).size > 20_000_000);
	const {tail, counter} = countingTail(file, 50);
	const first = await tail.read();
	t.is(first.total, count);
	t.deepEqual(first.entries, Array.from({length: 50}, (_, index) => count - 50 + index));
	// Parsed only about one block's worth, not 200 000 lines: that, not a
	// stopwatch, is what keeps the first read fast.
	t.true(counter.parsed < 2000, `parsed ${counter.parsed} lines`);
	await fs.appendFile(file, numbered(count, count + 1));
	t.deepEqual((await tail.read()).entries.slice(-2), [count - 1, count]);
});

test('createTail decodes a multi-byte line longer than a read block', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	const long = 'é€😀'.repeat(30_000);
	await fs.writeFile(file, jsonLines([{n: 0, text: long}, {n: 1, text: long}]));
	const tail = createTail(file, line => JSON.parse(line) as {n: number; text: string}, {limit: 1});
	const {entries, total} = await tail.read();
	t.is(total, 2);
	t.is(entries[0]!.n, 1);
	t.is(entries[0]!.text, long);
});

test('createTail runs concurrent reads one after another, so no line is read twice', async t => {
	const file = path.join(await temporaryDirectory(t), 'lines.jsonl');
	await fs.writeFile(file, numbered(0, 3));
	const {tail} = countingTail(file, 10);
	const [first, second] = await Promise.all([tail.read(), tail.read()]);
	t.deepEqual(first, {entries: [0, 1, 2], total: 3, skipped: 0, changed: true});
	t.deepEqual(second, {entries: [0, 1, 2], total: 3, skipped: 0, changed: false});
});

const logLines: Array<{title: string; line: string; expected: string}> = [
	{title: 'keeps plain text as it is', line: 'hello world', expected: 'hello world'},
	{title: 'strips colours', line: '\u001B[1;32mok\u001B[0m done', expected: 'ok done'},
	{title: 'strips an OSC window title ended by BEL', line: '\u001B]0;user@box: ~\u0007$ ls', expected: '$ ls'},
	{title: 'strips an OSC hyperlink ended by ST', line: '\u001B]8;;https://example.com\u001B\\link\u001B]8;;\u001B\\', expected: 'link'},
	{title: 'keeps only what follows the last carriage return', line: 'progress 10%\rprogress 50%\rprogress 100%', expected: 'progress 100%'},
	{title: 'handles a carriage return after an erase-line sequence', line: '\u001B[2K\rBuilding\u001B[K\r\u001B[2KDone', expected: 'Done'},
	{title: 'does not blank a line that ends with a carriage return', line: 'output\r', expected: 'output'},
	{title: 'expands tabs to the next multiple of 8 columns', line: 'a\tbc\tdefghijkl\tz', expected: 'a       bc      defghijkl       z'},
	{title: 'counts columns after escapes are stripped when expanding tabs', line: '\u001B[31mab\u001B[0m\tc', expected: 'ab      c'},
	{title: 'drops BEL and C1 controls, and a backspace steps back as on a terminal', line: 'ding\u0007 back\u0008 c1\u0085end', expected: 'ding bac c1end'},
	{title: 'drops moves to other lines, and a move right leaves blanks (spaces drawn as cursor moves)', line: '\u001B[3Aup\u001B[10Cright\u001B[?25h', expected: 'up          right'},
];

for (const {title, line, expected} of logLines) {
	test(`displayLogLine ${title}`, t => {
		t.is(displayLogLine({line}), expected);
	});
}

test('logTail gives lines cleaned for display with their stream and time', async t => {
	const file = path.join(await temporaryDirectory(t), 'logs.jsonl');
	await fs.writeFile(file, jsonLines([
		{ts: '2025-01-01T00:00:00.000Z', stream: 'stdout', line: '\u001B[32mgreen\u001B[0m'},
		{ts: '2025-01-01T00:00:01.000Z', stream: 'stderr', line: '10%\r100%'},
	]));
	const tail = logTail(file, 10);
	t.deepEqual((await tail.read()).entries, [
		{ts: '2025-01-01T00:00:00.000Z', stream: 'stdout', text: 'green'},
		{ts: '2025-01-01T00:00:01.000Z', stream: 'stderr', text: '100%'},
	]);
});

const request = (change: Partial<NetworkEntry>): NetworkEntry => ({
	ts: '2025-03-04T05:06:07.890Z',
	method: 'GET',
	url: 'https://api.github.com/user',
	status: 200,
	duration_ms: 42,
	bytes_in: 100,
	bytes_out: 2000,
	grant: null,
	blocked: false,
	error: null,
	...change,
});

test('a blocked request lines up with the others: its time, method and URL start in the same columns', t => {
	const allowed = formatNetworkEntry(request({})).text;
	const blocked = formatNetworkEntry(request({blocked: true})).text;
	t.is(blocked.indexOf('05:06:07'), allowed.indexOf('05:06:07'));
	t.is(blocked.indexOf('GET https://'), allowed.indexOf('GET https://'));
});

const networkLines: Array<{title: string; entry: NetworkEntry; expected: {text: string; blocked: boolean}}> = [
	{title: 'a normal request shows time, method, URL, status and duration', entry: request({}), expected: {text: '  05:06:07 GET https://api.github.com/user 200 (42ms)', blocked: false}},
	{title: 'a request with an injected credential names the grant', entry: request({grant: 'github'}), expected: {text: '  05:06:07 GET https://api.github.com/user 200 (42ms) [github]', blocked: false}},
	{
		title: 'a blocked request is marked and says why',
		entry: request({method: 'CONNECT', url: 'evil.example:443', status: 407, blocked: true, error: 'host not in the network policy'}),
		expected: {text: '✕ 05:06:07 CONNECT evil.example:443 blocked: host not in the network policy', blocked: true},
	},
	{title: 'a blocked request without a reason is still marked', entry: request({blocked: true}), expected: {text: '✕ 05:06:07 GET https://api.github.com/user blocked', blocked: true}},
	{
		title: 'a request that failed upstream shows no status and the error',
		entry: request({status: 0, duration_ms: 3001.6, error: 'ECONNRESET'}),
		expected: {text: '  05:06:07 GET https://api.github.com/user --- (3002ms) error: ECONNRESET', blocked: false},
	},
	{
		title: 'control characters from the container never reach the terminal',
		entry: request({url: 'https://x.example/\u001B[2J\u009B', blocked: true, error: 'no\u0007'}),
		expected: {text: String.raw`✕ 05:06:07 GET https://x.example/\x1b[2J\x9b blocked: no\x07`, blocked: true},
	},
];

for (const {title, entry, expected} of networkLines) {
	test(`formatNetworkEntry: ${title}`, t => {
		t.deepEqual(formatNetworkEntry(entry), expected);
	});
}

test('networkTail shows requests; an entry without a boolean blocked field is skipped and counted, never shown as allowed', async t => {
	const file = path.join(await temporaryDirectory(t), 'network.jsonl');
	const {blocked: _, ...withoutBlocked} = request({url: 'https://b.example/'});
	await fs.writeFile(file, jsonLines([request({}), withoutBlocked, request({url: 'https://c.example/', blocked: true})]) + 'garbage\n');
	const {entries, total, skipped} = await networkTail(file, 10).read();
	t.is(total, 4);
	t.is(skipped, 2);
	t.deepEqual(entries.map(entry => [entry.url, entry.blocked]), [['https://api.github.com/user', false], ['https://c.example/', true]]);
});

test('logTail skips and counts lines that are not log records, keeping the ones around them', async t => {
	const file = path.join(await temporaryDirectory(t), 'logs.jsonl');
	const record = (line: string) => ({ts: '2025-01-01T00:00:00.000Z', stream: 'stdout', line});
	await fs.writeFile(file, jsonLines([record('one'), {}, {...record('x'), stream: 'elsewhere'}, {...record('x'), line: 5}, record('two')]) + '{"ts":\n');
	const {entries, total, skipped} = await logTail(file, 10).read();
	t.is(total, 6);
	t.is(skipped, 4);
	t.deepEqual(entries.map(entry => entry.text), ['one', 'two']);
});

const auditEntry = (seq: number, type: string, data: Record<string, unknown>): AuditEntry => ({seq, ts: '2025-03-04T05:06:07.890Z', type, data, prev: '0'.repeat(64), hash: 'f'.repeat(64)});

const auditLines: Array<{title: string; entry: AuditEntry; expected: string}> = [
	{title: 'shows seq, time, type and each field', entry: auditEntry(3, 'credential.injected', {grant: 'github', host: 'api.github.com'}), expected: '3 05:06:07 credential.injected grant=github host=api.github.com'},
	{title: 'shows an entry without data', entry: auditEntry(0, 'run.started', {}), expected: '0 05:06:07 run.started'},
	{title: 'quotes a string with spaces and prints numbers, booleans and null bare', entry: auditEntry(9, 'run.exited', {state: 'failed', error: 'out of memory', exitCode: 137, keep: false, by: null}), expected: '9 05:06:07 run.exited state=failed error="out of memory" exitCode=137 keep=false by=null'},
	{title: 'writes nested values as JSON', entry: auditEntry(4, 'policy.changed', {hosts: ['a.example', 'b.example']}), expected: '4 05:06:07 policy.changed hosts=["a.example","b.example"]'},
	{title: 'cuts a long value to 60 characters', entry: auditEntry(5, 'request.blocked', {url: `https://example.com/${'a'.repeat(100)}`}), expected: `5 05:06:07 request.blocked url=https://example.com/${'a'.repeat(39)}…`},
	{title: 'shows control characters escaped', entry: auditEntry(6, 'run\u001B[2J', {note: 'x\u009By'}), expected: String.raw`6 05:06:07 run\x1b[2J note=x\x9by`},
];

for (const {title, entry, expected} of auditLines) {
	test(`formatAuditEntry ${title}`, t => {
		t.is(formatAuditEntry(entry), expected);
	});
}

test('formatAuditEntry keeps every value within about 60 characters', t => {
	const line = formatAuditEntry(auditEntry(1, 'x', {a: 'b'.repeat(500), c: {deep: 'd'.repeat(500)}}));
	for (const field of line.split(' ').slice(3)) {
		t.true(field.length <= 62, field);
	}
});

const stopped = '2025-01-01T00:00:00.000Z';
const endings: Array<{title: string; run: Pick<RunMetadata, 'state' | 'stoppedAt'> | undefined; secondsLater: number; expected: {ended: boolean; sealing: boolean}}> = [
	{title: 'a running run has not ended', run: {state: 'running', stoppedAt: null}, secondsLater: 0, expected: {ended: false, sealing: false}},
	{title: 'a created run has not ended', run: {state: 'created', stoppedAt: null}, secondsLater: 0, expected: {ended: false, sealing: false}},
	{title: 'a run that stopped moments ago is still being sealed', run: {state: 'stopped', stoppedAt: stopped}, secondsLater: 2, expected: {ended: true, sealing: true}},
	{title: 'a run that stopped a while ago must be sealed', run: {state: 'stopped', stoppedAt: stopped}, secondsLater: 60, expected: {ended: true, sealing: false}},
	{title: 'a failed run without a stop time must be sealed', run: {state: 'failed', stoppedAt: null}, secondsLater: 0, expected: {ended: true, sealing: false}},
	{title: 'a run that cannot be read counts as ended (fail closed)', run: undefined, secondsLater: 0, expected: {ended: true, sealing: false}},
];

for (const {title, run, secondsLater, expected} of endings) {
	test(`runEnding: ${title}`, t => {
		t.deepEqual(runEnding(run, new Date(Date.parse(stopped) + (secondsLater * 1000))), expected);
	});
}

const verification = (change: Partial<Verification>): Verification => ({ok: true, state: 'sealed', entries: 4, checkpoints: 1, unsigned: 0, countsByType: {}, keyFingerprint: 'SHA256:x', ...change});
const summaries: Array<{title: string; verification: Verification; sealing: boolean; expected: {state: string; detail: string}}> = [
	{title: 'an empty log is empty', verification: verification({entries: 0, checkpoints: 0}), sealing: false, expected: {state: 'empty', detail: 'no audit entries yet'}},
	{title: 'a fully signed log is verified', verification: verification({}), sealing: false, expected: {state: 'verified', detail: '4 entries, 1 signed checkpoint'}},
	{title: 'a live log says how many entries are not yet signed', verification: verification({unsigned: 2}), sealing: false, expected: {state: 'verified', detail: '4 entries, 1 signed checkpoint, 2 newest not yet signed'}},
	{title: 'a log of a run that just ended says its last entries are being signed', verification: verification({unsigned: 1}), sealing: true, expected: {state: 'verified', detail: '4 entries, 1 signed checkpoint, 1 newest being signed as the run ends'}},
	{title: 'a failure is broken and names what failed', verification: verification({ok: false, failure: {what: 'entry 2', reason: 'it was changed'}}), sealing: false, expected: {state: 'broken', detail: 'entry 2: it was changed'}},
];

for (const {title, verification, sealing, expected} of summaries) {
	test(`summarizeVerification: ${title}`, t => {
		t.deepEqual(summarizeVerification(verification, {ended: sealing, sealing}), expected);
	});
}

/** A clock that ticks one second per reading, from 2025-01-01. */
function tickingClock(): () => Date {
	let tick = 0;
	return () => new Date(Date.UTC(2025, 0, 1, 0, 0, 0) + (tick++ * 1000));
}

async function createRun(home: string, change: Partial<RunMetadata>): Promise<void> {
	await createRunStore(home).create({
		id: runId,
		name: 'test',
		workspace: '/workspace',
		agent: null,
		image: 'image',
		command: [],
		grants: [],
		ports: {},
		mounts: [],
		environmentNames: [],
		containerId: null,
		state: 'running',
		interactive: false,
		keep: false,
		createdAt: '2025-01-01T00:00:00.000Z',
		startedAt: null,
		stoppedAt: null,
		exitCode: null,
		error: null,
		stopRequested: false,
		...change,
	});
}

const entriesFile = (home: string) => path.join(home, 'runs', runId, 'audit', 'entries.jsonl');

test('auditTail is empty for a run with no audit log', async t => {
	const home = await temporaryDirectory(t);
	const snapshot = await auditTail(home, runId, 10).read();
	t.deepEqual(snapshot, {entries: [], total: 0, skipped: 0, changed: false, verification: {state: 'empty', detail: 'no audit entries yet'}});
	// Reading an empty log does not create a signing key as a side effect.
	await t.throwsAsync(fs.access(path.join(home, 'audit-signing-key.pem')));
});

test('auditTail verifies a sealed log written by AuditLog and shows its newest entries', async t => {
	const home = await temporaryDirectory(t);
	await createRun(home, {state: 'stopped', stoppedAt: '2024-12-31T00:00:00.000Z'});
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {workspace: '/workspace'});
	await log.record(runId, 'run.started', {containerId: 'c0ffee'});
	await log.record(runId, 'credential.injected', {grant: 'github', host: 'api.github.com'});
	await log.record(runId, 'run.exited', {state: 'stopped', exitCode: 0});
	await log.seal(runId);

	const snapshot = await auditTail(home, runId, 2).read();
	t.is(snapshot.total, 4);
	t.deepEqual(snapshot.entries.map(entry => formatAuditEntry(entry)), [
		'2 00:00:02 credential.injected grant=github host=api.github.com',
		'3 00:00:03 run.exited state=stopped exitCode=0',
	]);
	t.deepEqual(snapshot.verification, {state: 'verified', detail: '4 entries, 1 signed checkpoint'});
});

test('auditTail reports a tampered line as broken, naming the entry', async t => {
	const home = await temporaryDirectory(t);
	await createRun(home, {state: 'stopped', stoppedAt: '2024-12-31T00:00:00.000Z'});
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {workspace: '/workspace'});
	await log.record(runId, 'credential.injected', {grant: 'github', host: 'api.github.com'});
	await log.record(runId, 'run.exited', {state: 'stopped', exitCode: 0});
	await log.seal(runId);
	t.is((await auditTail(home, runId, 10).read()).verification.state, 'verified');

	const text = await fs.readFile(entriesFile(home), 'utf8');
	await fs.writeFile(entriesFile(home), text.replace('api.github.com', 'evil.example'));
	const {verification} = await auditTail(home, runId, 10).read();
	t.is(verification.state, 'broken');
	t.regex(verification.detail, /^entry 1: /);
});

test('auditTail verifies a live run\'s log, unsigned entries and a torn last line included, and again only when it grows', async t => {
	const home = await temporaryDirectory(t);
	await createRun(home, {state: 'running'});
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {workspace: '/workspace'});
	await log.record(runId, 'run.started', {containerId: 'c0ffee'});
	const tail = auditTail(home, runId, 10);
	let snapshot = await tail.read();
	t.is(snapshot.total, 2);
	t.true(snapshot.changed);
	t.deepEqual(snapshot.verification, {state: 'verified', detail: '2 entries, 0 signed checkpoints, 2 newest not yet signed'});

	// A writer mid-append: the torn line is neither shown nor held against the log.
	await fs.appendFile(entriesFile(home), '{"seq":2,"ts":"2025-');
	snapshot = await tail.read();
	t.false(snapshot.changed);
	t.is(snapshot.verification.state, 'verified');
	await fs.truncate(entriesFile(home), (await fs.stat(entriesFile(home))).size - '{"seq":2,"ts":"2025-'.length);

	// An edit of the same length adds no entry, so the cached result stands...
	const text = await fs.readFile(entriesFile(home), 'utf8');
	await fs.writeFile(entriesFile(home), text.replace('c0ffee', 'c0ffef'));
	snapshot = await tail.read();
	t.false(snapshot.changed);
	t.is(snapshot.verification.state, 'verified');

	// ...until the log grows and is verified again.
	await log.record(runId, 'credential.injected', {grant: 'github'});
	snapshot = await tail.read();
	t.true(snapshot.changed);
	t.is(snapshot.total, 3);
	t.is(snapshot.verification.state, 'broken');
	t.regex(snapshot.verification.detail, /^entry 1: /);
});

test('auditTail gives a run that just ended time to seal, then holds it to every entry being signed', async t => {
	const home = await temporaryDirectory(t);
	await createRun(home, {state: 'stopped', stoppedAt: '2025-01-01T00:00:00.000Z'});
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {workspace: '/workspace'});
	await log.record(runId, 'run.exited', {state: 'stopped', exitCode: 0});
	let now = new Date('2025-01-01T00:00:02.000Z');
	const tail = auditTail(home, runId, 10, {now: () => now});
	t.deepEqual((await tail.read()).verification, {state: 'verified', detail: '2 entries, 0 signed checkpoints, 2 newest being signed as the run ends'});

	now = new Date('2025-01-01T00:01:00.000Z');
	let snapshot = await tail.read();
	t.true(snapshot.changed);
	t.is(snapshot.verification.state, 'broken');
	t.regex(snapshot.verification.detail, /no checkpoint/);

	// The seal arrives (late): a new checkpoint is verified again.
	await log.seal(runId);
	snapshot = await tail.read();
	t.true(snapshot.changed);
	t.deepEqual(snapshot.verification, {state: 'verified', detail: '2 entries, 1 signed checkpoint'});
});

test('auditTail holds a log cut back with its checkpoints, and its record set back to running, to the final checkpoint the witness keeps', async t => {
	const home = await temporaryDirectory(t);
	await createRun(home, {state: 'stopped', stoppedAt: '2025-01-01T00:00:00.000Z'});
	const log = createAuditLog(home, tickingClock());
	await log.record(runId, 'run.created', {workspace: '/workspace'});
	await log.record(runId, 'run.started', {containerId: 'c0ffee'});
	await log.seal(runId);
	await log.record(runId, 'request.blocked', {host: 'evil.example'});
	await log.record(runId, 'run.exited', {state: 'stopped', exitCode: 0});
	await log.seal(runId);
	t.is((await auditTail(home, runId, 10).read()).verification.state, 'verified');

	// The attack: the first 2 entries and the early checkpoint over them, a validly signed prefix, and a run that seems to go on.
	const checkpointsFile = path.join(home, 'runs', runId, 'audit', 'checkpoints.jsonl');
	const keep = async (file: string, lines: number) => {
		await fs.writeFile(file, (await fs.readFile(file, 'utf8')).split('\n').slice(0, lines).join('\n') + '\n');
	};

	await keep(entriesFile(home), 2);
	await keep(checkpointsFile, 1);
	await createRunStore(home).update(runId, {state: 'running', stoppedAt: null});
	const {verification} = await auditTail(home, runId, 10).read();
	t.is(verification.state, 'broken');
	t.regex(verification.detail, /^the end of the log: it stops at entry 1 \(run\.started\): run\.exited and the signed checkpoint over it are missing/);

	// It is the witness that tells: without it, the prefix passes for a live run's log.
	await fs.rm(path.join(home, 'audit-witness.jsonl'));
	t.is((await auditTail(home, runId, 10).read()).verification.state, 'verified');
});
