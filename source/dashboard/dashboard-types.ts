import type {GrantWizardServices} from '../credentials/grant-wizard-services.js';
import type {StoredRun} from '../runs/run-metadata.js';
import type {RecipeName} from '../bottles/bottle-kinds.js';

/**
 * What the dashboard (components/) asks of moat, and the shapes it gets
 * back; source/dashboard/dashboard-services.ts provides the real ones, tests
 * their own.
 */

/**
 * A run as the table shows it: its metadata (or, for a damaged run, what is
 * wrong with it) and its proxy counts (unknown: undefined).
 */
export type RunRow = StoredRun & {requests?: number; blocked?: number};

/** A line of a detail pane; `alert` lines (blocked requests, a broken log) stand out. */
export type PaneLine = {text: string; alert?: boolean};

/** What a detail pane shows: its lines (oldest first) and a one-line summary for its title. */
export type PaneContent = {
	lines: PaneLine[];
	summary?: string;
	/** Lines the source has had in all, when older ones are no longer held (defaults to the lines held). */
	total?: number;
};

/** What the new-bottle dialog asks for. */
export type NewRunRequest = {
	agent: RecipeName;
	workspace: string;
	name?: string;
	grants: string[];
	prompt?: string;
	attached: boolean;
};

/** Something wrong around the dashboard, with the fix; the dashboard keeps working. */
export type Problem = {message: string; fix: string};

/**
 * How often runs said to be active are checked against the engine. The
 * services do it when the runs are read, so a dashboard whose services watch
 * the runs still reads them this often.
 */
export const reconcileMilliseconds = 5000;

/**
 * What a watch of one run is for: its row in the runs table (state and
 * request counts) or one of its file-backed detail panes.
 */
export const runWatchPurposes = ['row', 'logs', 'network', 'audit'] as const;
export type RunWatchPurpose = (typeof runWatchPurposes)[number];

/** What the dashboard needs from moat's services; the CLI provides the real ones. */
export type DashboardServices = {
	listRuns(): Promise<RunRow[]>;
	/** Calls back when runs may have come or gone; returns the unsubscribe. */
	watchRuns?(changed: () => void): () => void;
	/**
	 * Calls back when the files one run shows for `purpose` may have changed;
	 * returns the unsubscribe. The dashboard watches only the runs on screen.
	 */
	watchRun?(id: string, purpose: RunWatchPurpose, changed: () => void): () => void;
	/** What is wrong right now (engine down, daemon down), if anything. */
	problems?(): Promise<Problem[]>;
	stopRun(id: string): Promise<void>;
	/** Removes a run, stopping it first if it is still going. */
	destroyRun(id: string): Promise<void>;
	preview?(id: string): Promise<PaneContent | undefined> | PaneContent | undefined;
	logs?(id: string): Promise<PaneContent>;
	network?(id: string): Promise<PaneContent & {blockedHosts: Array<string | undefined>}>;
	audit?(id: string): Promise<PaneContent>;
	/** Lets a blocked host through for one run (and says so in its audit log). */
	allowHost?(id: string, host: string): Promise<void>;
	/** Starts a bottle detached; resolves with its run id. */
	startRun?(request: NewRunRequest): Promise<string>;
	/** Grant names for the new-bottle dialog. */
	grantNames?(): Promise<string[]>;
	/** Whether a path is a folder a run can use as its workspace (undefined) or what is wrong. */
	checkWorkspace?(path: string): Promise<string | undefined>;
	/** Folder names completing a partly typed path. */
	completePath?(partial: string): Promise<string[]>;
	grantWizard?(): Promise<GrantWizardServices>;
	now(): Date;
};

