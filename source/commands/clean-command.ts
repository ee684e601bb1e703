import {usageError} from '../errors.js';
import {formatBytes} from '../output/format.js';
import type {Command} from './command.js';

export const cleanCommand: Command = {
	help: `
  Usage
    $ moat clean [-f] [--dry-run]

  Removes every run that is not running (its data and any kept container)
  and every moat-built image no container uses. Asks first on a terminal.

  Flags
    -f, --force    Do not ask
        --dry-run  Only list what would be removed
`,
	flags: {force: {type: 'boolean', shortFlag: 'f'}, dryRun: {type: 'boolean'}},
	operands: [],
	async run(context) {
		const {runs} = await context.services();
		const plan = await runs.cleanable();
		const lines = [
			...plan.runs.map(run => `run    ${run.id}  ${run.name}  ${run.state}`),
			...plan.orphanContainers.map(id => `container ${id.slice(0, 12)} (no run)`),
			...plan.images.map(image => `image  ${image.tags[0] ?? image.id.slice(7, 19)}  ${formatBytes(image.sizeBytes)}`),
		];
		if (lines.length === 0) {
			context.stdout.write('Nothing to clean.\n');
			return 0;
		}

		context.stdout.write(lines.join('\n') + '\n');
		if (context.flags.dryRun) {
			return 0;
		}

		if (!context.flags.force) {
			if (!context.stdinIsTTY) {
				throw usageError('moat clean needs confirmation, and there is no terminal to ask on.', 'Run moat clean -f to remove the above, or --dry-run to only list it.');
			}

			if (!(await context.confirm(`Remove ${lines.length} item${lines.length === 1 ? '' : 's'}?`))) {
				context.stdout.write('Nothing removed.\n');
				return 0;
			}
		}

		await runs.clean(plan);
		context.stdout.write(`Removed ${plan.runs.length} run(s), ${plan.images.length} image(s).\n`);
		return 0;
	},
};
