import type {Attachment} from '../engine/engine.js';
import {attachedKeysFrom, type AttachedAction, type AttachedFrom} from './attached-keys.js';
import {createEscapeParser, type EscapeEvent} from './escape-parser.js';
import {agentSize, belowDrawn, hideFooter, setTitle, showFooter, type TerminalSize} from './footer.js';
import {createHeadlessScreen} from './headless-screen.js';
import {createRowLimit} from './row-limit.js';
import {createModeTracker, restoreSequence, type TerminalModes} from './terminal-modes.js';

/** How an attached session ended. */
export type SessionOutcome =
	| {kind: 'ended'}
	| {kind: 'detached'}
	| {kind: 'stop'}
	| {kind: 'command'; action: SwitchAction; key: string}
	| {kind: 'signal'; signal: NodeJS.Signals};

export type TerminalInput = NodeJS.ReadableStream & {isTTY?: boolean; setRawMode?(mode: boolean): unknown};
export type TerminalOutput = NodeJS.WritableStream & {rows?: number; columns?: number; on(event: 'resize', listener: () => void): unknown};

/** The process-wide signal hooks, passed in so tests and the CLI own them. */
export type SignalSource = {
	on(signal: NodeJS.Signals, listener: () => void): unknown;
	off(signal: NodeJS.Signals, listener: () => void): unknown;
};

export type TerminalSessionOptions = {
	input: TerminalInput;
	output: TerminalOutput;
	attachment: Attachment;
	/** Sets the container's terminal size. */
	resize(size: TerminalSize): Promise<void>;
	footer: string;
	/** Shown in the window title while the agent is on the alternate screen. */
	title: string;
	/** A rebuilt screen to paint first, and the modes it left on. */
	initialScreen?: {paint: string; modes: TerminalModes};
	/** Output that arrived before the session took over (painted after the screen). */
	pendingOutput?: Buffer[];
	/** The output had already ended before the session took over. */
	outputEnded?: boolean;
	/** Which attached keys work (see attached-keys.ts); those other than detach and stop end the session as a command. */
	from: AttachedFrom;
	signals: SignalSource;
	/**
	 * Asked before a switch key (Ctrl-/ n, p, a digit) ends the session: why
	 * it would go nowhere (said in the footer, or the title while the agent
	 * has the whole screen; the session goes on), or undefined to switch.
	 */
	refuseSwitch?(command: {action: SwitchAction; key: string}): Promise<string | undefined>;
};

type SwitchAction = Exclude<AttachedAction, 'detach' | 'stop' | 'literal'>;

/** How long a note about a refused switch stays, unless a key is pressed first. */
const noteMilliseconds = 3000;

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = {SIGHUP: 1, SIGTERM: 15};

/** The exit code for ending on a signal, as a shell reports it (128 + its number). */
export function signalExitCode(signal: NodeJS.Signals): number {
	return 128 + (signalNumbers[signal] ?? 0);
}

/** How long an unfinished escape sequence from the keyboard is held. */
const escapeQuietMilliseconds = 50;

/** Title stack (xterm): push on entry and pop on exit keep the user's title. */
const pushTitle = '\u001B[22;0t';
const popTitle = '\u001B[23;0t';

/**
 * Gives a container's terminal the user's terminal until the agent exits or
 * the user detaches (Ctrl-/ d) or stops it (Ctrl-/ k). The terminal is put
 * back on every way out — including modes the agent switched on.
 */
