import {formatAge, formatJson, formatTable} from '../output/format.js';
import type {DamagedRun, RunMetadata} from '../runs/run-metadata.js';
import {exitCodes} from '../errors.js';
import {newestFirst, stateLabel, uncheckedLabel} from '../runs/run-presentation.js';
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
	help: `
  Usage
    $ moat list [--json]

  Shows every run, newest first: NAME, RUN ID, AGENT, STATE, AGE, SERVICES.
  A run whose record cannot be read is listed as damaged, with what is
  wrong and how to remove it. When the Docker engine cannot be reached, the
  runs are listed as last recorded, the ones it would have checked marked
  "not checked", and moat exits with code 3.

  Flags
    --json   Print the runs' metadata as JSON
`,
	flags: {json: {type: 'boolean'}},
	operands: [],
	async run(context) {
		const {runs} = await context.services();
		const {runs: whole, damaged, unchecked, engineProblem} = await runs.inventory();
		const all = newestFirst<RunMetadata | DamagedRun>([...whole, ...damaged]);
		// Without the engine, the records are still shown, as last written, and said to be so.
		const reportEngine = () => {
			if (engineProblem) {
				context.stderr.write(printable(`moat: ${engineProblem.message} Runs marked "not checked" are shown as last recorded.\n${engineProblem.hint}\n`, {lineBreaks: true}));
			}

			return engineProblem ? exitCodes.engineUnreachable : exitCodes.success;
		};

		if (context.flags.json) {
			context.stdout.write(formatJson(all.map(run => {
				if (run.state === 'damaged') {
					return {...run, fix: fixFor(run)};
				}

				return unchecked.has(run.id) ? {...run, checked: false} : run;
			})));
			return reportEngine();
		}

		if (all.length === 0) {
			context.stdout.write('No runs. Start one with moat run -- COMMAND.\n');
			return exitCodes.success;
		}

		const now = context.environment.now();
		context.stdout.write(
			formatTable(
				['NAME', 'RUN ID', 'AGENT', 'STATE', 'AGE', 'SERVICES'],
				all.map(run => run.state === 'damaged'
					? [run.name ?? '-', run.id, '-', run.state, formatAge(new Date(run.createdAt), now), '-']
					: [run.name, run.id, run.agent ?? '-', uncheckedLabel(stateLabel(run), unchecked.has(run.id)), formatAge(new Date(run.createdAt), now), services(run)]),
			),
		);
		// What is wrong and the fix go to stderr, so the table stays one line per run.
		for (const run of newestFirst(damaged)) {
			context.stderr.write(printable(`moat: ${run.id} is damaged: ${run.damage}; remove it with ${fixFor(run)}.`) + '\n');
		}

		return reportEngine();
	},
};
