import process from 'node:process';
import {render} from 'ink';
import type {AttachResult} from '../source/dashboard/attach-loop.js';
import {signalExitCode} from '../source/terminal/terminal-session.js';
import type {Pane, RunRow} from './dashboard-reducer.js';
import {Dashboard, type DashboardExit} from './dashboard.js';
import {ServicesContext, type DashboardServices} from './services-context.js';

/**
 * Ink leaves the alternate screen when it unmounts; a run attached from the
 * dashboard takes it back, so nothing it draws lands in the user's scrollback.
 */
const alternateScreen = {enter: '\u001B[?1049h\u001B[H\u001B[2J', leave: '\u001B[?1049l\u001B[?25h'} as const;

/**
 * How Ink draws the dashboard. Only ever opened on a terminal, where someone
 * watches even if CI is set. Incremental: a frame rewrites only the lines
 * that changed (an age ticking is one row, not the screen), so an idle
 * dashboard writes nothing.
 */
export function dashboardRenderOptions(stdout: NodeJS.WriteStream) {
	return {exitOnCtrlC: true, alternateScreen: true, interactive: Boolean(stdout.isTTY), incrementalRendering: true} as const;
}

/**
 * The full-screen dashboard, and the runs it hands the terminal to: Ink
 * draws the dashboard until the user attaches, then steps aside entirely
 * (unmounted, so no two readers share the keyboard) while the run has the
 * terminal, and draws it again when the user comes back. Both stay on the
 * alternate screen, which is left on every way out.
 */
export async function runDashboardApp(services: DashboardServices, attach: (runId: string) => Promise<AttachResult>, firstRuns?: readonly RunRow[]): Promise<number> {
	let attached = false;
	const restore = () => {
		if (attached) {
			attached = false;
			process.stdout.write(alternateScreen.leave);
		}
	};

	// A signal ends the dashboard wherever it is: the Ink app is unmounted at
	// once; while a run has the terminal its session ends itself, and one that
	// comes between sessions is seen as soon as the current step is done.
	let signal: NodeJS.Signals | undefined;
	let app: ReturnType<typeof render> | undefined;
	const onSignal = (received: NodeJS.Signals) => {
		signal ??= received;
		app?.unmount();
	};

	const exitCode = () => signalExitCode(signal!);
	process.on('SIGTERM', onSignal);
	process.on('SIGHUP', onSignal);
	process.once('exit', restore);
	// The runs the first frame showed are the first render's too; coming back from a run reads them afresh.
	let initial: {selectedId?: string; status?: string; pane?: Pane; runs?: readonly RunRow[]} = firstRuns ? {runs: firstRuns} : {};
	try {
		while (!signal) {
			let reason: DashboardExit = {kind: 'quit'};
			app = render(
				<ServicesContext.Provider value={services}>
					<Dashboard initial={initial} onExit={exit => {
						reason = exit;
					}} />
				</ServicesContext.Provider>,
				dashboardRenderOptions(process.stdout),
			);
			await app.waitUntilExit();
			app.cleanup();
			app = undefined;
			const exit = reason as DashboardExit;
			if (signal) {
				break;
			}

			if (exit.kind === 'quit') {
				return 0;
			}

			attached = true;
			process.stdout.write(alternateScreen.enter);
			const result = await attach(exit.id).catch((error: unknown) => ({selectedId: exit.id, status: `Cannot attach: ${(error as Error).message}`}) as AttachResult);
			restore();
			signal ??= result.signal;
			initial = {selectedId: result.selectedId, status: result.status, pane: exit.pane};
		}

		return exitCode();
	} finally {
		process.off('SIGTERM', onSignal);
		process.off('SIGHUP', onSignal);
		restore();
	}
}
