import {createHash} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {makeEntry, makeEntryLine, verifyLog, type AuditEntry, type Checkpoint, type Verification} from '../source/audit/audit-chain.js';
import {createAuditLog, readLogLines} from '../source/audit/audit-log.js';
import {canonicalJson, plainJsonCopy} from '../source/audit/canonical-json.js';
import {createDigestTreeBuilder, createTreeBuilder, fromDigest, leafDigestOfHex, leafHash, nodeDigest, nodeHash, toDigest} from '../source/audit/merkle.js';
import {seededRandom} from './helpers/seeded-random.js';

/*
 * The audit log's fast paths (canonical JSON handed to JSON.stringify, the
 * tree on binary-string digests, lines written around one stringify) must
 * write and accept exactly what the earlier code did, and catch every edit.
 */

const runId = 'run_0123456789ab';

/**
 * A log written by moat before these fast paths (its writer, this clock,
 * these events), as it lies on disk: data keys in the events' own order,
 * integer-like keys, escapes, non-ASCII text, -0 and an exponent.
 */
const earlierEntries = String.raw`{"seq":0,"ts":"2025-01-01T00:00:01.000Z","type":"run.created","data":{"9":"y","10":"x","workspace":"/w","image":"moat/base","command":["echo","hi"]},"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"f510994117668a84edfe654768f3efe1b8ad1e388f682186404ceb522236b49e"}
{"seq":1,"ts":"2025-01-01T00:00:02.000Z","type":"credential.injected","data":{"method":"GET","url":"https://api.github.com/x","status":200,"grant":"github"},"prev":"f510994117668a84edfe654768f3efe1b8ad1e388f682186404ceb522236b49e","hash":"e53b700f42d579e634fd72555051ab2172f14fc2d6829a3c575a178fff76389b"}
{"seq":2,"ts":"2025-01-01T00:00:03.000Z","type":"request.blocked","data":{"host":"évil.example","reason":"not \"allowed\"\n","nested":{"z":[1,{"b":0,"a":1.5e-7}],"a":null}},"prev":"e53b700f42d579e634fd72555051ab2172f14fc2d6829a3c575a178fff76389b","hash":"8a1a37d91204b8599b8f281c390c7f7a3adb647f91f1a64171d89460fd163848"}
{"seq":3,"ts":"2025-01-01T00:00:04.000Z","type":"credential.injected","data":{"grant":"github","host":"api.github.com"},"prev":"8a1a37d91204b8599b8f281c390c7f7a3adb647f91f1a64171d89460fd163848","hash":"80208f8e4fe17e0cd3527a08c6cc7b2a8eacce91b312051220cdab77b6a2370f"}
{"seq":4,"ts":"2025-01-01T00:00:05.000Z","type":"run.exited","data":{"state":"stopped","exitCode":0,"error":null},"prev":"80208f8e4fe17e0cd3527a08c6cc7b2a8eacce91b312051220cdab77b6a2370f","hash":"05f084a734cf53bd441a3f6812700ff59953050a3fa7482e9214233162c83bff"}
`;
const earlierCheckpoints = '{"runId":"run_0123456789ab","treeSize":5,"rootHash":"79da127d3da3bd757c30ed021e562cf149a285d90b16e31f11aff0ebe6ee9237","ts":"2025-01-01T00:00:06.000Z","keyFingerprint":"SHA256:Zzt3wqufhx21Q3U43nSWK5HOeF85sxVhEWDFlVnMyQ4","signature":"OuaPPOWc2p3MxccsgGo3rXvzGPjdJGV52LfB7JNQUz23lYOGrKBXt8ePiLxMQbutALl9MnU6picYIOjGH4N4Cw=="}\n';
const earlierKey = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAthi0AEEqrp7/3W1Rv8XEABU+c7x5seaorSwIHJE6hVk=\n-----END PUBLIC KEY-----\n';
const earlierEvents: Array<[string, Record<string, unknown>]> = [
	['run.created', {workspace: '/w', image: 'moat/base', command: ['echo', 'hi'], 10: 'x', 9: 'y'}],
	['credential.injected', {method: 'GET', url: 'https://api.github.com/x', status: 200, grant: 'github'}],
	['request.blocked', {host: 'évil.example', reason: 'not "allowed"\n', nested: {z: [1, {b: -0, a: 1.5e-7}], a: null}}],
	['credential.injected', {grant: 'github', host: 'api.github.com'}],
	['run.exited', {state: 'stopped', exitCode: 0, error: null}],
];

const lines = (text: string) => text.split('\n').filter(line => line !== '');
/** Lines as the log reads them: one that does not parse is kept as null, for verification to name. */
const parsed = <T>(text: string) => lines(text).map(line => {
	try {
		return JSON.parse(line) as T;
	} catch {
		return null as T;
	}
});

