import type {AuditSink} from '../audit/audit-log.js';
import type {Engine} from '../engine/engine.js';
import type {MoatEnvironment} from '../environment.js';
import {createRunService} from '../runs/run-service.js';
import type {RunStore} from '../runs/run-store.js';

/**
 * The daemon's one use of RunService: finishing a run whose container has
 * ended (its state, audit and removal) without waiting for a user to look.
 * The run service starts nothing (bottles do, in source/bottles/): all it
 * needs of the daemon is the token release of a finished run.
 */
export type RunFinisher = {
	/** Brings the run in line with its container. */
	finish(runId: string): Promise<void>;
};

export function createRunFinisher(options: {
	engine: Engine;
	store: RunStore;
	environment: MoatEnvironment;
	audit: AuditSink;
	log(message: string): void;
	/** A finished run gives back its proxy token. */
	release(runId: string): Promise<unknown>;
}): RunFinisher {
	const {engine, store, environment, audit, log, release} = options;
	const runService = createRunService({
		engine, store, environment, audit,
		reporter: {info: log, warn: log, debug() {}},
		network: {
			async release(runId) {
				await release(runId);
			},
		},
	});
	return {
		async finish(runId) {
			const run = await store.read(runId);
			// A run still `created` is its launcher's until it has recorded
			// run.started and moved it to running (the daemon copies output
			// from before the start, so a quick command can end first): the
			// next look finishes it, after the launcher's entry.
			if (run.state === 'created') {
				return;
			}

			await runService.reconcile(run);
		},
	};
}
