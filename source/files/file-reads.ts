import fs from 'node:fs';
import fsp from 'node:fs/promises';

/**
 * The reads a listing of runs makes, either through libuv's thread pool
 * (the usual way: the event loop goes on meanwhile) or at once on this
 * thread. At once is for a start with nothing else to do yet (the
 * dashboard's first frame): hundreds of small files are read several times
 * faster without a trip through the pool for each.
 */
export type FileReads = {
	/** Undefined when there is no such file or it cannot be looked at. */
	stat(file: string): Promise<fs.Stats | undefined>;
	readdir(folder: string): Promise<string[]>;
	readFile(file: string): Promise<string>;
	/** Reads up to `length` bytes at `position` of an open file; the count read. */
	readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number>;
	open(file: string): Promise<number>;
	close(fd: number): Promise<void>;
};

const pooled: FileReads = {
	stat: async file => fsp.stat(file).catch(() => undefined),
	readdir: async folder => fsp.readdir(folder),
	readFile: async file => fsp.readFile(file, 'utf8'),
	readAt: async (fd, buffer, length, position) => new Promise((resolve, reject) => {
		fs.read(fd, buffer, 0, length, position, (error, bytesRead) => {
			if (error) {
				reject(error);
			} else {
				resolve(bytesRead);
			}
		});
	}),
	open: async file => new Promise((resolve, reject) => {
		fs.open(file, 'r', (error, fd) => {
			if (error) {
				reject(error);
			} else {
				resolve(fd);
			}
		});
	}),
	close: async fd => new Promise(resolve => {
		fs.close(fd, () => {
			resolve();
		});
	}),
};

const atOnce: FileReads = {
	stat: async file => {
		try {
			return fs.statSync(file, {throwIfNoEntry: false});
		} catch {
			return undefined;
		}
	},
	readdir: async folder => fs.readdirSync(folder),
	readFile: async file => fs.readFileSync(file, 'utf8'),
	readAt: async (fd, buffer, length, position) => fs.readSync(fd, buffer, 0, length, position),
	open: async file => fs.openSync(file, 'r'),
	close: async fd => {
		fs.closeSync(fd);
	},
};

export function fileReads({atOnce: now = false}: {atOnce?: boolean} = {}): FileReads {
	return now ? atOnce : pooled;
}
