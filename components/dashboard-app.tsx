import process from 'node:process';
import {render} from 'ink';
import type {AttachResult} from '../source/dashboard/attach-loop.js';
import type {Pane} from './dashboard-reducer.js';
import {Dashboard, type DashboardExit} from './dashboard.js';
import {ServicesContext, type DashboardServices} from './services-context.js';

/** Terminal modes the dashboard changes, and the sequences that undo them. */
const alternateScreen = {enter: '\u001B[?1049h\u001B[H\u001B[2J', leave: '\u001B[?1049l\u001B[?25h'} as const;

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = {SIGHUP: 1, SIGTERM: 15};

/**
 * The full-screen dashboard, and the runs it hands the terminal to: Ink
 * draws the dashboard until the user attaches, then steps aside entirely
 * (unmounted, so no two readers share the keyboard) while the run has the
 * terminal, and draws it again when the user comes back. The alternate
 * screen keeps the user's scrollback; it is left on every way out.
 */
export async function runDashboardApp(services: DashboardServices, attach: (runId: string) => Promise<AttachResult>): Promise<number> {
	let restored = false;
	const restore = () => {
		if (!restored) {
			restored = true;
			process.stdout.write(alternateScreen.leave);
		}
	};

	let attached = false;
	const onSignal = (signal: NodeJS.Signals) => {
		// While a run has the terminal, its session handles signals and says how it ended.
		if (!attached) {
			restore();
			process.exit(128 + (signalNumbers[signal] ?? 0));
		}
	};

	process.on('SIGTERM', onSignal);
	process.on('SIGHUP', onSignal);
	process.once('exit', restore);
	let initial: {selectedId?: string; status?: string; pane?: Pane} = {};
	try {
		for (;;) {
			process.stdout.write(alternateScreen.enter);
			let reason: DashboardExit = {kind: 'quit'};
			const app = render(
				<ServicesContext.Provider value={services}>
					<Dashboard initial={initial} onExit={exit => {
						reason = exit;
					}} />
				</ServicesContext.Provider>,
				{exitOnCtrlC: true},
			);
			// eslint-disable-next-line no-await-in-loop
			await app.waitUntilExit();
			app.cleanup();
			const exit = reason as DashboardExit;
			if (exit.kind === 'quit') {
				return 0;
			}

			attached = true;
			// eslint-disable-next-line no-await-in-loop
			const result = await attach(exit.id).catch((error: unknown) => ({selectedId: exit.id, status: `Cannot attach: ${(error as Error).message}`}) as AttachResult);
			attached = false;
			if (result.signal) {
				restore();
				return 128 + (signalNumbers[result.signal] ?? 0);
			}

			initial = {selectedId: result.selectedId, status: result.status, pane: exit.pane};
		}
	} finally {
		process.off('SIGTERM', onSignal);
		process.off('SIGHUP', onSignal);
		restore();
	}
}
