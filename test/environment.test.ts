import fs from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {createEnvironment, environmentVariables} from '../source/environment.js';

const root = path.resolve(import.meta.dirname, '..', '..');

async function sourceFiles(folder: string): Promise<string[]> {
	const entries = await fs.readdir(folder, {withFileTypes: true, recursive: true});
	return entries.filter(entry => entry.isFile() && /\.tsx?$/.test(entry.name)).map(entry => path.join(entry.parentPath, entry.name));
}

test('no file in source/ or components/ reads an environment variable by a literal name: each is named in environment.ts', async t => {
	const files = [...await sourceFiles(path.join(root, 'source')), ...await sourceFiles(path.join(root, 'components'))];
	t.true(files.length > 50);
	const literal = /(?:variables|process\.env)(?:\.[A-Z][A-Z\d_]+|\[\s*['"`][A-Z][A-Z\d_]+['"`]\s*\])/;
	const offenders: string[] = [];
	for (const file of files) {
		const lines = (await fs.readFile(file, 'utf8')).split('\n');
		for (const [index, line] of lines.entries()) {
			if (literal.test(line)) {
				offenders.push(`${path.relative(root, file)}:${index + 1}: ${line.trim()}`);
			}
		}
	}

	t.deepEqual(offenders, []);
});

test('environment variable names are unique and each is an uppercase name', t => {
	const names = Object.values(environmentVariables);
	t.is(new Set(names).size, names.length);
	for (const name of names) {
		t.regex(name, /^[A-Z][A-Z\d_]*$/);
	}
});

test('the home directory and MOAT_HOME are parameters: MOAT_HOME wins, else ~/.moat of the given home', t => {
	t.is(createEnvironment({}, '/home/someone').moatHome, '/home/someone/.moat');
	t.is(createEnvironment({[environmentVariables.home]: '/srv/moat'}, '/home/someone').moatHome, '/srv/moat');
	t.is(createEnvironment({}, '/home/someone').userHome, '/home/someone');
});
