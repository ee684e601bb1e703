import {isActive} from '../runs/run-metadata.js';
import type {Command} from './command.js';

export const stopCommand: Command = {
	help: `
  Usage
    $ moat stop [run]

  Stops the run (default: the newest run). Its record and logs stay until
  moat destroy or moat clean.
`,
	flags: {},
	operands: ['run'],
	async run(context) {
		const {runs} = await context.services();
		const run = await runs.find(context.input[0]);
		if (!isActive(run)) {
			context.stderr.write(`${run.id} (${run.name}) is already ${run.state}.\n`);
			return 0;
		}

		const stopped = await runs.stop(run);
		context.stdout.write(`${stopped.id}\n`);
		return 0;
	},
};

export const destroyCommand: Command = {
	help: `
  Usage
    $ moat destroy [run] [-f]

  Removes the run's container and everything moat kept about it. A running
  run needs -f. A damaged run (see moat list) is named by its run id.

  Flags
    -f, --force   Destroy even if it is running
`,
	flags: {force: {type: 'boolean', shortFlag: 'f'}},
	operands: ['run'],
	async run(context) {
		const {runs} = await context.services();
		// A damaged run can always be removed: that is the fix moat list gives for it.
		const run = await runs.findStored(context.input[0]);
		await runs.destroy(run, Boolean(context.flags.force));
		context.stdout.write(`${run.id}\n`);
		return 0;
	},
};