function verifyText(entries: string, checkpoints: string, publicKey: string): Verification {
	return verifyLog(parsed<AuditEntry>(entries), parsed<Checkpoint>(checkpoints), publicKey, {runId, sealed: true});
}

async function temporaryHome(t: ExecutionContext): Promise<string> {
	const root = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-audit-fast-'));
	t.teardown(async () => {
		await fs.rm(root, {recursive: true, force: true});
	});
	return path.join(root, 'moat-home');
}

/** A clock that ticks one second per reading, from the start of 2025. */
function tickingClock(): () => Date {
	let tick = 1;
	return () => new Date(Date.UTC(2025, 0, 1) + (tick++ * 1000));
}

/** The edits a log must not survive, each with the entry verification must name first. */
function tamperings(text: string, random: () => number): Array<{name: string; text: string; first: number}> {
	const held = lines(text);
	const pick = (below: number) => Math.floor(random() * below);
	const at = pick(held.length - 1);
	const edits: Array<{name: string; text: string; first: number}> = [];
	const join = (edited: string[]) => edited.map(line => line + '\n').join('');
	const replaced = (index: number, line: string) => join(held.map((old, where) => (where === index ? line : old)));

	// One character of the data changed for another (still valid JSON).
	const dataStart = held[at]!.indexOf('"data":') + 8;
	const dataEnd = held[at]!.indexOf(',"prev":');
	const letters = [...held[at]!.slice(dataStart, dataEnd)].flatMap((character, offset) => (/[\da-z]/.test(character) ? [dataStart + offset] : []));
	const position = letters[pick(letters.length)]!;
	const changed = held[at]![position] === 'a' ? 'b' : 'a';
	edits.push({name: `a data byte of entry ${at}`, text: replaced(at, held[at]!.slice(0, position) + changed + held[at]!.slice(position + 1)), first: at});

	// One hex digit of the stored hash.
	const hashAt = held[at]!.lastIndexOf('"hash":"') + 8 + pick(64);
	const digit = held[at]![hashAt] === '0' ? '1' : '0';
	edits.push({name: `a hash byte of entry ${at}`, text: replaced(at, held[at]!.slice(0, hashAt) + digit + held[at]!.slice(hashAt + 1)), first: at});

	edits.push({name: `entry ${at} removed`, text: join(held.filter((_, where) => where !== at)), first: at});
	const swapped = [...held];
	[swapped[at], swapped[at + 1]] = [swapped[at + 1]!, swapped[at]!];
	edits.push({name: `entries ${at} and ${at + 1} swapped`, text: join(swapped), first: at});
	edits.push({name: `entry ${at} repeated`, text: join(held.flatMap((line, where) => (where === at ? [line, line] : [line]))), first: at + 1});
	return edits;
}

test('a log written before the fast paths verifies, sealed, and fails at the edited entry for each edit', t => {
	const verification = verifyText(earlierEntries, earlierCheckpoints, earlierKey);
	t.true(verification.ok, JSON.stringify(verification.failure));
	t.is(verification.state, 'sealed');
	for (let seed = 1; seed <= 20; seed++) {
		for (const {name, text, first} of tamperings(earlierEntries, seededRandom(seed))) {
			const edited = verifyText(text, earlierCheckpoints, earlierKey);
			t.false(edited.ok, `seed ${seed}: ${name}`);
			t.is(edited.failure?.what, `entry ${first}`, `seed ${seed}: ${name}`);
		}
	}

	const cutBack = lines(earlierEntries).slice(0, -1).map(line => line + '\n').join('');
	t.false(verifyText(cutBack, earlierCheckpoints, earlierKey).ok, 'the last entry removed');
});

test('the writer writes the earlier code\'s bytes for the same events at the same times, and the same tree root', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	const writer = await log.openWriter(runId);
	for (const [type, data] of earlierEvents) {
		writer.append(type, data);
	}

	await writer.close();
	const folder = path.join(home, 'runs', runId, 'audit');
	t.is(await fs.readFile(path.join(folder, 'entries.jsonl'), 'utf8'), earlierEntries);
	const [written] = parsed<Checkpoint>(await fs.readFile(path.join(folder, 'checkpoints.jsonl'), 'utf8'));
	const [earlier] = parsed<Checkpoint>(earlierCheckpoints);
	t.is(written?.rootHash, earlier?.rootHash);
	t.is(written?.treeSize, earlier?.treeSize);
});

