import type {NetworkEntry} from './proxy-server.js';

/**
 * Reading and printing network.jsonl: pure, so the CLI and the dashboard
 * show requests the same way.
 */

/** Entries from network.jsonl text; a torn last line (a crash mid-write) is skipped. */
export function parseNetworkEntries(text: string): NetworkEntry[] {
	const entries: NetworkEntry[] = [];
	for (const line of text.split('\n')) {
		if (line.trim() === '') {
			continue;
		}

		try {
			entries.push(JSON.parse(line) as NetworkEntry);
		} catch {
			// Only the last line can be torn; anything else unreadable is skipped too rather than hiding the rest.
		}
	}

	return entries;
}

/** `[time] METHOD URL STATUS (duration)`, with blocked requests marked. */
export function formatNetworkEntry(entry: NetworkEntry): string {
	const time = entry.ts.slice(11, 23);
	const status = entry.status === 0 ? '---' : String(entry.status);
	const suffix = entry.blocked ? `  BLOCKED${entry.error ? ` (${entry.error})` : ''}` : (entry.error ? `  error: ${entry.error}` : '');
	const grant = entry.grant ? `  [${entry.grant}]` : '';
	return `[${time}] ${entry.method} ${entry.url} ${status} (${entry.duration_ms}ms)${grant}${suffix}`;
}
