import {fileReads, type FileReads} from '../files/file-reads.js';

/**
 * Requests and blocked requests per run, for the runs table, counted from
 * each run's network.jsonl. Only bytes appended since the last look are
 * read, so 500 runs cost 500 stats a refresh, not 500 file reads.
 */
export type RunCounter = {
	/** `reads`: through the thread pool unless said otherwise (see file-reads.ts). */
	count(runId: string, file: string, reads?: FileReads): Promise<{requests: number; blocked: number}>;
	/** Forgets runs that are gone. */
	retain(runIds: ReadonlySet<string>): void;
};

/** Reads at most this much at a time: a long file is counted in pieces, never held whole. */
const chunkBytes = 1024 * 1024;

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
		async count(runId, file, reads = fileReads()) {
			const stat = await reads.stat(file);
			if (!stat) {
				seen.delete(runId);
				return {requests: 0, blocked: 0};
			}

			let entry = seen.get(runId);
			if (entry?.inode !== stat.ino || stat.size < entry.offset) {
				entry = {offset: 0, inode: stat.ino, requests: 0, blocked: 0, partial: ''};
				seen.set(runId, entry);
			}

			if (stat.size > entry.offset) {
				const fd = await reads.open(file);
				try {
					const buffer = Buffer.alloc(Math.min(chunkBytes, stat.size - entry.offset));
					while (entry.offset < stat.size) {
						const bytesRead = await reads.readAt(fd, buffer, Math.min(buffer.length, stat.size - entry.offset), entry.offset);
						if (bytesRead === 0) {
							break;
						}

						const counted = countEntries(entry.partial + buffer.subarray(0, bytesRead).toString('utf8'));
						entry.offset += bytesRead;
						entry.requests += counted.requests;
						entry.blocked += counted.blocked;
						entry.partial = counted.partial;
					}
				} finally {
					await reads.close(fd);
				}
			}

			return {requests: entry.requests, blocked: entry.blocked};
		},
		retain(runIds) {
			for (const runId of seen.keys()) {
				if (!runIds.has(runId)) {
					seen.delete(runId);
				}
			}
		},
	};
}