test('a long log from the writer, with data keys in and out of canonical order, fails at the edited entry for each edit (10 seeds)', async t => {
	const home = await temporaryHome(t);
	const log = createAuditLog(home, tickingClock());
	const writer = await log.openWriter(runId);
	for (let index = 0; index < 700; index++) {
		// Keys in canonical order take JSON.stringify's path, the others the sorting one.
		writer.append('credential.injected', index % 2 === 0
			? {grant: 'github', host: 'api.github.com', path: `/repos/org/repo/issues/${index}`}
			: {method: 'GET', url: `https://api.github.com/repos/org/repo/issues/${index}`, status: 200, grant: 'github'});
	}

	writer.append('run.exited', {state: 'stopped', exitCode: 0});
	await writer.close();
	const {entries, checkpoints} = await log.read(runId);
	const publicKey = await log.publicKeyPem();
	const folder = path.join(home, 'runs', runId, 'audit');
	const entriesText = await fs.readFile(path.join(folder, 'entries.jsonl'), 'utf8');
	const checkpointsText = await fs.readFile(path.join(folder, 'checkpoints.jsonl'), 'utf8');
	t.true(verifyLog(entries, checkpoints, publicKey, {runId, sealed: true}).ok);
	t.true(checkpoints.length > 2, 'several checkpoints, each a root to match');
	for (let seed = 1; seed <= 10; seed++) {
		for (const {name, text, first} of tamperings(entriesText, seededRandom(seed))) {
			const edited = verifyText(text, checkpointsText, publicKey);
			t.false(edited.ok, `seed ${seed}: ${name}`);
			t.is(edited.failure?.what, `entry ${first}`, `seed ${seed}: ${name}`);
		}
	}
});

/** Random JSON-ish values, with what a JSON round trip changes or refuses mixed in. */
function randomValue(random: () => number, depth = 0): unknown {
	const pick = <T>(options: readonly T[]): T => options[Math.floor(random() * options.length)]!;
	const kind = depth > 3 ? pick(['string', 'number', 'literal']) : pick(['string', 'number', 'literal', 'object', 'object', 'array', 'odd']);
	switch (kind) {
		case 'string': {
			return pick(['', 'a', 'é', '"q"', 'line\nbreak', '\u0000', '\uD800', '😀', `s${Math.floor(random() * 1000)}`]);
		}

		case 'number': {
			return pick([0, -0, 1, -1, 0.1, 1e21, 1.5e-7, Number.MAX_SAFE_INTEGER, random()]);
		}

		case 'literal': {
			return pick([true, false, null]);
		}

		case 'array': {
			return Array.from({length: Math.floor(random() * 4)}, () => (random() < 0.1 ? undefined : randomValue(random, depth + 1)));
		}

		case 'odd': {
			return pick([new Date(0), Number.NaN, Number.POSITIVE_INFINITY, undefined, Object.assign(Object.create(null) as Record<string, unknown>, {b: 1, a: 2})]);
		}

		default: {
			const record: Record<string, unknown> = {};
			for (let count = Math.floor(random() * 5); count > 0; count--) {
				const key = pick(['a', 'b', 'B', 'é', '10', '9', '1', '__proto__', 'toJSON', 'z', `k${Math.floor(random() * 10)}`]);
				Object.defineProperty(record, key, {value: randomValue(random, depth + 1), enumerable: true, writable: true, configurable: true});
			}

			return record;
		}
	}
}

test('plainJsonCopy is a JSON round trip of plain data, and declines what only the round trip can turn into JSON (500 random values)', t => {
	for (let seed = 1; seed <= 500; seed++) {
		const value = {root: randomValue(seededRandom(seed))};
		const roundTrip = JSON.parse(JSON.stringify(value)) as unknown;
		const copy = plainJsonCopy(value);
		if (copy !== undefined) {
			t.deepEqual(copy, roundTrip, `seed ${seed}`);
			t.is(JSON.stringify(copy), JSON.stringify(value), `seed ${seed}`);
		}
	}

	t.is(plainJsonCopy({at: new Date(0)}), undefined);
	t.is(plainJsonCopy({n: Number.NaN}), undefined);
	t.is(plainJsonCopy({f: () => 1}), undefined);
});

test('makeEntryLine writes JSON.stringify of its entry, which reads back as the entry and verifies (500 random data)', t => {
	let previous: AuditEntry | undefined;
	const entries: AuditEntry[] = [];
	for (let seed = 1; seed <= 500; seed++) {
		const data = randomValue(seededRandom(seed));
		// An event's data is an object (a Date at the top would be stored as a string).
		const plainObject = typeof data === 'object' && data !== null && [Object.prototype, null].includes(Object.getPrototypeOf(data) as object | null);
		const record = (plainObject ? data : {value: data}) as Record<string, unknown>;
		const made = makeEntryLine(previous, '2025-01-01T00:00:00.000Z', 'x', record);
		t.is(made.line, JSON.stringify(made.entry), `seed ${seed}`);
		t.deepEqual(JSON.parse(made.line), made.entry, `seed ${seed}`);
		t.deepEqual(makeEntry(previous, '2025-01-01T00:00:00.000Z', 'x', record), made.entry, `seed ${seed}`);
		entries.push(JSON.parse(made.line) as AuditEntry);
		previous = made.entry;
	}

	t.true(entries.length > 100);
	const verification = verifyLog(entries, [], earlierKey, {runId, sealed: false});
	t.true(verification.ok, JSON.stringify(verification.failure));
});

