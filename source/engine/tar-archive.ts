/**
 * The tar archives the engine's archive API speaks (read a path out of a
 * container, write files into one), in moat's own small reader and writer.
 * Only what that API produces and needs: regular files, directories and
 * symbolic links, with POSIX (ustar) headers and pax records for long
 * names. Pure: bytes in, entries out, and back.
 */

export type ArchiveEntry = {
	/** Path inside the archive, without a leading slash; directories without a trailing one. */
	path: string;
	type: 'file' | 'directory' | 'symlink' | 'other';
	/** Permission bits only: moat never writes setuid, setgid or sticky bits. */
	mode: number;
	uid: number;
	gid: number;
	/** File content (empty for the other types). */
	content: Buffer;
	/** A symbolic link's target. */
	linkTarget?: string;
	/** Modification time, seconds since the epoch (now when absent). */
	mtime?: number;
};

const block = 512;

function field(header: Buffer, offset: number, length: number): string {
	const raw = header.subarray(offset, offset + length);
	const end = raw.indexOf(0);
	return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function numberField(header: Buffer, offset: number, length: number): number {
	// Base-256 (high bit set) holds values too large for octal: big uids and sizes.
	if ((header[offset]! & 0x80) !== 0) {
		let value = header[offset]! & 0x7F;
		for (let index = offset + 1; index < offset + length; index++) {
			value = (value * 256) + header[index]!;
		}

		return value;
	}

	const text = field(header, offset, length).trim();
	return text === '' ? 0 : Number.parseInt(text, 8);
}

/** Pax extended header records: "LEN key=value\n" each. */
function paxRecords(data: Buffer): Record<string, string> {
	const records: Record<string, string> = {};
	let offset = 0;
	while (offset < data.length) {
		const space = data.indexOf(0x20, offset);
		if (space === -1) {
			break;
		}

		const length = Number.parseInt(data.subarray(offset, space).toString('ascii'), 10);
		if (!Number.isFinite(length) || length <= 0) {
			break;
		}

		const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
		const equals = record.indexOf('=');
		if (equals !== -1) {
			records[record.slice(0, equals)] = record.slice(equals + 1);
		}

		offset += length;
	}

	return records;
}

function trimPath(name: string): string {
	return name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
}

/** The entries of a tar archive, in order. */
export function readArchive(archive: Buffer): ArchiveEntry[] {
	const entries: ArchiveEntry[] = [];
	let offset = 0;
	let pax: Record<string, string> = {};
	let longName: string | undefined;
	let longLink: string | undefined;
	while (offset + block <= archive.length) {
		const header = archive.subarray(offset, offset + block);
		if (header.every(byte => byte === 0)) {
			break;
		}

		const size = numberField(header, 124, 12);
		// An old-style header marks a regular file with a NUL type.
		const typeFlag = String.fromCodePoint(header[156] === 0 ? 0x30 : header[156]!);
		const data = archive.subarray(offset + block, offset + block + size);
		offset += block + (Math.ceil(size / block) * block);
		switch (typeFlag) {
			case 'x': {
				pax = {...pax, ...paxRecords(data)};
				continue;
			}

			case 'g': {
				continue;
			}

			case 'L': {
				longName = data.toString('utf8').replace(/\0+$/, '');
				continue;
			}

			case 'K': {
				longLink = data.toString('utf8').replace(/\0+$/, '');
				continue;
			}

			default:
		}

		const prefix = field(header, 345, 155);
		const name = pax.path ?? longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
		const type = typeFlag === '0' || typeFlag === '7' ? 'file' : typeFlag === '5' ? 'directory' : typeFlag === '2' ? 'symlink' : 'other';
		entries.push({
			path: trimPath(name),
			type,
			mode: numberField(header, 100, 8) & 0o777,
			uid: pax.uid === undefined ? numberField(header, 108, 8) : Number(pax.uid),
			gid: pax.gid === undefined ? numberField(header, 116, 8) : Number(pax.gid),
			content: type === 'file' ? Buffer.from(data) : Buffer.alloc(0),
			mtime: pax.mtime === undefined ? numberField(header, 136, 12) : Math.floor(Number(pax.mtime)),
			...(type === 'symlink' ? {linkTarget: pax.linkpath ?? longLink ?? field(header, 157, 100)} : {}),
		});
		pax = {};
		longName = undefined;
		longLink = undefined;
	}

	return entries;
}

function writeField(header: Buffer, offset: number, length: number, text: string): void {
	header.write(text, offset, Math.min(length, Buffer.byteLength(text)), 'utf8');
}

function writeNumber(header: Buffer, offset: number, length: number, value: number): void {
	writeField(header, offset, length, value.toString(8).padStart(length - 1, '0'));
}

function headerBlock(name: string, typeFlag: string, size: number, entry: Pick<ArchiveEntry, 'mode' | 'uid' | 'gid' | 'mtime'>, linkTarget = ''): Buffer {
	const header = Buffer.alloc(block);
	writeField(header, 0, 100, name);
	writeNumber(header, 100, 8, entry.mode & 0o777);
	writeNumber(header, 108, 8, entry.uid);
	writeNumber(header, 116, 8, entry.gid);
	writeNumber(header, 124, 12, size);
	writeNumber(header, 136, 12, entry.mtime ?? Math.floor(Date.now() / 1000));
	header.fill(0x20, 148, 156);
	header.write(typeFlag, 156, 1, 'ascii');
	writeField(header, 157, 100, linkTarget);
	header.write('ustar\u000000', 257, 8, 'ascii');
	let sum = 0;
	for (const byte of header) {
		sum += byte;
	}

	writeField(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
	return header;
}

function padded(data: Buffer): Buffer[] {
	const rest = data.length % block;
	return rest === 0 ? [data] : [data, Buffer.alloc(block - rest)];
}

function paxHeader(records: Record<string, string>): Buffer[] {
	const lines = Object.entries(records).map(([key, value]) => {
		const body = ` ${key}=${value}\n`;
		// The length counts its own digits.
		let length = Buffer.byteLength(body) + 1;
		while (String(length).length + Buffer.byteLength(body) !== length) {
			length++;
		}

		return `${length}${body}`;
	});
	const data = Buffer.from(lines.join(''), 'utf8');
	return [headerBlock('PaxHeader', 'x', data.length, {mode: 0o644, uid: 0, gid: 0}), ...padded(data)];
}

/** A tar archive of these entries (ustar, with pax records where a name or link is too long). */
export function writeArchive(entries: readonly ArchiveEntry[]): Buffer {
	const parts: Buffer[] = [];
	for (const entry of entries) {
		if (entry.type === 'other') {
			continue;
		}

		const name = entry.type === 'directory' ? `${entry.path}/` : entry.path;
		const link = entry.linkTarget ?? '';
		const long: Record<string, string> = {};
		if (Buffer.byteLength(name) > 100) {
			long.path = name;
		}

		if (Buffer.byteLength(link) > 100) {
			long.linkpath = link;
		}

		if (Object.keys(long).length > 0) {
			parts.push(...paxHeader(long));
		}

		const typeFlag = entry.type === 'file' ? '0' : entry.type === 'directory' ? '5' : '2';
		const content = entry.type === 'file' ? entry.content : Buffer.alloc(0);
		parts.push(headerBlock(long.path ? name.slice(-100) : name, typeFlag, content.length, entry, long.linkpath ? '' : link), ...padded(content));
	}

	parts.push(Buffer.alloc(block * 2));
	return Buffer.concat(parts);
}
