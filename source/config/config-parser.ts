import {ZodObject, ZodOptional, type z} from 'zod';
import {usageError} from '../errors.js';
import {nearest} from '../text/nearest.js';
import {configFixes, configSchema, type MoatConfig} from './config-schema.js';
import {parseYaml, type SourcePosition} from './yaml-document.js';
import {printable} from '../text/printable.js';

/**
 * Parses and validates config text. Every problem becomes a usage error that
 * names file:line:column and the key, and says how to fix it.
 */
export function parseConfig(text: string, fileLabel: string): MoatConfig {
	const document = parseYaml(text);
	const at = (position: SourcePosition) => `${fileLabel}:${position.line}:${position.column}`;

	if (document.syntaxError) {
		throw usageError(
			`${at(document.syntaxError.position)}: invalid YAML: ${printable(document.syntaxError.message)}`,
			`Fix the YAML syntax in ${fileLabel}.`,
		);
	}

	const value = (document.value ?? {}) as Record<string, unknown>;
	if (typeof value !== 'object' || Array.isArray(value)) {
		throw usageError(`${at({line: 1, column: 1})}: the file must be a map of settings.`, 'Start with keys such as name:, dependencies: and command:.');
	}

	// Values that must stay text keep the text the user wrote: YAML would
	// turn `version: 1.10` into 1.1 and `ZIP: 01234` into 1234.
	if ('version' in value) {
		value.version = document.sourceText(['version']) ?? value.version;
	}

	if (value.env && typeof value.env === 'object' && !Array.isArray(value.env)) {
		const environment = value.env as Record<string, unknown>;
		for (const key of Object.keys(environment)) {
			environment[key] = document.sourceText(['env', key]) ?? environment[key];
		}
	}

	const result = configSchema.safeParse(value);
	if (result.success) {
		return result.data;
	}

	// Report in file order, so the first problem named is the first one the
	// user meets reading the file.
	const problems = result.error.issues
		.map(issue => ({issue, position: issuePosition(issue, document.positionOf)}))
		.sort((a, b) => a.position.line - b.position.line || a.position.column - b.position.column)
		.map(({issue}) => describeIssue(issue, document.positionOf, at));
	const [first] = problems;
	const more = problems.length > 1 ? ` (and ${problems.length - 1} more ${problems.length === 2 ? 'problem' : 'problems'})` : '';
	throw usageError(`${first!.message}${more}`, first!.fix);
}

function issuePosition(
	issue: z.core.$ZodIssue,
	positionOf: (path: ReadonlyArray<string | number>, options?: {key?: boolean}) => SourcePosition,
): SourcePosition {
	const issuePath = issue.path.map(segment => (typeof segment === 'symbol' ? String(segment) : segment));
	if (issue.code === 'unrecognized_keys') {
		return positionOf([...issuePath, issue.keys[0]!], {key: true});
	}

	return positionOf(issuePath, {key: issue.code === 'invalid_key'});
}

function describeIssue(
	issue: z.core.$ZodIssue,
	positionOf: (path: ReadonlyArray<string | number>, options?: {key?: boolean}) => SourcePosition,
	at: (position: SourcePosition) => string,
): {message: string; fix: string} {
	const issuePath = issue.path.map(segment => (typeof segment === 'symbol' ? String(segment) : segment));
	const topKey = String(issuePath[0] ?? '');

	if (issue.code === 'unrecognized_keys') {
		const key = issue.keys[0]!;
		const position = positionOf([...issuePath, key], {key: true});
		const known = keysAt(issuePath);
		const suggestion = nearest(key, known);
		return {
			message: `${at(position)}: unknown key "${printable([...issuePath, key].join('.'))}".`,
			fix: suggestion ? `Did you mean "${suggestion}"? Known keys: ${known.join(', ')}.` : `Known keys: ${known.join(', ')}.`,
		};
	}

	// A bad record key (env: {1X: y}) is reported on the key itself, with
	// the key rule's own message (zod nests it under the record's issue).
	const isKeyIssue = issue.code === 'invalid_key';
	const position = positionOf(issuePath, {key: isKeyIssue});
	const label = formatPath(issuePath);
	const message = isKeyIssue ? (issue.issues[0]?.message ?? issue.message) : issue.message;
	return {
		message: `${at(position)}: "${printable(label)}" ${printable(message)}.`,
		fix: configFixes[topKey] ?? 'See the configuration section of the README.',
	};
}

/** The keys the schema allows in the map at `issuePath`. */
function keysAt(issuePath: Array<string | number>): string[] {
	let schema: z.ZodType = configSchema;
	for (const segment of issuePath) {
		const shape = objectShape(schema);
		if (!shape?.[segment]) {
			return [];
		}

		schema = shape[segment];
	}

	return Object.keys(objectShape(schema) ?? {});
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
	const inner = schema instanceof ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
	return inner instanceof ZodObject ? (inner.shape as Record<string, z.ZodType>) : undefined;
}

function formatPath(segments: Array<string | number>): string {
	return segments.reduce<string>(
		(text, segment) => (typeof segment === 'number' ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment),
		'',
	);
}
