import {readFileSync} from 'node:fs';

/** moat's version, from its package.json (two folders up from build/source/). */
export function moatVersion(): string {
	return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version;
}
