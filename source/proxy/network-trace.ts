import {z} from 'zod';
import {parseJsonLines, type JsonLines} from '../files/json-lines.js';
import type {NetworkEntry} from './proxy-server.js';

/**
 * Reading and printing network.jsonl: pure, so the CLI and the dashboard
 * show requests the same way.
 */

/** One line of network.jsonl as the daemon writes it (NetworkEntry): the one check both readers make. */
const networkEntrySchema = z.object({
	ts: z.string(),
	method: z.string(),
	url: z.string(),
	status: z.number(),
	duration_ms: z.number(),
	bytes_in: z.number(),
	bytes_out: z.number(),
	grant: z.string().nullable(),
	blocked: z.boolean(),
	error: z.string().nullable(),
});

/** A parsed line as a NetworkEntry, or undefined when it is not one. */
export function acceptNetworkEntry(value: unknown): NetworkEntry | undefined {
	const result = networkEntrySchema.safeParse(value);
	return result.success ? result.data : undefined;
}

/** Entries from network.jsonl text, and how many lines were not entries (a torn last line is neither). */
export function parseNetworkEntries(text: string): JsonLines<NetworkEntry> {
	return parseJsonLines(text, acceptNetworkEntry);
}

/** `[time] METHOD URL STATUS (duration)`, with blocked requests marked. */
export function formatNetworkEntry(entry: NetworkEntry): string {
	const time = entry.ts.slice(11, 23);
	const status = entry.status === 0 ? '---' : String(entry.status);
	const suffix = entry.blocked ? `  BLOCKED${entry.error ? ` (${entry.error})` : ''}` : (entry.error ? `  error: ${entry.error}` : '');
	const grant = entry.grant ? `  [${entry.grant}]` : '';
	return `[${time}] ${entry.method} ${entry.url} ${status} (${entry.duration_ms}ms)${grant}${suffix}`;
}