export async function runTerminalSession(options: TerminalSessionOptions): Promise<SessionOutcome> {
	const {input, output, attachment, signals} = options;
	const tracker = createModeTracker(options.initialScreen?.modes);
	const parser = createEscapeParser(attachedKeysFrom(options.from));
	const size = (): TerminalSize => ({rows: output.rows ?? 24, columns: output.columns ?? 80});
	const footerShown = () => !tracker.modes.alternateScreen;
	const rowLimit = createRowLimit();
	// What the user's terminal shows, kept alongside it: where to put the
	// cursor on the way out depends on what is drawn below it.
	const mirror = createHeadlessScreen(size(), 0);
	let mirrored = Promise.resolve();
	const write = (text: string | Buffer) => {
		mirrored = mirror.write(Buffer.isBuffer(text) ? text : Buffer.from(text));
		output.write(text);
	};

	let ended = false;
	let finish!: (outcome: SessionOutcome) => void;
	const finished = new Promise<SessionOutcome>(resolve => {
		finish = outcome => {
			ended = true;
			resolve(outcome);
		};
	});

	const resizeAgent = async () => {
		await options.resize(agentSize(size(), footerShown())).catch(() => undefined);
	};

	/** A refused switch's reason, shown in place of the hint for a moment. */
	let note: string | undefined;
	let noteTimer: NodeJS.Timeout | undefined;
	const footer = () => (note === undefined ? options.footer : ` moat · ${note}`);
	const title = () => (note === undefined ? options.title : `moat · ${note}`);
	const showNote = (text: string | undefined) => {
		clearTimeout(noteTimer);
		note = text;
		write(footerShown() ? showFooter(size(), footer()) : setTitle(title()));
		if (text !== undefined) {
			noteTimer = setTimeout(() => {
				showNote(undefined);
			}, noteMilliseconds);
		}
	};

	// The footer while the agent draws line by line; the whole screen (and
	// the hint in the title) while it is on the alternate screen.
	const layout = (alternate: boolean) =>
		alternate ? hideFooter(size()) + pushTitle + setTitle(title()) : showFooter(size(), footer());

	let lastAlternate = tracker.modes.alternateScreen;
	const onOutput = (chunk: Buffer) => {
		for (const part of tracker.push(chunk)) {
			// Up to a switch the bytes are drawn on the screen before it: with the footer, one row short.
			write(rowLimit.push(part.bytes, lastAlternate ? undefined : agentSize(size(), true).rows));
			if (part.alternateScreen !== lastAlternate) {
				// Right at the switch, before the agent draws anything else.
				lastAlternate = part.alternateScreen;
				write(part.alternateScreen ? layout(true) : popTitle + layout(false));
				void resizeAgent();
			}
		}

		// `clear` and friends wipe the footer row; draw it again.
		if (tracker.takeFooterDamage() && footerShown()) {
			write(showFooter(size(), footer()));
		}
	};

	let quietTimer: NodeJS.Timeout | undefined;
	/** Keys are handled in order; a switch waits for its answer, and so do the keys after it. */
	let handling = Promise.resolve();
	const handleEvent = async (event: EscapeEvent) => {
		if (ended) {
			return;
		}

		if (event.kind === 'input') {
			attachment.write(event.bytes);
		} else if (event.action === 'detach') {
			finish({kind: 'detached'});
		} else if (event.action === 'stop') {
			finish({kind: 'stop'});
		} else if (event.action !== 'literal') {
			const command = {action: event.action, key: event.key};
			const refused = await options.refuseSwitch?.(command).catch(() => undefined);
			if (refused === undefined) {
				finish({kind: 'command', ...command});
			} else if (!ended) {
				showNote(refused);
			}
		}
	};

	const handle = (events: EscapeEvent[]) => {
		for (const event of events) {
			handling = handling.then(async () => handleEvent(event));
		}
	};

	const onKeys = (chunk: Buffer | string) => {
		clearTimeout(quietTimer);
		if (note !== undefined) {
			showNote(undefined);
		}

		handle(parser.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
		if (parser.holding) {
			quietTimer = setTimeout(() => {
				handle(parser.flush());
			}, escapeQuietMilliseconds);
		}
	};

	const onResize = () => {
		mirror.resize(size());
		if (footerShown()) {
			write(showFooter(size(), footer()));
		}

		void resizeAgent();
	};

	const onEnd = () => {
		finish({kind: 'ended'});
	};

	const onSignal = (signal: NodeJS.Signals) => () => {
		finish({kind: 'signal', signal});
	};

	const signalHandlers = (['SIGTERM', 'SIGHUP'] as const).map(signal => ({signal, handler: onSignal(signal)}));

	try {
		input.setRawMode?.(true);
		input.on('data', onKeys);
		input.resume();
		for (const {signal, handler} of signalHandlers) {
			signals.on(signal, handler);
		}

		output.on('resize', onResize);
		attachment.output.on('data', onOutput);
		attachment.output.on('end', onEnd);
		attachment.output.on('close', onEnd);

		// A clean screen, then the rebuilt one (if any), then what arrived meanwhile.
		write(pushTitle + '\u001B[H\u001B[2J\u001B[3J');
		if (options.initialScreen) {
			write(options.initialScreen.paint);
		}

		for (const chunk of options.pendingOutput ?? []) {
			onOutput(chunk);
		}

		write(layout(tracker.modes.alternateScreen));
		if (options.outputEnded) {
			finish({kind: 'ended'});
		}

		await resizeAgent();
		return await finished;
	} finally {
		clearTimeout(quietTimer);
		clearTimeout(noteTimer);
		input.off('data', onKeys);
		input.setRawMode?.(false);
		input.pause();
		for (const {signal, handler} of signalHandlers) {
			signals.off(signal, handler);
		}

		output.off('resize', onResize);
		attachment.output.off('data', onOutput);
		attachment.output.off('end', onEnd);
		attachment.output.off('close', onEnd);
		attachment.close();
		// Undo what the agent switched on, drop the footer and scroll region,
		// and put the cursor on a clean line below what is on screen.
		write(restoreSequence(tracker.modes) + hideFooter(size()) + (tracker.modes.alternateScreen ? popTitle : '') + popTitle);
		await mirrored;
		output.write(belowDrawn(mirror.lines(), mirror.cursorRow));
		mirror.dispose();
	}
}
