import {randomBytes} from 'node:crypto';
import type {Resources} from './resources.js';

/** The states a run's record can hold. */
export const runStates = ['created', 'running', 'stopped', 'failed'] as const;
export type RunState = (typeof runStates)[number];

/** What moat keeps about one run: `runs/<id>/metadata.json`. */
export type RunMetadata = {
	id: string;
	name: string;
	workspace: string;
	agent: string | null;
	image: string;
	command: string[];
	grants: string[];
	ports: Record<string, number>;
	mounts: string[];
	/** Names only: values may be secrets the user handed the container. */
	environmentNames: string[];
	containerId: string | null;
	state: RunState;
	interactive: boolean;
	keep: boolean;
	createdAt: string;
	startedAt: string | null;
	stoppedAt: string | null;
	exitCode: number | null;
	error: string | null;
	/** Set when the user asked for the stop, so the exit is not a failure. */
	stopRequested: boolean;
	/** What the bottle may use (absent on runs made before limits existed). */
	resources?: Resources;
	/** The kernel killed its process for going over the memory limit. */
	outOfMemory?: boolean;
	/** What the agent last reported through its hooks (bottles only): working, or waiting for the user. */
	activity?: {state: AgentActivity; at: string} | null;
};

export const agentActivities = ['working', 'waiting'] as const;
export type AgentActivity = (typeof agentActivities)[number];

/**
 * A run folder whose metadata.json cannot be read as a run (see
 * run-metadata-schema.ts): listed so it can be seen and removed, never
 * acted on. Not a state any record holds.
 */
export type DamagedRun = {
	/** The folder's name: the only name it is addressed by. */
	id: string;
	/** The name the record gives, if it gives one as text; shown, never matched. */
	name: string | null;
	/** The record's, if it has a readable one; else when the file last changed. */
	createdAt: string;
	state: 'damaged';
	/** What is wrong, e.g. `metadata.json: field state must be one of created, running, stopped, failed`. */
	damage: string;
};

/** What a run folder holds: a run, or a damaged record. */
export type StoredRun = RunMetadata | DamagedRun;

export function isDamaged(run: StoredRun): run is DamagedRun {
	return run.state === 'damaged';
}

export const runIdPattern = /^run_[\da-f]{12}$/;

export function newRunId(random: (size: number) => Buffer = randomBytes): string {
	return `run_${random(6).toString('hex')}`;
}

export function isActive(run: {state: RunState | DamagedRun['state']}): boolean {
	return run.state === 'created' || run.state === 'running';
}
