/**
 * bench:audit — the audit log's costs, each against a baseline of plain
 * SHA-256 over the same bytes measured in the same run:
 *   1. appends per second for 100k entries through the log writer (hash
 *      chain, Merkle tree, signed checkpoints, written to disk), and for
 *      a few thousand through record(), the daemon's path: one locked,
 *      whole-line append per event;
 *   2. verifying a 1M-entry log (every hash, link and checkpoint);
 *   3. inclusion-proof size and verification time.
 * Targets (issue 20): append ≥ 100,000 entries/s; verify 1M < 5 s.
 *
 * Not a test: it prints figures and never fails on them.
 */
import {createHash, generateKeyPairSync, sign} from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {checkpointMessage, entryLeaves, keyFingerprint, makeEntry, verifyLog, type AuditEntry, type Checkpoint} from '../../source/audit/audit-chain.js';
import {createAuditLog} from '../../source/audit/audit-log.js';
import {canonicalJson} from '../../source/audit/canonical-json.js';
import {allInclusionProofs, createTreeBuilder, verifyInclusion} from '../../source/audit/merkle.js';
import {reportFigures} from './bench-report.js';

const appendCount = Number(process.env.BENCH_APPENDS ?? 100_000);
const recordCount = Number(process.env.BENCH_RECORDS ?? 3000);
const verifyCount = Number(process.env.BENCH_VERIFY ?? 1_000_000);
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
// This process's CPU time: on a loaded machine, closer than the wall clock to what an idle core would take.
const cpuSeconds = (start: NodeJS.CpuUsage) => {
	const {user, system} = process.cpuUsage(start);
	return (user + system) / 1e6;
};

/** SHA-256 over each canonical entry body: the floor any chained log pays. */
function baseline(bodies: readonly string[]): number {
	const start = process.hrtime.bigint();
	for (const body of bodies) {
		createHash('sha256').update(body).digest('hex');
	}

	return seconds(start);
}

const data = (index: number) => ({method: 'GET', url: `https://api.github.com/repos/org/repo/issues/${index}`, status: 200, grant: 'github'});

const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-bench-audit-'));
try {
	// 1. Appends through the real writer.
	const log = createAuditLog(home);
	const writer = await log.openWriter('run_000000000000');
	const appendStart = process.hrtime.bigint();
	const appendCpuStart = process.cpuUsage();
	for (let index = 0; index < appendCount; index++) {
		writer.append('credential.injected', data(index));
	}

	await writer.close();
	const appendSeconds = seconds(appendStart);
	const appendCpu = cpuSeconds(appendCpuStart);
	const {entries: written} = await log.read('run_000000000000');
	const appendBaseline = baseline(written.map(({seq, ts, type, data: body, prev}) => canonicalJson({seq, ts, type, data: body, prev})));
	const recordStart = process.hrtime.bigint();
	for (let index = 0; index < recordCount; index++) {
		// One event after another, as the daemon's queue writes them.
		await log.record('run_000000000002', 'credential.injected', data(index));
	}

	const recordSeconds = seconds(recordStart);

	// 2. A 1M-entry log with checkpoints every 256 entries, verified whole.
	const {privateKey, publicKey} = generateKeyPairSync('ed25519');
	const fingerprint = keyFingerprint(publicKey);
	const entries: AuditEntry[] = [];
	const checkpoints: Checkpoint[] = [];
	const tree = createTreeBuilder();
	const ts = new Date().toISOString();
	for (let index = 0; index < verifyCount; index++) {
		// An ended run's log, sealed: run.exited last.
		const entry = makeEntry(entries.at(-1), ts, index === verifyCount - 1 ? 'run.exited' : 'credential.injected', data(index));
		entries.push(entry);
		tree.add(entryLeaves([entry])[0]!);
		if ((index + 1) % 256 === 0 || index === verifyCount - 1) {
			const unsigned = {runId: 'run_000000000001', treeSize: tree.size, rootHash: tree.root().toString('hex'), ts};
			checkpoints.push({...unsigned, keyFingerprint: fingerprint, signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64')});
		}
	}

	const verifyStart = process.hrtime.bigint();
	const verifyCpuStart = process.cpuUsage();
	const verification = verifyLog(entries, checkpoints, publicKey.export({type: 'spki', format: 'pem'}).toString(), {runId: 'run_000000000001', sealed: true});
	const verifySeconds = seconds(verifyStart);
	const verifyCpu = cpuSeconds(verifyCpuStart);
	const verifyBaseline = baseline(entries.map(({seq, ts: time, type, data: body, prev}) => canonicalJson({seq, ts: time, type, data: body, prev})));

	// 3. Inclusion proofs in the 1M tree.
	const leaves = entryLeaves(entries);
	const proofsStart = process.hrtime.bigint();
	const proofs = allInclusionProofs(leaves);
	const proofsSeconds = seconds(proofsStart);
	const root = tree.root();
	const sample = Array.from({length: 10_000}, (_, index) => (index * 97) % leaves.length);
	const checkStart = process.hrtime.bigint();
	for (const index of sample) {
		verifyInclusion(index, leaves.length, leaves[index]!, proofs[index]!, root);
	}

	const checkSeconds = seconds(checkStart);
	const proofBytes = proofs[0]!.length * 32;

	console.log(`bench:audit  appends=${appendCount}  verify=${verifyCount}  (verified: ${verification.ok})`);
	console.log(`  append      ${Math.round(appendCount / appendSeconds)} entries/s (${appendSeconds.toFixed(2)} s)  vs SHA-256 of the same bytes ${Math.round(appendCount / appendBaseline)}/s  ratio ${(appendSeconds / appendBaseline).toFixed(1)}×  (target ≥ 100,000/s); on CPU time ${Math.round(appendCount / appendCpu)}/s`);
	console.log(`  record()    ${Math.round(recordCount / recordSeconds)} entries/s (${recordCount} in ${recordSeconds.toFixed(2)} s; the daemon's path, one event at a time; no target)`);
	console.log(`  verify 1M   ${verifySeconds.toFixed(2)} s  vs SHA-256 of the same bytes ${verifyBaseline.toFixed(2)} s  ratio ${(verifySeconds / verifyBaseline).toFixed(1)}×  (target < 5 s); CPU time ${verifyCpu.toFixed(2)} s`);
	reportFigures('audit', [
		{figure: 'audit append', measured: `${Math.round(appendCount / appendSeconds)}/s = ${(appendSeconds / appendBaseline).toFixed(1)}× SHA-256's time`, target: '≥ 100,000/s', met: appendCount / appendSeconds >= 100_000},
		{figure: 'audit verify, 1M entries', measured: `${verifySeconds.toFixed(2)} s = ${(verifySeconds / verifyBaseline).toFixed(1)}× SHA-256's time`, target: '< 5 s', met: verifySeconds < 5},
	]);
	console.log(`  proofs      ${proofBytes} bytes per inclusion proof (${proofs[0]!.length} hashes); all ${leaves.length} built in ${proofsSeconds.toFixed(2)} s; ${((checkSeconds / sample.length) * 1e6).toFixed(1)} µs to verify one`);
} finally {
	await fs.rm(home, {recursive: true, force: true});
}
