/**
 * bench:version — how long moat takes to start for the smallest thing it
 * does: `node build/source/moat.js --version` against `node -e 0` (node's
 * own start, the floor), median of alternating rounds, as a ratio.
 * Target: ≤ 2× `node -e 0`. Alongside, for the record: `moat --help` (every
 * command's name and summary) and `moat list --help` (one command's flags),
 * which load the command registry but no command.
 *
 * BENCH_ROUNDS changes the rounds; BENCH_PROFILE=<folder> writes a CPU
 * profile of each `moat --version`.
 *
 * Not a test: it prints figures and never fails on them.
 */
import {spawnSync} from 'node:child_process';
import os from 'node:os';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {reportFigures} from './bench-report.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 21);
const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));
const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];

function timed(args: string[]): number {
	const start = process.hrtime.bigint();
	const result = spawnSync(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe']});
	const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
	if (result.status !== 0) {
		throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`);
	}

	return elapsed;
}

const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)]!;
};

const range = (values: number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;

const cases = {
	node: ['-e', '0'],
	version: [...profile, cli, '--version'],
	help: [cli, '--help'],
	commandHelp: [cli, 'list', '--help'],
} as const;

// Once each first: the compile cache is filled and the files are in the page cache.
for (const args of Object.values(cases)) {
	timed([...args]);
}

const times: Record<keyof typeof cases, number[]> = {node: [], version: [], help: [], commandHelp: []};
const loadBefore = os.loadavg()[0]!.toFixed(2);
for (let round = 0; round < rounds; round++) {
	// Alternate so drift on a busy machine hits every side alike.
	for (const [name, args] of Object.entries(cases) as Array<[keyof typeof cases, readonly string[]]>) {
		times[name].push(timed([...args]));
	}
}

const node = median(times.node);
const line = (label: string, values: number[]) =>
	`  ${label.padEnd(24)} median ${median(values).toFixed(0).padStart(4)} ms  (${range(values)})  ${(median(values) / node).toFixed(2)}× node -e 0`;
console.log(`bench:version  rounds=${rounds}  node ${process.version}  cores=${os.availableParallelism()}  load before ${loadBefore}`);
console.log(line('node -e 0 (baseline)', times.node));
console.log(`${line('moat --version', times.version)}  (target ≤ 2×) ${median(times.version) / node <= 2 ? '✓' : '✗'}`);
console.log(line('moat --help', times.help));
console.log(line('moat list --help', times.commandHelp));
reportFigures('version', [
	{figure: 'moat --version', measured: `${median(times.version).toFixed(0)} ms = ${(median(times.version) / node).toFixed(2)}× node -e 0`, target: '≤ 2× node -e 0', met: median(times.version) / node <= 2},
]);
