import {z} from 'zod';
import {agentActivities, runIdPattern, runStates, type RunMetadata} from './run-metadata.js';

/**
 * The one place what a run folder holds is checked: its metadata.json and
 * the lines of its logs.jsonl (README: Where things live). Everything past
 * it trusts the types; a record that fails is a damaged run (DamagedRun),
 * shown with what is wrong, never a crash in whatever reads a field later.
 * Pure.
 */

/** Zod's error option: "is missing" for an absent field, else what it must be. */
function expecting(what: string) {
	return {error: (issue: {input: unknown}) => (issue.input === undefined ? 'is missing' : `must be ${what}`)};
}

const text = z.string(expecting('text'));
const nullableText = z.string(expecting('text or null')).nullable();
const flag = z.boolean(expecting('true or false'));
const textList = z.array(z.string(expecting('text')), expecting('a list of text'));
const isTime = (value: string) => !Number.isNaN(Date.parse(value));
const time = z.string(expecting('a date and time')).refine(isTime, {error: 'must be a date and time'});
const nullableTime = z.string(expecting('a date and time or null')).refine(isTime, {error: 'must be a date and time'}).nullable();
const count = (what: string) => z.number(expecting(what)).refine(Number.isFinite, {error: `must be ${what}`});

/**
 * The shape moat writes (RunMetadata). Keys it does not know are kept, not
 * refused: a newer moat sharing this MOAT_HOME may have added them, and an
 * update must not drop them.
 */
export const runMetadataSchema = z.looseObject({
	id: z.string(expecting('a run id')).regex(runIdPattern, {error: 'must be a run id such as run_0123456789ab'}),
	name: text,
	workspace: text,
	agent: nullableText,
	image: text,
	command: textList,
	grants: textList,
	ports: z.record(z.string(), z.number(expecting('a port number')).int({error: 'must be a port number'}).min(1, {error: 'must be a port number'}).max(65_535, {error: 'must be a port number'}), expecting('a map of name to port')),
	mounts: textList,
	environmentNames: textList,
	containerId: nullableText,
	state: z.enum(runStates, expecting(`one of ${runStates.join(', ')}`)),
	interactive: flag,
	keep: flag,
	createdAt: time,
	startedAt: nullableTime,
	stoppedAt: nullableTime,
	exitCode: z.number(expecting('a whole number or null')).int({error: 'must be a whole number or null'}).nullable(),
	error: nullableText,
	stopRequested: flag,
	resources: z.object({memoryBytes: count('a number of bytes'), cpus: count('a number of CPUs'), pids: count('a number of processes')}, expecting('a map with memoryBytes, cpus and pids')).optional(),
	outOfMemory: flag.optional(),
	activity: z.object({state: z.enum(agentActivities, expecting(`one of ${agentActivities.join(', ')}`)), at: time}, expecting('a map with state and at, or null')).nullable().optional(),
}, expecting('a JSON object'));

/** What one run folder's metadata.json turned out to be. */
export type RunRecordReading =
	| {kind: 'run'; run: RunMetadata}
	| {
		kind: 'damaged';
		/** What is wrong, naming the file and the field. */
		damage: string;
		/** What could still be read, for showing the run; never trusted further. */
		name: string | null;
		createdAt: string | null;
	};

/** At most this many problems are named; the rest are counted. */
const namedProblems = 2;

/**
 * Reads the text of `runs/<folder>/metadata.json` (undefined: the file is
 * missing). A record is whole when it parses, fits the schema, and names
 * the folder it is in: a record copied or moved into another run's folder
 * would otherwise act on that run.
 */
export function readRunRecord(folder: string, contents: string | undefined): RunRecordReading {
	const damaged = (damage: string, salvaged: unknown = undefined): RunRecordReading => ({
		kind: 'damaged',
		damage,
		...salvage(salvaged),
	});

	if (contents === undefined) {
		return damaged('metadata.json is missing');
	}

	if (contents.trim() === '') {
		return damaged('metadata.json is empty');
	}

	let value: unknown;
	try {
		value = JSON.parse(contents);
	} catch (error) {
		return damaged(`metadata.json is not valid JSON (${(error as Error).message})`);
	}

	const result = runMetadataSchema.safeParse(value);
	if (!result.success) {
		const [first] = result.error.issues;
		if (first?.path.length === 0) {
			return damaged(`metadata.json ${first.message}`, value);
		}

		const problems = result.error.issues.map(issue => `field ${issue.path.map(String).join('.')} ${issue.message}`);
		const more = problems.length - namedProblems;
		return damaged(`metadata.json: ${problems.slice(0, namedProblems).join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`, value);
	}

	if (result.data.id !== folder) {
		return damaged(`metadata.json: field id is ${result.data.id}, but the record is in folder ${folder}`, value);
	}

	return {kind: 'run', run: result.data as RunMetadata};
}

function salvage(value: unknown): {name: string | null; createdAt: string | null} {
	const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {};
	return {
		name: typeof record.name === 'string' ? record.name : null,
		createdAt: typeof record.createdAt === 'string' && isTime(record.createdAt) ? new Date(record.createdAt).toISOString() : null,
	};
}

export {acceptLogRecord} from './run-record-check.js';
