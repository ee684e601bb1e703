/**
 * Summarizes V8 CPU profiles (`node --cpu-prof` writes them as
 * .cpuprofile): self time per function, the heaviest first, so a benchmark
 * that ran with a profile can say where its time went without a browser.
 *
 * `node build/test/benchmarks/cpu-profile-summary.js FILE|FOLDER… [--top N]`
 * prints one table per profile; the benchmarks import summarizeCpuProfile.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';

type ProfileNode = {
	id: number;
	callFrame: {functionName: string; url: string; lineNumber: number; columnNumber: number};
	children?: number[];
};

type CpuProfile = {nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[]};

export type SelfTime = {name: string; where: string; milliseconds: number; share: number};

/** Where a frame comes from, short: `node:internal/…`, a package name, or a path under build/. */
function shortWhere(url: string, line: number): string {
	if (url === '') {
		return '';
	}

	const file = url.replace(/^file:\/\//, '');
	const modules = file.lastIndexOf('/node_modules/');
	const shown = modules >= 0 ? file.slice(modules + '/node_modules/'.length) : (file.includes('/build/') ? file.slice(file.indexOf('/build/') + '/build/'.length) : file);
	return `${shown}:${line + 1}`;
}

/** Self time per function (samples times their intervals), whole profile, heaviest first. */
export function selfTimes(profile: CpuProfile): {total: number; functions: SelfTime[]} {
	const byNode = new Map<number, number>();
	for (const [index, sample] of profile.samples.entries()) {
		// A sample's time is the interval that follows it (V8 records the delta before each sample).
		const delta = profile.timeDeltas[index + 1] ?? 0;
		byNode.set(sample, (byNode.get(sample) ?? 0) + delta);
	}

	const nodes = new Map(profile.nodes.map(node => [node.id, node]));
	const byFunction = new Map<string, SelfTime>();
	let total = 0;
	for (const [id, microseconds] of byNode) {
		const {callFrame} = nodes.get(id)!;
		const name = callFrame.functionName || (callFrame.url ? '(anonymous)' : '(native)');
		const where = shortWhere(callFrame.url, callFrame.lineNumber);
		const key = `${name} ${where}`;
		const entry = byFunction.get(key) ?? {name, where, milliseconds: 0, share: 0};
		entry.milliseconds += microseconds / 1000;
		byFunction.set(key, entry);
		total += microseconds / 1000;
	}

	const functions = [...byFunction.values()].sort((a, b) => b.milliseconds - a.milliseconds);
	for (const entry of functions) {
		entry.share = total > 0 ? entry.milliseconds / total : 0;
	}

	return {total, functions};
}

/** Self time per module group (node internals, each package, moat's own files, idle, GC). */
function byGroup(functions: readonly SelfTime[]): Array<{group: string; milliseconds: number}> {
	const groups = new Map<string, number>();
	for (const {name, where, milliseconds} of functions) {
		const group = where === ''
			? name
			: (where.startsWith('node:') ? where.split(':')[0]! + ':' + where.split(':')[1]!.split('/').slice(0, 2).join('/') : (where.startsWith('source/') || where.startsWith('test/') ? `moat ${where.split(':')[0]!}` : where.split('/')[0]!.startsWith('@') ? where.split('/').slice(0, 2).join('/') : where.split('/')[0]!));
		groups.set(group, (groups.get(group) ?? 0) + milliseconds);
	}

	return [...groups.entries()].map(([group, milliseconds]) => ({group, milliseconds})).sort((a, b) => b.milliseconds - a.milliseconds);
}

/** A printable summary of one .cpuprofile: the top functions by self time, then by module. */
export async function summarizeCpuProfile(file: string, top = 25): Promise<string> {
	const profile = JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile;
	const {total, functions} = selfTimes(profile);
	const busy = total - functions.filter(entry => entry.name === '(idle)').reduce((sum, entry) => sum + entry.milliseconds, 0);
	const percent = (milliseconds: number) => `${((milliseconds / total) * 100).toFixed(1).padStart(5)} %`;
	const lines = [`${path.basename(file)}: ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms not idle`, '  self time by function:'];
	for (const entry of functions.slice(0, top)) {
		lines.push(`    ${entry.milliseconds.toFixed(0).padStart(7)} ms ${percent(entry.milliseconds)}  ${entry.name}  ${entry.where}`);
	}

	lines.push('  self time by module:');
	for (const {group, milliseconds} of byGroup(functions).slice(0, 15)) {
		lines.push(`    ${milliseconds.toFixed(0).padStart(7)} ms ${percent(milliseconds)}  ${group}`);
	}

	return lines.join('\n');
}

/** The .cpuprofile files named, folders searched one level deep. */
async function profilesIn(names: readonly string[]): Promise<string[]> {
	const files: string[] = [];
	for (const name of names) {
		const stat = await fs.stat(name);
		if (stat.isDirectory()) {
			const entries = (await fs.readdir(name)).filter(entry => entry.endsWith('.cpuprofile')).sort();
			files.push(...entries.map(entry => path.join(name, entry)));
		} else {
			files.push(name);
		}
	}

	return files;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
	const arguments_ = process.argv.slice(2);
	const topIndex = arguments_.indexOf('--top');
	const top = topIndex >= 0 ? Number(arguments_.splice(topIndex, 2)[1]) : 25;
	for (const file of await profilesIn(arguments_)) {
		console.log(await summarizeCpuProfile(file, top));
	}
}
