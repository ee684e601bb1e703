/**
 * `npm run bench`: every bench:* script, one after another (they would
 * skew each other side by side), then one table of every figure with its
 * target. Each bench's own output goes by as it runs. BENCH_ONLY=run,audit
 * picks some.
 *
 * Not a test: it prints figures and never fails on them; a bench that fails
 * is said in the table and the others still run.
 */
import {spawn} from 'node:child_process';
import {readFileSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {formatTable, reportVariable, type BenchFigure} from './bench-report.js';

/** Each bench and the Node flags its script gives it (package.json). */
const benches: Array<{name: string; file: string; nodeFlags?: string[]}> = [
	{name: 'start', file: 'start-benchmark.js'},
	{name: 'version', file: 'version-benchmark.js'},
	{name: 'run', file: 'run-benchmark.js'},
	{name: 'attach', file: 'attach-benchmark.js'},
	{name: 'capture', file: 'capture-benchmark.js'},
	{name: 'audit', file: 'audit-benchmark.js', nodeFlags: ['--max-old-space-size=6144']},
	{name: 'proxy', file: 'proxy-benchmark.js'},
	{name: 'bottle', file: 'bottle-benchmark.js'},
	{name: 'dashboard', file: 'dashboard-benchmark.js'},
	{name: 'daemon', file: 'daemon-idle-benchmark.js'},
];

const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const chosen = only ? benches.filter(bench => only.includes(bench.name)) : benches;
const directory = path.dirname(fileURLToPath(import.meta.url));
const report = path.join(os.tmpdir(), `moat-bench-report-${process.pid}.jsonl`);
const outcomes = new Map<string, string>();

for (const bench of chosen) {
	console.log(`\n=== bench:${bench.name}`);
	const started = performance.now();
	const code = await new Promise<number | null>(resolve => {
		const child = spawn(process.execPath, [...bench.nodeFlags ?? [], path.join(directory, bench.file)], {
			stdio: ['ignore', 'inherit', 'inherit'],
			env: {...process.env, [reportVariable]: report},
		});
		child.on('error', () => {
			resolve(null);
		});
		child.on('exit', resolve);
	});
	outcomes.set(bench.name, code === 0 ? `${((performance.now() - started) / 1000).toFixed(0)} s` : `failed (exit ${code ?? 'unknown'})`);
}

let figures: Array<BenchFigure & {bench: string}> = [];
try {
	figures = readFileSync(report, 'utf8').split('\n').filter(Boolean).map(line => JSON.parse(line) as BenchFigure & {bench: string});
} catch {
	// No bench reported anything (each one failed): the table says so per bench.
}

rmSync(report, {force: true});
const mark = (met: boolean | undefined) => (met === undefined ? '' : (met ? 'met' : 'missed'));
const rows: string[][] = [['bench', 'figure', 'measured', 'target', '']];
for (const bench of chosen) {
	const own = figures.filter(figure => figure.bench === bench.name);
	if (own.length === 0) {
		rows.push([bench.name, `(no figures: ${outcomes.get(bench.name) ?? 'not run'})`, '', '', '']);
	}

	for (const figure of own) {
		rows.push([bench.name, figure.figure, figure.measured, figure.target, mark(figure.met)]);
	}
}

console.log(`\n=== npm run bench: ${chosen.length} benches, node ${process.version}, ${os.availableParallelism()} cores, load ${os.loadavg().map(load => load.toFixed(1)).join(' ')}\n`);
console.log(formatTable(rows));
