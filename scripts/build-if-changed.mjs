// Runs before moat starts (`npm start`) and before `npm test`: installs dependencies when the lock
// file is newer than the installed tree, and compiles only when a source
// file changed since the last build, so a built, unchanged tree starts at
// once. Plain JavaScript on purpose: it runs before anything is compiled.
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const minimumNodeMajor = 22;
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const withTests = process.argv.includes('--tests');
const folders = withTests ? ['source', 'components', 'test'] : ['source', 'components'];
const project = withTests ? 'tsconfig.json' : '.config/tsconfig.source.json';
const stamps = [path.join(root, 'build', '.built-source'), ...(withTests ? [path.join(root, 'build', '.built-with-tests')] : [])];
const stamp = stamps.at(-1);

const major = Number(process.versions.node.split('.')[0]);
if (major < minimumNodeMajor) {
	process.stderr.write(`moat needs Node ${minimumNodeMajor} or newer; this is Node ${process.versions.node}. Install Node 24 LTS (nodejs.org, or your version manager) and run this again.\n`);
	process.exit(1);
}

const modifiedAt = file => {
	try {
		return fs.statSync(file).mtimeMs;
	} catch {
		return 0;
	}
};

/** The newest change under `folder`: files, and folders too (a deleted file changes its folder). */
function newestIn(folder) {
	let newest = modifiedAt(folder);
	for (const entry of fs.readdirSync(folder, {withFileTypes: true})) {
		const full = path.join(folder, entry.name);
		newest = Math.max(newest, entry.isDirectory() ? newestIn(full) : modifiedAt(full));
	}

	return newest;
}

function run(command, arguments_) {
	const result = spawnSync(command, arguments_, {cwd: root, stdio: 'inherit'});
	if (result.status !== 0) {
		process.exit(result.status ?? 1);
	}
}

if (modifiedAt(path.join(root, 'node_modules', '.package-lock.json')) < modifiedAt(path.join(root, 'package-lock.json'))) {
	run('npm', ['install', '--no-audit', '--no-fund']);
}

const inputs = [
	...folders.map(folder => newestIn(path.join(root, folder))),
	modifiedAt(path.join(root, 'tsconfig.json')),
	modifiedAt(path.join(root, '.config', 'tsconfig.source.json')),
	modifiedAt(path.join(root, 'package-lock.json')),
];
if (Math.max(...inputs) >= modifiedAt(stamp)) {
	run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project]);
	// A build with the tests holds the sources too.
	fs.mkdirSync(path.dirname(stamp), {recursive: true});
	for (const file of stamps) {
		fs.writeFileSync(file, '');
	}
}
