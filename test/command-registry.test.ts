import {spawnSync} from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';
import test from 'ava';
import {commands, findCommand} from '../source/commands/index.js';

const cli = fileURLToPath(new URL('../source/moat.js', import.meta.url));

/** Runs the built CLI as a user would, with its own MOAT_HOME and HOME, and NODE_OPTIONS as given. */
async function moat(args: string[], nodeOptions: string[] = []) {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-registry-'));
	try {
		const result = spawnSync(process.execPath, [...nodeOptions, cli, ...args], {
			env: {...process.env, MOAT_HOME: path.join(home, 'moat'), HOME: home},
			encoding: 'utf8',
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		return {code: result.status, stdout: result.stdout, stderr: result.stderr};
	} finally {
		await fs.rm(home, {recursive: true, force: true});
	}
}

// A command is loaded only when asked for: a broken import would show only then, so each is loaded here.
for (const entry of commands) {
	test(`moat ${entry.name}: its module loads, with help, flags and run`, async t => {
		const command = await entry.load();
		t.is(typeof command.run, 'function');
		t.is(typeof command.flags, 'object');
		t.regex(command.help, new RegExp(String.raw`\$ moat ${entry.name}\b`));
	});
}

test('names and aliases are each one command\'s, and findCommand finds each', t => {
	const words = commands.flatMap(entry => [entry.name, ...(entry.aliases ?? [])]);
	t.is(new Set(words).size, words.length);
	for (const entry of commands) {
		for (const word of [entry.name, ...(entry.aliases ?? [])]) {
			t.is(findCommand(word), entry);
		}
	}

	t.is(findCommand('nope'), undefined);
});

test('every command\'s --help prints its usage through the CLI and exits 0', async t => {
	// One after another: each is a node start, and the machine may be busy.
	for (const entry of commands) {
		const result = await moat([entry.name, '--help']);
		t.is(result.code, 0, `${entry.name}: ${result.stderr}`);
		t.regex(result.stdout, new RegExp(String.raw`\$ moat ${entry.name}\b`), entry.name);
	}
});

test('moat --help lists every command that is not hidden, with its summary', async t => {
	const result = await moat(['--help']);
	t.is(result.code, 0);
	for (const entry of commands) {
		t.is(result.stdout.includes(`${entry.summary}\n`), !entry.hidden, entry.name);
	}
});

/**
 * What a start loads, told by a module hook (module.registerHooks) that
 * writes each URL it loads to stderr as it exits.
 */
async function loadedBy(args: string[]): Promise<string[]> {
	const folder = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-loads-'));
	const hook = path.join(folder, 'hook.mjs');
	await fs.writeFile(hook, `import {registerHooks} from 'node:module';
const loaded = [];
registerHooks({load(url, context, next) { loaded.push(url); return next(url, context); }});
process.on('exit', () => { process.stderr.write('\\nLOADED ' + JSON.stringify(loaded) + '\\n'); });
`);
	try {
		const result = await moat(args, ['--import', hook]);
		const line = result.stderr.split('\n').find(text => text.startsWith('LOADED '));
		return JSON.parse(line!.slice('LOADED '.length)) as string[];
	} finally {
		await fs.rm(folder, {recursive: true, force: true});
	}
}

const heavy = ['zod', 'ink', 'react', 'dockerode', '@xterm/headless', 'meow', 'yaml', 'chokidar'];
const packagesIn = (urls: string[]) => new Set(urls.flatMap(url => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []));

test('moat --version and moat --help load no command, no engine client, no terminal emulator and no UI', async t => {
	for (const args of [['--version'], ['--help']]) {
		const packages = packagesIn(await loadedBy(args));
		t.deepEqual(heavy.filter(name => packages.has(name)), [], args.join(' '));
	}
});

test('moat list --help loads the flag parser and the list command, and nothing heavier', async t => {
	const urls = await loadedBy(['list', '--help']);
	const packages = packagesIn(urls);
	t.deepEqual(heavy.filter(name => packages.has(name)), ['meow']);
	t.true(urls.some(url => url.endsWith('/commands/list-command.js')));
	t.false(urls.some(url => url.endsWith('/commands/run-command.js')));
});
