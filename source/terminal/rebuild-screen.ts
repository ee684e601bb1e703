import type {Engine} from '../engine/engine.js';
import {createHeadlessScreen} from './headless-screen.js';
import {createModeTracker, initialModes, type TerminalModes} from './terminal-modes.js';

/** Rebuilds what a TTY container's screen shows from the engine's log of it (`moat attach`, the dashboard). */
export async function rebuildScreen(engine: Engine, containerId: string, size: {rows: number; columns: number}): Promise<{paint: string; modes: TerminalModes}> {
	const screen = createHeadlessScreen(size);
	const tracker = createModeTracker();
	try {
		for await (const chunk of engine.logs(containerId, {follow: false, tty: true, timestamps: false})) {
			tracker.push(chunk.data);
			await screen.write(chunk.data);
		}

		return {paint: screen.serialize(), modes: tracker.modes};
	} catch {
		return {paint: '', modes: initialModes};
	} finally {
		screen.dispose();
	}
}
