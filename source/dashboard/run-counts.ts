import fs from 'node:fs/promises';

/**
 * Requests and blocked requests per run, for the runs table, counted from
 * each run's network.jsonl. Only bytes appended since the last look are
 * read, so 500 runs cost 500 stats a refresh, not 500 file reads.
 */
export type RunCounter = {count(runId: string, file: string): Promise<{requests: number; blocked: number}>};

type Seen = {offset: number; inode: number; requests: number; blocked: number; partial: string};

/** Counts complete lines and the ones the proxy marked blocked. Pure. */
export function countEntries(text: string): {requests: number; blocked: number; partial: string} {
	const end = text.lastIndexOf('\n') + 1;
	let requests = 0;
	let blocked = 0;
	for (const line of text.slice(0, end).split('\n')) {
		if (line.trim() !== '') {
			requests++;
			if (line.includes('"blocked":true')) {
				blocked++;
			}
		}
	}

	return {requests, blocked, partial: text.slice(end)};
}

export function createRunCounter(): RunCounter {
	const seen = new Map<string, Seen>();
	return {
		async count(runId, file) {
			const stat = await fs.stat(file).catch(() => undefined);
			if (!stat) {
				seen.delete(runId);
				return {requests: 0, blocked: 0};
			}

			let entry = seen.get(runId);
			if (!entry || entry.inode !== stat.ino || stat.size < entry.offset) {
				entry = {offset: 0, inode: stat.ino, requests: 0, blocked: 0, partial: ''};
				seen.set(runId, entry);
			}

			if (stat.size > entry.offset) {
				const handle = await fs.open(file, 'r');
				try {
					const buffer = Buffer.alloc(stat.size - entry.offset);
					const {bytesRead} = await handle.read(buffer, 0, buffer.length, entry.offset);
					const counted = countEntries(entry.partial + buffer.subarray(0, bytesRead).toString('utf8'));
					entry.offset += bytesRead;
					entry.requests += counted.requests;
					entry.blocked += counted.blocked;
					entry.partial = counted.partial;
				} finally {
					await handle.close();
				}
			}

			return {requests: entry.requests, blocked: entry.blocked};
		},
	};
}
