import {formatAge, formatJson, formatTable} from '../output/format.js';
import type {DamagedRun, RunMetadata} from '../runs/run-metadata.js';
import {newestFirst, stateLabel} from '../runs/run-presentation.js';
import {printable} from '../text/printable.js';
import type {Command} from './command.js';

/** Service URLs a run exposes (hostname routing arrives with the proxy daemon). */
function services(run: RunMetadata): string {
	return Object.keys(run.ports).sort().join(',') || '-';
}

/** The fix for a damaged run, as list says it. */
function fixFor(run: DamagedRun): string {
	return `moat destroy ${run.id}`;
}

export const listCommand: Command = {
	name: 'list',
	aliases: ['ls'],
	summary: 'List runs',
	help: `
  Usage
    $ moat list [--json]

  Shows every run, newest first: NAME, RUN ID, AGENT, STATE, AGE, SERVICES.
  A run whose record cannot be read is listed as damaged, with what is
  wrong and how to remove it.

  Flags
    --json   Print the runs' metadata as JSON
`,
	flags: {json: {type: 'boolean'}},
	async run(context) {
		const {runs} = await context.services();
		const {runs: whole, damaged} = await runs.inventory();
		const all = newestFirst<RunMetadata | DamagedRun>([...whole, ...damaged]);
		if (context.flags.json) {
			context.stdout.write(formatJson(all.map(run => (run.state === 'damaged' ? {...run, fix: fixFor(run)} : run))));
			return 0;
		}

		if (all.length === 0) {
			context.stdout.write('No runs. Start one with moat run -- COMMAND.\n');
			return 0;
		}

		const now = context.environment.now();
		context.stdout.write(
			formatTable(
				['NAME', 'RUN ID', 'AGENT', 'STATE', 'AGE', 'SERVICES'],
				all.map(run => run.state === 'damaged'
					? [run.name ?? '-', run.id, '-', run.state, formatAge(new Date(run.createdAt), now), '-']
					: [run.name, run.id, run.agent ?? '-', stateLabel(run), formatAge(new Date(run.createdAt), now), services(run)]),
			),
		);
		// What is wrong and the fix go to stderr, so the table stays one line per run.
		for (const run of newestFirst(damaged)) {
			context.stderr.write(printable(`moat: ${run.id} is damaged: ${run.damage}; remove it with ${fixFor(run)}.`) + '\n');
		}

		return 0;
	},
};
