import {createTranscript} from '../terminal/headless-screen.js';
import type {LogRecord} from './run-store.js';

/**
 * The terminal a TTY run's log is played back on. The run's own size is not
 * recorded (it changes with every attach); a larger terminal shows the same
 * layout, because programs that draw in place move the cursor relative to
 * what they drew, while a smaller one would wrap lines the program did not
 * wrap and send those moves astray.
 */
export const transcriptSize = {rows: 100, columns: 250} as const;

/** Records played at once: enough to keep the terminal busy, few enough that what scrolls off stays small. */
const recordsPerWrite = 512;

/**
 * A TTY run's log as a person reads it: its output played through a
 * headless terminal, so a full-screen program's redraws, cursor moves and
 * erases leave what the screen showed, not every step of the drawing. A
 * line carries the stamp of the last record played with it (records are
 * played in batches). moat's own records (output lost) stay where they
 * were, and what follows one is played on a clean screen.
 */
export async function renderTerminalLog(records: readonly LogRecord[], size: {rows: number; columns: number} = transcriptSize): Promise<LogRecord[]> {
	let transcript = createTranscript(size);
	const rendered: LogRecord[] = [];
	let batch = '';
	let batched = 0;
	let stamp = records[0]?.ts ?? new Date(0).toISOString();
	const play = async () => {
		if (batched > 0) {
			for (const line of await transcript.write(batch)) {
				rendered.push({ts: stamp, stream: 'stdout', line});
			}

			batch = '';
			batched = 0;
		}
	};

	const finish = () => {
		for (const line of transcript.screen()) {
			rendered.push({ts: stamp, stream: 'stdout', line});
		}
	};

	try {
		for (const record of records) {
			if (record.lost) {
				// What came before the gap is read as it stood; what comes after starts on a clean screen.
				await play();
				finish();
				rendered.push(record);
				transcript.dispose();
				transcript = createTranscript(size);
				continue;
			}

			// The line feed was split off and a carriage return before it dropped (engine/log-frames.ts).
			batch += record.line + '\r\n';
			batched++;
			stamp = record.ts;
			if (batched >= recordsPerWrite) {
				await play();
			}
		}

		await play();
		finish();
		return rendered;
	} finally {
		transcript.dispose();
	}
}
