import {formatAge, formatJson, formatTable} from '../output/format.js';
import type {RunMetadata} from '../runs/run-metadata.js';
import {newestFirst, stateLabel} from '../runs/run-presentation.js';
import type {Command} from './command.js';

/** Service URLs a run exposes (hostname routing arrives with the proxy daemon). */
function services(run: RunMetadata): string {
	return Object.keys(run.ports).sort().join(',') || '-';
}


export const listCommand: Command = {
	name: 'list',
	aliases: ['ls'],
	summary: 'List runs',
	help: `
  Usage
    $ moat list [--json]

  Shows every run, newest first: NAME, RUN ID, AGENT, STATE, AGE, SERVICES.

  Flags
    --json   Print the runs' metadata as JSON
`,
	flags: {json: {type: 'boolean'}},
	async run(context) {
		const {runs} = await context.services();
		const all = newestFirst(await runs.list());
		if (context.flags.json) {
			context.stdout.write(formatJson(all));
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
				all.map(run => [run.name, run.id, run.agent ?? '-', stateLabel(run), formatAge(new Date(run.createdAt), now), services(run)]),
			),
		);
		return 0;
	},
};
