import type {BufferedOutput} from '../engine/buffered-output.js';
import type {Attachment} from '../engine/engine.js';
import {environmentVariables} from '../environment.js';
import {exitCodes} from '../errors.js';
import type {RunMetadata} from '../runs/run-metadata.js';
import type {LogRecord} from '../runs/run-store.js';
import type {CommandContext} from './command.js';
import {printable} from '../text/printable.js';

export function writeRecord(context: Pick<CommandContext, 'stdout' | 'stderr'>, record: LogRecord): void {
	(record.stream === 'stderr' ? context.stderr : context.stdout).write(record.line + '\n');
}

/**
 * Two Ctrl+C within this window stop the run instead of detaching (README:
 * Running things). MOAT_DOUBLE_INTERRUPT_MS widens it for slow links, where
 * the second key arrives late.
 */
export function doubleInterruptMilliseconds(variables: Readonly<Record<string, string | undefined>>): number {
	const configured = Number(variables[environmentVariables.doubleInterruptMilliseconds]);
	// Past an hour is a typo, and past 2^31 ms Node's timer would fire at once.
	return Number.isFinite(configured) && configured > 0 ? Math.min(configured, 3_600_000) : 500;
}

/**
 * Streams a run's output until it ends (returning its exit code) or the user
 * detaches with Ctrl+C (0) or stops it with Ctrl+C twice (130).
 */
export async function attachOutput(context: CommandContext, run: RunMetadata, connection?: {attachment: Attachment; pending: BufferedOutput}): Promise<number> {
	const {runs} = await context.services();
	const detach = new AbortController();
	// An object so TypeScript sees that the interrupt watcher changes it.
	const result: {outcome: 'ended' | 'detached' | 'stopped'} = {outcome: 'ended'};

	const watchInterrupts = async () => {
		await context.nextInterrupt();
		if (detach.signal.aborted) {
			return;
		}

		context.stderr.write('\nmoat: detaching; press Ctrl+C again to stop the run\n');
		const second = await Promise.race([
			context.nextInterrupt().then(() => true),
			new Promise<false>(resolve => {
				setTimeout(resolve, doubleInterruptMilliseconds(context.environment.variables), false);
			}),
		]);
		if (detach.signal.aborted) {
			return;
		}

		result.outcome = second ? 'stopped' : 'detached';
		detach.abort();
	};

	void watchInterrupts();
	// The run as started, not brought up to date first: a fast command may
	// have finished already, and its output is waiting in the attachment.
	let final = await runs.stream(run, {
		stdout: bytes => context.stdout.write(bytes),
		stderr: bytes => context.stderr.write(bytes),
	}, {signal: detach.signal, attachment: connection?.attachment, pending: connection?.pending});

	if (!detach.signal.aborted) {
		detach.abort();
	}

	if (result.outcome === 'detached') {
		context.stderr.write(`moat: detached from ${run.id}; it keeps running. Follow it with moat logs -f ${run.id}, stop it with moat stop ${run.id}.\n`);
		return exitCodes.success;
	}

	if (result.outcome === 'stopped') {
		context.stderr.write(`moat: stopping ${run.id}…\n`);
		await runs.stop(final);
		return exitCodes.interrupted;
	}

	let waited: number | undefined;
	if (final.state === 'running' || final.state === 'created') {
		// The output ended before the engine reported the exit: wait for it.
		waited = await runs.wait(final);
		final = await runs.reconcile(await runs.find(run.id));
	}

	// The engine's answer stands while the record is still being finished elsewhere (the daemon).
	if (final.exitCode === null && waited !== undefined) {
		return waited;
	}

	if (final.exitCode === null) {
		context.stderr.write(`moat: ${printable(final.error ?? `run ${run.id} ended without an exit code`)}\n`);
		return exitCodes.failure;
	}

	return final.exitCode;
}
