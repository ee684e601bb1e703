#!/usr/bin/env node
import module from 'node:module';

// moat's entry. Node's compile cache keeps the compiled code of every
// module moat loads on disk, so a start after the first skips compiling
// them; it must be on before the rest of moat is imported, hence this file.
module.enableCompileCache?.();
await import('./cli.js');
