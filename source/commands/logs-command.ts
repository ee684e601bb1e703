import {usageError} from '../errors.js';
import {skippedNote} from '../files/json-lines.js';
import {isDamaged} from '../runs/run-metadata.js';
import type {LogRecord} from '../runs/run-store.js';
import {renderTerminalLog} from '../runs/terminal-log.js';
import {plainTerminalLine} from '../terminal/terminal-line.js';
import {printable} from '../text/printable.js';
import type {Command} from './command.js';
import {writeRecord} from './attached-output.js';

export const logsCommand: Command = {
	help: `
  Usage
    $ moat logs [run] [-n N] [-f] [--raw]

  Prints the output of a run (default: the newest run), stdout to stdout and
  stderr to stderr. Output produced while no moat process was watching is
  caught up from the engine first.

  A run with a terminal (-i, moat claude) is shown as its screen read: its
  output is played through a terminal, so what a program drew in place
  (Claude Code, a progress bar, top) reads as it looked. New lines that -f
  prints are cleaned one at a time as they come.

  Flags
    -n, --lines N   Only the last N lines
    -f, --follow    Keep printing new output until the run ends (Ctrl+C stops following)
    --raw           The bytes as the run wrote them, escape sequences and all
`,
	flags: {lines: {type: 'number', shortFlag: 'n'}, follow: {type: 'boolean', shortFlag: 'f'}, raw: {type: 'boolean'}},
	operands: ['run'],
	async run(context) {
		const lines = context.flags.lines as number | undefined;
		if (lines !== undefined && (!Number.isInteger(lines) || lines < 0)) {
			throw usageError(`-n ${String(lines)} is not a number of lines.`, 'Pass a whole number, as in moat logs -n 50.');
		}

		const {runs} = await context.services();
		// A damaged run's output is still worth reading: it may say what went wrong.
		const run = await runs.findStored(context.input[0]);
		const {entries: stored, skipped} = await runs.output(run);
		const terminal = !isDamaged(run) && run.interactive;
		const raw = Boolean(context.flags.raw);
		// A terminal's lines lost the carriage return before their line feed (engine/log-frames.ts): --raw puts it back.
		const write = (record: LogRecord) => {
			writeRecord(context, terminal && raw ? {...record, line: record.line + '\r'} : record);
		};

		const records = terminal && !raw ? await renderTerminalLog(stored) : stored;
		for (const record of lines === undefined ? records : records.slice(Math.max(0, records.length - lines))) {
			write(record);
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
				write(terminal && !raw ? {...record, line: plainTerminalLine(record.line)} : record);
			}, stop.signal);
			stop.abort();
		}

		return 0;
	},
};
