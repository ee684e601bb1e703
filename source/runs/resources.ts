import {memoryPattern} from '../config/config-names.js';
import {usageError} from '../errors.js';
import {printable} from '../text/printable.js';

/**
 * What one bottle may use of the engine's machine (README: Resources).
 * Every bottle gets limits: with none, one runaway agent (a fork loop, a
 * leak) takes the machine and every other bottle with it. Pure.
 */
export type Resources = {memoryBytes: number; cpus: number; pids: number};

/** A limit as agent.yaml or a flag says it, before checking. */
export type ResourceRequest = {memory?: string | number; cpus?: string | number; pids?: string | number};

const units: Record<string, number> = {'': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4};

/** Below this a bottle cannot start a shell and Node reliably. */
const minimumMemory = 64 * 1024 ** 2;
export const defaultPids = 1024;
const maximumDefaultMemory = 8 * 1024 ** 3;

/** The limits a bottle gets when nobody says otherwise: half the memory (at most 8 GiB), all CPUs but one, 1024 processes. */
export function defaultResources(engine: {cpus: number; memoryBytes: number}): Resources {
	const half = Math.floor(engine.memoryBytes / 2);
	return {
		memoryBytes: Math.max(minimumMemory, Math.min(maximumDefaultMemory, half || maximumDefaultMemory)),
		cpus: Math.max(1, engine.cpus - 1),
		pids: defaultPids,
	};
}

export function formatBytes(bytes: number): string {
	for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
		if (bytes >= size) {
			const value = bytes / size;
			return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
		}
	}

	return `${bytes} B`;
}

/** "4 GiB, 1 CPU, 1024 pids": a run's limits in a table cell. */
export function describeResources(resources: Resources): string {
	return `${formatBytes(resources.memoryBytes)}, ${resources.cpus} CPU${resources.cpus === 1 ? '' : 's'}, ${resources.pids} pids`;
}

function parseMemory(value: string | number, where: string): number {
	const match = memoryPattern.test(String(value)) ? /(\d+(?:\.\d+)?)\s*([a-z]*)/i.exec(String(value)) : null;
	const size = match ? units[match[2]!.toLowerCase()] : undefined;
	if (!match || size === undefined) {
		throw usageError(`${where} "${printable(String(value).slice(0, 40))}" is not an amount of memory.`, 'Write a number with a unit, such as 512m or 4g.');
	}

	const bytes = Math.floor(Number(match[1]) * size);
	if (bytes < minimumMemory) {
		throw usageError(`${where} ${printable(String(value))} is too little for a bottle.`, `Give it at least ${formatBytes(minimumMemory)}, such as 512m.`);
	}

	return bytes;
}

function parseCpus(value: string | number, where: string, available: number): number {
	const cpus = typeof value === 'number' ? value : /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
	if (!Number.isFinite(cpus) || cpus < 0.01) {
		throw usageError(`${where} "${printable(String(value).slice(0, 40))}" is not a number of CPUs.`, 'Write a number such as 1, 2 or 0.5.');
	}

	if (cpus > available) {
		throw usageError(`${where} ${cpus} is more CPUs than the engine has (${available}).`, `Give at most ${available}.`);
	}

	return cpus;
}

function parsePids(value: string | number, where: string): number {
	const pids = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
	if (!Number.isSafeInteger(pids) || pids < 16) {
		throw usageError(`${where} "${printable(String(value).slice(0, 40))}" is not a process limit.`, 'Write a whole number of at least 16, such as 512 or 4096.');
	}

	return pids;
}

/**
 * The run's limits: each from the flag, else agent.yaml, else the default.
 * A value that cannot be read is a usage error naming where it came from.
 */
export function resolveResources(flags: ResourceRequest, config: ResourceRequest, engine: {cpus: number; memoryBytes: number}): Resources {
	const defaults = defaultResources(engine);
	const pick = <T>(key: keyof ResourceRequest, parse: (value: string | number, where: string) => T, fallback: T): T => {
		if (flags[key] !== undefined) {
			return parse(flags[key], `--${key}`);
		}

		return config[key] === undefined ? fallback : parse(config[key], `resources.${key} in agent.yaml`);
	};

	return {
		memoryBytes: pick('memory', parseMemory, defaults.memoryBytes),
		cpus: pick('cpus', (value, where) => parseCpus(value, where, engine.cpus), defaults.cpus),
		pids: pick('pids', parsePids, defaults.pids),
	};
}
