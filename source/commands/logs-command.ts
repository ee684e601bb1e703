import {usageError} from '../errors.js';
import {skippedNote} from '../files/json-lines.js';
import {printable} from '../text/printable.js';
import type {Command} from './command.js';
import {writeRecord} from './attached-output.js';

export const logsCommand: Command = {
	name: 'logs',
	summary: 'Show a run\'s output',
	help: `
  Usage
    $ moat logs [run] [-n N] [-f]

  Prints the output of a run (default: the newest run), stdout to stdout and
  stderr to stderr. Output produced while no moat process was watching is
  caught up from the engine first.

  Flags
    -n, --lines N   Only the last N lines
    -f, --follow    Keep printing new output until the run ends (Ctrl+C stops following)
`,
	flags: {lines: {type: 'number', shortFlag: 'n'}, follow: {type: 'boolean', shortFlag: 'f'}},
	operands: ['run'],
	async run(context) {
		const lines = context.flags.lines as number | undefined;
		if (lines !== undefined && (!Number.isInteger(lines) || lines < 0)) {
			throw usageError(`-n ${String(lines)} is not a number of lines.`, 'Pass a whole number, as in moat logs -n 50.');
		}

		const {runs} = await context.services();
		// A damaged run's output is still worth reading: it may say what went wrong.
		const run = await runs.findStored(context.input[0]);
		const {entries: records, skipped} = await runs.output(run);
		for (const record of lines === undefined ? records : records.slice(Math.max(0, records.length - lines))) {
			writeRecord(context, record);
		}

		const note = skippedNote(skipped, 'logs.jsonl');
		if (note) {
			context.stderr.write(`moat: ${note}.\n`);
		}

		if (run.state === 'damaged') {
			context.stderr.write(printable(`moat: ${run.id} is damaged (${run.damage}); remove it with moat destroy ${run.id}.`) + '\n');
			return 0;
		}

		if (context.flags.follow && run.containerId && (run.state === 'running' || run.state === 'created')) {
			const stop = new AbortController();
			void context.nextInterrupt().then(() => {
				stop.abort();
			});
			await runs.follow(run, record => {
				writeRecord(context, record);
			}, stop.signal);
			stop.abort();
		}

		return 0;
	},
};
