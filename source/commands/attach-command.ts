import process from 'node:process';
import {bufferOutput, type BufferedOutput} from '../engine/buffered-output.js';
import type {Attachment} from '../engine/engine.js';
import {exitCodes, MoatError, usageError} from '../errors.js';
import {isActive, type RunMetadata} from '../runs/run-metadata.js';
import {attachedKeysFrom, attachedLabel} from '../terminal/attached-keys.js';
import {agentSize, footerText, titleText} from '../terminal/footer.js';
import {renderTerminalLog} from '../runs/terminal-log.js';
import {rebuildScreen} from '../terminal/rebuild-screen.js';
import {runTerminalSession, signalExitCode, type TerminalInput, type TerminalOutput} from '../terminal/terminal-session.js';
import type {Command, CommandContext} from './command.js';
import {attachOutput, writeRecord} from './attached-output.js';

/** How many lines of earlier output `moat attach` shows for an output-only run. */
const recentLines = 50;

/**
 * Gives the run the whole terminal until it ends, the user detaches or stops
 * it, or moat gets SIGTERM/SIGHUP. Returns the exit code for moat.
 */
export async function attachTerminal(
	context: CommandContext,
	run: RunMetadata,
	connection: {attachment: Attachment; pending: BufferedOutput; replay: boolean},
): Promise<number> {
	const {engine, runs} = await context.services();
	const containerId = run.containerId!;
	const output = context.stdout as TerminalOutput;
	const size = {rows: output.rows ?? 24, columns: output.columns ?? 80};
	const initialScreen = connection.replay ? await rebuildScreen(engine, containerId, agentSize(size, true)) : undefined;
	if (connection.replay) {
		// Full-screen programs repaint on a size change; one column less and
		// back makes sure they get one even when the size is unchanged.
		await engine.resize(containerId, {rows: agentSize(size, true).rows, columns: Math.max(1, size.columns - 1)}).catch(() => undefined);
	}

	await runs.record(run.id, 'terminal.attached', {interactive: true});
	const outcome = await runTerminalSession({
		input: process.stdin as TerminalInput,
		output,
		attachment: connection.attachment,
		resize: async agent => engine.resize(containerId, agent),
		footer: footerText(run.name, run.id, 'command'),
		title: titleText(run.name, 'command'),
		from: 'command',
		initialScreen,
		...(() => {
			const {chunks, ended} = connection.pending.take();
			return {pendingOutput: chunks, outputEnded: ended};
		})(),
		signals: process,
	});

	if (outcome.kind !== 'ended') {
		await runs.record(run.id, 'terminal.detached', {how: outcome.kind === 'signal' ? outcome.signal : outcome.kind});
	}

	switch (outcome.kind) {
		case 'ended': {
			const exitCode = await runs.wait(run);
			const final = await runs.reconcile(await runs.find(run.id));
			// The engine's answer stands while the record is still being finished elsewhere (the daemon).
			return final.exitCode ?? exitCode ?? exitCodes.failure;
		}

		case 'stop': {
			context.stderr.write(`moat: stopping ${run.id}…\n`);
			const stopped = await runs.stop(await runs.find(run.id));
			return stopped.exitCode ?? exitCodes.success;
		}

		case 'signal': {
			context.stderr.write(`moat: ${outcome.signal}; detached from ${run.id}, which keeps running.\n`);
			return signalExitCode(outcome.signal);
		}

		default: {
			context.stderr.write(`moat: detached from ${run.id} (${run.name}); it keeps running. Reattach with moat attach ${run.id}.\n`);
			return exitCodes.success;
		}
	}
}

export const attachCommand: Command = {
	help: `
  Usage
    $ moat attach [run] [-i | -i=false]

  Reattaches to a run (default: the newest) the way it was started: an
  interactive run gets the terminal back with its current screen, an
  output-only run streams its output after the recent lines.

  Flags
    -i, --interactive   Force the terminal (the run must have been started with -i);
                        -i=false only streams its output

  Interactive keys
${attachedKeysFrom('command').map(binding => `    ${attachedLabel(binding).padEnd(16)}${binding.description}`).join('\n')}

  Output only: Ctrl+C detaches, twice within half a second stops it.
`,
	flags: {interactive: {type: 'boolean', shortFlag: 'i'}},
	operands: ['run'],
	async run(context) {
		const {engine, runs} = await context.services();
		const run = await runs.find(context.input[0]);
		if (!isActive(run) || !run.containerId) {
			throw new MoatError(
				`Run ${run.id} (${run.name}) has ${run.state === 'failed' ? 'failed' : 'ended'}${run.exitCode === null ? '' : ` with exit code ${run.exitCode}`}.`,
				`See what it printed with moat logs ${run.id}.`,
			);
		}

		const interactive = (context.flags.interactive as boolean | undefined) ?? run.interactive;
		if (interactive && !run.interactive) {
			throw usageError(`Run ${run.id} was started without -i, so it has no terminal to attach to.`, 'Attach without -i to stream its output.');
		}

		if (interactive && !(context.stdinIsTTY && context.stdout.isTTY)) {
			throw usageError('Attaching to an interactive run needs a terminal, and this is not one.', `Use moat attach -i=false ${run.id} to stream its output, or run moat from a terminal.`);
		}

		if (!interactive) {
			const {entries: stored} = await runs.output(run);
			// A terminal's output, played through a terminal to read as it looked (as moat logs shows it).
			const records = run.interactive ? await renderTerminalLog(stored) : stored;
			for (const record of records.slice(-recentLines)) {
				writeRecord(context, record);
			}

			return attachOutput(context, run);
		}

		const attachment = await engine.attach(run.containerId, {stdin: true});
		const pending = bufferOutput(attachment);
		return attachTerminal(context, run, {attachment, pending, replay: true});
	},
};
