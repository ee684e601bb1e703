import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Stand-ins for the 1Password and AWS CLIs: small sh scripts in a folder a
 * test puts first on PATH. Each records its arguments (one per line) in
 * `<name>.args` beside it, so a test can check exactly what moat ran.
 */
export type FakeClis = {
	directory: string;
	/** PATH with the fakes first, then only the system's own folders (no real op or aws). */
	path: string;
	/** Writes (or replaces) a fake `name` whose body runs after the arguments are recorded. */
	write(name: 'op' | 'aws', body: string): Promise<void>;
	/** The arguments the fake was last called with; undefined when it never ran. */
	calledWith(name: 'op' | 'aws'): Promise<string[] | undefined>;
	cleanup(): Promise<void>;
};

/** Single-quotes a string for sh. */
export function shellQuote(text: string): string {
	return `'${text.replaceAll('\'', String.raw`'\''`)}'`;
}

export async function createFakeClis(): Promise<FakeClis> {
	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-fake-clis-'));
	await fs.chmod(directory, 0o755);
	return {
		directory,
		path: `${directory}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
		async write(name, body) {
			const script = `#!/bin/sh\nfor argument in "$@"; do printf '%s\\n' "$argument"; done >${shellQuote(path.join(directory, `${name}.args`))}\n${body}\n`;
			await fs.writeFile(path.join(directory, name), script, {mode: 0o755});
		},
		async calledWith(name) {
			const text = await fs.readFile(path.join(directory, `${name}.args`), 'utf8').catch(() => undefined);
			return text === undefined ? undefined : text.split('\n').slice(0, -1);
		},
		async cleanup() {
			await fs.rm(directory, {recursive: true, force: true});
		},
	};
}
