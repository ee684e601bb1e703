/**
 * bench:start — what `npm start` adds to running moat on a built,
 * unchanged tree: `npm start -- --version` against the built CLI itself
 * (`node build/source/moat.js --version`), median of alternating rounds,
 * printed as the seconds added and as a ratio. Target: under one second
 * added.
 *
 * Not a test: it prints a figure and never fails on it.
 */
import {spawnSync} from 'node:child_process';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import {reportFigures} from './bench-report.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = fileURLToPath(new URL('../../source/moat.js', import.meta.url));

function timed(command: string, args: string[]): number {
	const start = process.hrtime.bigint();
	const result = spawnSync(command, args, {cwd: root, stdio: ['ignore', 'pipe', 'pipe']});
	const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
	if (result.status !== 0) {
		throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr.toString()}`);
	}

	return elapsed;
}

const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)]!;
};

// Once first, so the tree is built and both sides start warm.
timed('npm', ['start', '--silent', '--', '--version']);
const npmTimes: number[] = [];
const cliTimes: number[] = [];
for (let round = 0; round < rounds; round++) {
	// Alternate so drift on a busy machine hits both sides alike.
	npmTimes.push(timed('npm', ['start', '--silent', '--', '--version']));
	cliTimes.push(timed(process.execPath, [cli, '--version']));
}

const npm = median(npmTimes);
const direct = median(cliTimes);
console.log(`npm start -- --version   ${npm.toFixed(0)} ms (median of ${rounds})`);
console.log(`node build/source/moat.js ${direct.toFixed(0)} ms`);
console.log(`added by npm start       ${((npm - direct) / 1000).toFixed(2)} s (target < 1 s) · ratio ${(npm / direct).toFixed(2)}×`);
reportFigures('start', [
	{figure: 'added by npm start (--version)', measured: `${((npm - direct) / 1000).toFixed(2)} s = ${(npm / direct).toFixed(2)}× node build/source/moat.js`, target: '< 1 s added', met: npm - direct < 1000},
]);
