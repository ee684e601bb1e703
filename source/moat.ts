#!/usr/bin/env node
import module from 'node:module';
import process from 'node:process';

// moat's entry. Node's compile cache keeps the compiled code of every
// module moat loads on disk, so a start after the first skips compiling
// them; it must be on before the rest of moat is imported, hence this file.
module.enableCompileCache?.();
// moat --version needs nothing of moat but its version: answered here,
// without the command line parser and the registry (moat -v --version and
// the like still go through cli.tsx).
if (process.argv.length === 3 && process.argv[2] === '--version') {
	const {moatVersion} = await import('./version.js');
	process.stdout.write(`${moatVersion()}\n`);
} else {
	await import('./cli.js');
}
