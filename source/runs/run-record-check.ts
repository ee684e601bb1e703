import {agentActivities, runIdPattern, runStates, type RunMetadata} from './run-metadata.js';
import type {LogRecord} from './run-store.js';

/**
 * The records of a run folder checked without zod, which takes longer to
 * load than a listing of hundreds of runs takes to read (moat list, the
 * dashboard's first frame). Pure.
 *
 * wholeRunRecord takes a metadata.json that is whole, as moat writes it;
 * anything else, even what the schema would take, is left to the schema
 * (run-record-schemas.ts), which says what is wrong. So it is never more
 * lenient than the schema, and what it takes is exactly what the schema
 * would have returned (test/run-records.test.ts holds the two together).
 */
export function wholeRunRecord(folder: string, contents: string): RunMetadata | undefined {
	let value: unknown;
	try {
		value = JSON.parse(contents);
	} catch {
		return undefined;
	}

	if (!isRecord(value)) {
		return undefined;
	}

	const run = value;
	const whole = typeof run.id === 'string' && run.id === folder && runIdPattern.test(run.id)
		&& isText(run.name) && isText(run.workspace) && isNullableText(run.agent) && isText(run.image)
		&& isTextList(run.command) && isTextList(run.grants) && isPorts(run.ports) && isTextList(run.mounts) && isTextList(run.environmentNames)
		&& isNullableText(run.containerId) && (runStates as readonly unknown[]).includes(run.state)
		&& isFlag(run.interactive) && isFlag(run.keep)
		&& isTime(run.createdAt) && (run.startedAt === null || isTime(run.startedAt)) && (run.stoppedAt === null || isTime(run.stoppedAt))
		&& (run.exitCode === null || Number.isSafeInteger(run.exitCode)) && isNullableText(run.error) && isFlag(run.stopRequested)
		&& (!('resources' in run) || isResources(run.resources))
		&& (!('outOfMemory' in run) || isFlag(run.outOfMemory))
		&& (!('activity' in run) || run.activity === null || isActivity(run.activity));
	return whole ? run as RunMetadata : undefined;
}

/**
 * A parsed line of logs.jsonl as a LogRecord (keys it does not know left
 * out), or undefined when it is not one.
 */
export function acceptLogRecord(value: unknown): LogRecord | undefined {
	if (!isRecord(value)) {
		return undefined;
	}

	const {ts, stream, line, lost} = value;
	if (typeof ts !== 'string' || (stream !== 'stdout' && stream !== 'stderr') || typeof line !== 'string') {
		return undefined;
	}

	if (lost === undefined) {
		return {ts, stream, line};
	}

	return isRecord(lost) && typeof lost.after === 'string' && typeof lost.before === 'string'
		? {ts, stream, line, lost: {after: lost.after, before: lost.before}}
		: undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object with exactly these keys (the schema drops others, so a record with more is left to it). */
function hasExactly(value: unknown, keys: readonly string[]): value is Record<string, unknown> {
	return isRecord(value) && Object.keys(value).length === keys.length && keys.every(key => Object.hasOwn(value, key));
}

const isText = (value: unknown): value is string => typeof value === 'string';
const isNullableText = (value: unknown) => value === null || typeof value === 'string';
const isFlag = (value: unknown) => typeof value === 'boolean';
const isTextList = (value: unknown) => Array.isArray(value) && value.every(item => typeof item === 'string');
const isTime = (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value));
const isCount = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
const isPorts = (value: unknown) => isRecord(value)
	&& Object.values(value).every(port => Number.isSafeInteger(port) && (port as number) >= 1 && (port as number) <= 65_535);
const isResources = (value: unknown) => hasExactly(value, ['memoryBytes', 'cpus', 'pids'])
	&& isCount(value.memoryBytes) && isCount(value.cpus) && isCount(value.pids);
const isActivity = (value: unknown) => hasExactly(value, ['state', 'at'])
	&& (agentActivities as readonly unknown[]).includes(value.state) && isTime(value.at);
