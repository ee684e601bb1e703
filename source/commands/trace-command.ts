import fs from 'node:fs/promises';
import {skippedNote} from '../files/json-lines.js';
import {formatNetworkEntry, parseNetworkEntries} from '../proxy/network-trace.js';
import type {Command} from './command.js';
import {formatJson} from '../output/format.js';
import {printable} from '../text/printable.js';

export const traceCommand: Command = {
	help: `
  Usage
    $ moat trace [run] [--network] [--json]

  Prints every request the run (default: the newest run) made, one per line:
  [time] METHOD URL STATUS (duration), with the grant whose credential was
  injected in brackets and blocked requests marked BLOCKED.

  Flags
    --network   The request table (the default, and so far the only view)
    --json      Print the requests as a JSON array (the network.jsonl fields)
`,
	flags: {network: {type: 'boolean'}, json: {type: 'boolean'}},
	operands: ['run'],
	async run(context) {
		const {runs, store} = await context.services();
		// Like moat logs, a damaged run's requests can still be read.
		const run = await runs.findStored(context.input[0]);
		const text = await fs.readFile(store.networkFile(run.id), 'utf8').catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'ENOENT') {
				return '';
			}

			throw error;
		});
		const {entries, skipped} = parseNetworkEntries(text);
		const note = skippedNote(skipped, 'network.jsonl');
		if (note) {
			// On stderr, so --json and the table stay what they were.
			context.stderr.write(`moat: ${note}.\n`);
		}

		if (context.flags.json) {
			context.stdout.write(formatJson(entries));
			return 0;
		}

		if (entries.length === 0) {
			context.stderr.write(printable(`${run.name ?? 'damaged run'} (${run.id}) made no requests through the proxy.`) + '\n');
			return 0;
		}

		// The method, URL and errors are what the bottle sent and upstreams answered.
		context.stdout.write(entries.map(entry => printable(formatNetworkEntry(entry))).join('\n') + '\n');
		return 0;
	},
};