test('canonicalJson gives the same bytes for a value and for its copy with every object\'s keys reversed (500 random values)', t => {
	const reversed = (value: unknown): unknown => {
		if (Array.isArray(value)) {
			return value.map(item => reversed(item));
		}

		if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
			return value;
		}

		const copy: Record<string, unknown> = {};
		for (const key of Object.keys(value).reverse()) {
			Object.defineProperty(copy, key, {value: reversed((value as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true});
		}

		return copy;
	};

	for (let seed = 1; seed <= 500; seed++) {
		const value = randomValue(seededRandom(seed));
		let text: string;
		try {
			text = canonicalJson(value);
		} catch {
			t.throws(() => canonicalJson(reversed(value)), undefined, `seed ${seed}`);
			continue;
		}

		t.is(canonicalJson(reversed(value)), text, `seed ${seed}`);
	}
});

test('the digest functions hash exactly as the Buffer ones, a hash that is not 64 hex digits included', t => {
	const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
	const hashes = ['00'.repeat(32), 'ab'.repeat(32), 'AB'.repeat(32), 'abc', 'zz'.repeat(32), `${'ab'.repeat(31)}zz`, '', 'a'.repeat(65)];
	for (const hex of hashes) {
		t.deepEqual(fromDigest(leafDigestOfHex(hex)), leafHash(Buffer.from(hex, 'hex')), hex);
		t.deepEqual(fromDigest(leafDigestOfHex(hex)), sha256(Buffer.concat([Buffer.from([0]), Buffer.from(hex, 'hex')])), hex);
	}

	const left = sha256(Buffer.from('l'));
	const right = sha256(Buffer.from('r'));
	t.deepEqual(fromDigest(nodeDigest(toDigest(left), toDigest(right))), nodeHash(left, right));
	t.deepEqual(fromDigest(nodeDigest(toDigest(left), toDigest(right))), sha256(Buffer.concat([Buffer.from([1]), left, right])));
	// Not 32 bytes: hashed as they are, as nodeHash would.
	const short = Buffer.from('short');
	t.deepEqual(fromDigest(nodeDigest(toDigest(short), toDigest(right))), nodeHash(short, right));

	const digests = createDigestTreeBuilder();
	const buffers = createTreeBuilder();
	for (let index = 0; index < 70; index++) {
		const leaf = leafHash(Buffer.from(`entry-${index}`));
		digests.add(toDigest(leaf));
		buffers.add(leaf);
		t.deepEqual(fromDigest(digests.root()), buffers.root());
	}
});

test('readLogLines reads a log in chunks as a whole read would: characters and lines cut between chunks, blank lines, a bad line kept as null, a torn last line dropped', async t => {
	const home = await temporaryHome(t);
	await fs.mkdir(home, {recursive: true});
	const file = path.join(home, 'lines.jsonl');
	const values = Array.from({length: 40}, (_, index) => ({index, text: 'é😀\u20AC'.repeat(index % 7), more: 'x'.repeat(index * 3)}));
	const whole = values.map(value => JSON.stringify(value) + '\n');
	whole.splice(10, 0, '\n', '{"not json\n');
	const expected: unknown[] = [...values];
	expected.splice(10, 0, null);
	for (const chunkBytes of [1, 2, 3, 7, 64, 1000, 1 << 20]) {
		await fs.writeFile(file, whole.join(''));
		t.deepEqual(await readLogLines(file, chunkBytes), expected, `${chunkBytes}-byte chunks`);
		// A last line without its newline: dropped when torn, kept when whole.
		await fs.writeFile(file, whole.join('') + '{"index":40,"te');
		t.deepEqual(await readLogLines(file, chunkBytes), expected, `${chunkBytes}-byte chunks, torn`);
		await fs.writeFile(file, whole.join('') + '{"index":40}');
		t.deepEqual(await readLogLines(file, chunkBytes), [...expected, {index: 40}], `${chunkBytes}-byte chunks, whole without newline`);
		// An unreadable last line that does end in a newline is not torn.
		await fs.writeFile(file, whole.join('') + 'garbage\n');
		t.deepEqual(await readLogLines(file, chunkBytes), [...expected, null], `${chunkBytes}-byte chunks, bad last line`);
	}

	t.deepEqual(await readLogLines(path.join(home, 'missing.jsonl')), []);
	await fs.writeFile(file, '');
	t.deepEqual(await readLogLines(file), []);
});
