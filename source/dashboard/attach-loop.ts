import {bufferOutput} from '../engine/buffered-output.js';
import type {Engine} from '../engine/engine.js';
import {isActive, type RunMetadata} from '../runs/run-metadata.js';
import type {RunService} from '../runs/run-service.js';
import {agentSize, footerText, titleText} from '../terminal/footer.js';
import {rebuildScreen} from '../terminal/rebuild-screen.js';
import {runTerminalSession, type SignalSource, type TerminalInput, type TerminalOutput} from '../terminal/terminal-session.js';
import type {ScreenKeeper} from './screen-keeper.js';

/** Where the user ends up after attaching from the dashboard. */
export type AttachResult = {selectedId: string; status?: string; signal?: NodeJS.Signals};

/** A switch between bottles: next, previous, or jump with the digit pressed. */
export type SwitchCommand = {action: 'next' | 'previous' | 'jump'; key: string};

/**
 * Which run Ctrl-/ n, p or a digit goes to, among the running interactive
 * runs in the dashboard's order. Pure. n and p wrap around; a digit past
 * the end stays where it is.
 */
export function switchTarget(order: readonly string[], current: string, command: SwitchCommand): string {
	if (order.length === 0) {
		return current;
	}

	const index = order.indexOf(current);
	switch (command.action) {
		case 'next': {
			return order[(index + 1) % order.length]!;
		}

		case 'previous': {
			return order[index <= 0 ? order.length - 1 : index - 1]!;
		}

		default: {
			return order[Number(command.key) - 1] ?? current;
		}
	}
}

/**
 * Why a switch would stay on the current run, in words for the footer, or
 * undefined when it goes to another. Pure.
 */
export function switchRefusal(order: readonly string[], current: string, command: SwitchCommand): string | undefined {
	if (switchTarget(order, current, command) !== current) {
		return undefined;
	}

	if (command.action !== 'jump') {
		return 'no other bottle is running';
	}

	const running = `${order.length} ${order.length === 1 ? 'is' : 'are'} running`;
	return order[Number(command.key) - 1] === current ? `this is bottle ${command.key}` : `there is no bottle ${command.key}; ${running}`;
}

export type AttachLoopOptions = {
	engine: Engine;
	runs: RunService;
	keeper: ScreenKeeper;
	input: TerminalInput;
	output: TerminalOutput;
	signals: SignalSource;
	/** The running interactive runs in the order the dashboard lists them. */
	order(): Promise<RunMetadata[]>;
};

/**
 * Gives the selected run the whole terminal, the way `moat attach` does,
 * and moves between running bottles with Ctrl-/ n, p and 1…9 until the
 * user comes back (Ctrl-/ d), stops the run, or it ends. Each switch paints
 * the target's kept screen at once.
 */
export async function attachFromDashboard(options: AttachLoopOptions, runId: string): Promise<AttachResult> {
	const {engine, runs, keeper, output} = options;
	let id = runId;
	for (;;) {
		const run = await runs.find(id);
		if (!isActive(run) || !run.containerId) {
			return {selectedId: id, status: `${run.name} has ended; its output is in the Logs pane.`};
		}

		if (!run.interactive) {
			return {selectedId: id, status: `${run.name} has no terminal (it was started without -i); its output is in the Logs pane.`};
		}

		const size = {rows: output.rows ?? 24, columns: output.columns ?? 80};
		keeper.keep(run.id, run.containerId);
		const attachment = await engine.attach(run.containerId, {stdin: true});
		const pending = bufferOutput(attachment);
		let initialScreen;
		try {
			initialScreen = keeper.snapshot(run.id) ?? await rebuildScreen(engine, run.containerId, agentSize(size, true));
			// A size change makes full-screen programs repaint, even at the same size.
			await engine.resize(run.containerId, {rows: agentSize(size, true).rows, columns: Math.max(1, size.columns - 1)}).catch(() => undefined);
			await runs.record(run.id, 'terminal.attached', {interactive: true, from: 'dashboard'});
		} catch (error) {
			// The session never started: it would not close the attachment, so close it here.
			pending.take();
			attachment.close();
			throw error;
		}

		const {chunks, ended} = pending.take();
		const outcome = await runTerminalSession({
			input: options.input,
			output,
			attachment,
			resize: async agent => {
				keeper.resize(agent);
				await engine.resize(run.containerId!, agent);
			},
			footer: footerText(run.name, run.id, 'dashboard'),
			title: titleText(run.name, 'dashboard'),
			initialScreen,
			pendingOutput: chunks,
			outputEnded: ended,
			from: 'dashboard',
			signals: options.signals,
			// A switch that goes nowhere is said in the footer; the session, and the audit log, stay as they are.
			refuseSwitch: async command => switchRefusal((await options.order()).map(candidate => candidate.id), run.id, command),
		});
		if (outcome.kind !== 'ended') {
			await runs.record(run.id, 'terminal.detached', {how: outcome.kind === 'signal' ? outcome.signal : outcome.kind === 'command' ? `switch ${outcome.key}` : outcome.kind});
		}

		switch (outcome.kind) {
			case 'ended': {
				return {selectedId: id, status: `${run.name} ended.`};
			}

			case 'stop': {
				await runs.stop(await runs.find(id));
				return {selectedId: id, status: `Stopped ${run.name}.`};
			}

			case 'signal': {
				return {selectedId: id, signal: outcome.signal};
			}

			case 'command': {
				const order = (await options.order()).map(candidate => candidate.id);
				id = switchTarget(order, id, outcome);
				break;
			}

			default: {
				return {selectedId: id};
			}
		}
	}
}
