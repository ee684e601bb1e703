import type {Engine} from '../engine/engine.js';
import type {TerminalSize} from '../terminal/footer.js';
import {createHeadlessScreen, type HeadlessScreen} from '../terminal/headless-screen.js';
import {createModeTracker, type TerminalModes} from '../terminal/terminal-modes.js';

/**
 * The live screen of each interactive run the dashboard knows, kept in a
 * headless terminal: the Preview pane shows it, and attaching (or switching
 * panes with Ctrl-/ n) paints it at once instead of a blank screen. Each
 * screen is rebuilt from the engine's log of the container, then fed by an
 * output-only attachment as the agent draws.
 */
export type ScreenKeeper = {
	/** Starts keeping a running interactive run's screen (once; later calls do nothing). */
	keep(runId: string, containerId: string): void;
	/** The visible rows as plain text, or undefined while it is being rebuilt or not kept. */
	lines(runId: string): string[] | undefined;
	/** What to paint when attaching, and the modes the agent left on. */
	snapshot(runId: string): {paint: string; modes: TerminalModes} | undefined;
	/** The agents' terminal size changed (the user's terminal did). */
	resize(size: TerminalSize): void;
	/** Stops keeping runs that are no longer running. */
	retain(runIds: ReadonlySet<string>): void;
	close(): void;
};

type Kept = {screen: HeadlessScreen; tracker: ReturnType<typeof createModeTracker>; ready: boolean; close(): void};

export function createScreenKeeper(engine: Engine, initialSize: TerminalSize): ScreenKeeper {
	const kept = new Map<string, Kept>();
	let size = initialSize;

	async function start(runId: string, containerId: string, entry: Kept) {
		// Attach first and hold what arrives, so nothing drawn while the log is read is lost.
		const attachment = await engine.attach(containerId, {stdin: false});
		const held: Buffer[] = [];
		let live = false;
		const write = (chunk: Buffer) => {
			if (kept.get(runId) !== entry) {
				return;
			}

			entry.tracker.push(chunk);
			void entry.screen.write(chunk);
		};

		attachment.output.on('data', (chunk: Buffer) => {
			if (live) {
				write(chunk);
			} else {
				held.push(chunk);
			}
		});
		entry.close = () => {
			attachment.close();
		};

		if (kept.get(runId) !== entry) {
			attachment.close();
			return;
		}

		for await (const chunk of engine.logs(containerId, {follow: false, tty: true, timestamps: false})) {
			write(chunk.data);
		}

		for (const chunk of held.splice(0)) {
			write(chunk);
		}

		live = true;
		entry.ready = true;
		// The log holds only whole lines (a prompt waiting for input is not in
		// it); a size change makes the agent draw its screen or line again.
		await engine.resize(containerId, {rows: size.rows, columns: Math.max(1, size.columns - 1)}).catch(() => undefined);
		await engine.resize(containerId, size).catch(() => undefined);
	}

	return {
		keep(runId, containerId) {
			if (kept.has(runId)) {
				return;
			}

			const entry: Kept = {screen: createHeadlessScreen(size, 200), tracker: createModeTracker(), ready: false, close() {}};
			kept.set(runId, entry);
			start(runId, containerId, entry).catch(() => {
				// A container that went away has no screen to keep: forget it, so a later look tries again
				// and attaching rebuilds the screen from the log instead of painting a blank one.
				if (kept.get(runId) === entry) {
					kept.delete(runId);
					entry.close();
					entry.screen.dispose();
				}
			});
		},
		lines(runId) {
			const entry = kept.get(runId);
			return entry?.ready ? entry.screen.lines() : undefined;
		},
		snapshot(runId) {
			const entry = kept.get(runId);
			return entry?.ready ? {paint: entry.screen.serialize(), modes: entry.tracker.modes} : undefined;
		},
		resize(next) {
			size = next;
			for (const entry of kept.values()) {
				entry.screen.resize(next);
			}
		},
		retain(runIds) {
			for (const [runId, entry] of kept) {
				if (!runIds.has(runId)) {
					entry.close();
					entry.screen.dispose();
					kept.delete(runId);
				}
			}
		},
		close() {
			this.retain(new Set());
		},
	};
}
