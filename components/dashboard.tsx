import {Box, Text, useApp, useInput, useWindowSize} from 'ink';
import {useCallback, useEffect, useMemo, useReducer, useState} from 'react';
import {dashboardReducer, initialDashboardState, selectedRun, visibleRuns, type Pane, type RunRow} from './dashboard-reducer.js';
import {dashboardLayout} from './dashboard-layout.js';
import {helpPages, type HelpList, type HelpPage} from './help-pages.js';
import {DetailPane, paneWindow, usePaneContent} from './detail-pane.js';
import {GrantWizard, GrantWizardContext, type GrantWizardServices} from './grant-wizard.js';
import {attachedKeys, hintLine, overlayBindings, type KeyFocus} from './key-bindings.js';
import {NewRunDialog} from './new-run-dialog.js';
import {RunTable, shownRuns} from './run-table.js';
import {useServices, type NewRunRequest, type Problem} from './services-context.js';
import {useRunWatches} from './use-run-watches.js';
import {attachedPrefix} from '../source/terminal/attached-keys.js';
import {newestFirst} from '../source/runs/run-presentation.js';
import {printable} from '../source/text/printable.js';
import {useRuns} from './use-runs.js';

/** Why the dashboard closed: quit, or hand the terminal to a run (it opens again after). */
export type DashboardExit = {kind: 'quit'; selectedId?: string} | {kind: 'attach'; id: string; pane: Pane};

function HintBar({focus, width}: {focus: KeyFocus; width: number}) {
	return <Text dimColor wrap="truncate">{hintLine(focus, width)}</Text>;
}

const helpLists: readonly [HelpList, HelpList] = [
	{title: 'Keys', entries: overlayBindings},
	{title: `After ${attachedPrefix.label} (attached)`, entries: attachedKeys},
];

/**
 * Every key, from the same table as the hint bar: the dashboard's and the
 * attached ones, laid out by helpPages so nothing is ever cut; one page of
 * them at a time, with how to see the next. No border: at 80×24 the two
 * lists need every row and column to fit on one page.
 */
function HelpOverlay({page, height}: {page: HelpPage; height: number}) {
	return (
		<Box flexDirection="column" height={height} flexShrink={0} overflow="hidden">
			{page.rows.map((row, index) => (
				<Text key={index} wrap="truncate">{row.map((span, spanIndex) => <Text key={spanIndex} bold={span.bold}>{span.text}</Text>)}</Text>
			))}
			{page.hint ? <Text dimColor wrap="truncate">{page.hint}</Text> : undefined}
		</Box>
	);
}

/** Problems around the dashboard (engine, daemon), looked at every few seconds. */
function useProblems(intervalMilliseconds = 2000): Problem[] {
	const services = useServices();
	const [problems, setProblems] = useState<Problem[]>([]);
	useEffect(() => {
		if (!services.problems) {
			return;
		}

		let cancelled = false;
		let timer: NodeJS.Timeout | undefined;
		const check = async () => {
			const found = await services.problems!().catch((error: unknown) => [{message: (error as Error).message, fix: ''}]);
			if (!cancelled) {
				setProblems(previous => (JSON.stringify(previous) === JSON.stringify(found) ? previous : found));
				timer = setTimeout(() => void check(), intervalMilliseconds);
			}
		};

		void check();
		return () => {
			cancelled = true;
			clearTimeout(timer);
		};
	}, [services, intervalMilliseconds]);
	return problems;
}

/**
 * `moat` on a terminal: every run at a glance, the selected one's detail
 * panes below, and the keys to start, attach, stop and destroy. Quitting
 * leaves the runs running.
 */
export function Dashboard({refreshMilliseconds = 1000, tickMilliseconds = 5000, statusMilliseconds = 5000, initial = {}, cwd = process.cwd(), onExit}: {
	refreshMilliseconds?: number;
	/** How often ages are looked at again (a frame that comes out the same writes nothing). */
	tickMilliseconds?: number;
	/** How long what an action said stays in the status line (the next key takes it away sooner). */
	statusMilliseconds?: number;
	/** `runs`: the runs already read (for the first frame, see first-frame.ts), shown from the first render. */
	initial?: {selectedId?: string; status?: string; pane?: Pane; runs?: readonly RunRow[]};
	cwd?: string;
	onExit?: (exit: DashboardExit) => void;
}) {
	const services = useServices();
	const {exit} = useApp();
	const {rows, columns} = useWindowSize();
	const [state, dispatch] = useReducer(dashboardReducer, initial, ({runs: firstRuns, ...options}) => {
		const empty = initialDashboardState(options);
		return firstRuns ? dashboardReducer(empty, {type: 'runs', runs: newestFirst(firstRuns)}) : empty;
	});
	const [dialog, setDialog] = useState<'new' | 'grants' | undefined>();
	const [wizard, setWizard] = useState<GrantWizardServices | undefined>();
	const {runs, loaded, error, changed: runsChanged} = useRuns(refreshMilliseconds, initial.runs);
	const problems = useProblems();
	// Ages move on even when no run changes (rows that did not change do not redraw the screen).
	const [, setTick] = useState(0);
	useEffect(() => {
		const timer = setInterval(() => {
			setTick(tick => tick + 1);
		}, tickMilliseconds);
		return () => {
			clearInterval(timer);
		};
	}, [tickMilliseconds]);

	// What an action said goes after a while ("Allowing … done." is not news minutes later).
	useEffect(() => {
		if (state.status === undefined || state.statusLasts) {
			return;
		}

		const serial = state.statusSerial;
		const timer = setTimeout(() => {
			dispatch({type: 'status-expired', serial});
		}, statusMilliseconds);
		return () => {
			clearTimeout(timer);
		};
	}, [state.status, state.statusLasts, state.statusSerial, statusMilliseconds]);
	const visible = visibleRuns(state);
	const {run: selected, index: selectedIndex} = selectedRun(state);
	const content = usePaneContent(state.pane, selected?.id);

	useEffect(() => {
		// Before the first read there is nothing to select from: keep the selection asked for.
		if (loaded) {
			dispatch({type: 'runs', runs});
		}
	}, [runs, loaded]);

	const paneLines = content?.lines.length ?? 0;
	const paneTotal = content?.total ?? paneLines;
	// Lines that arrived since the reducer last heard keep the cursor on its line in this very frame.
	const offset = state.follow ? 0 : Math.min(Math.max(0, paneLines - 1), state.offset + Math.max(0, paneTotal - state.paneTotal));
	useEffect(() => {
		dispatch({type: 'pane-lines', lines: paneLines, total: paneTotal});
	}, [paneLines, paneTotal]);

	const leave = useCallback((reason: DashboardExit) => {
		onExit?.(reason);
		exit();
	}, [onExit, exit]);

	const act = useCallback((description: string, action: Promise<unknown>) => {
		dispatch({type: 'status', text: `${description}…`, lasts: true});
		action.then(
			() => {
				dispatch({type: 'status', text: `${description}: done.`});
			},
			(failure: unknown) => {
				dispatch({type: 'status', text: `${description} failed: ${(failure as Error).message}`});
			},
		);
	}, []);

	// What the keys asked for, carried out here (the reducer only decides).
	useEffect(() => {
		if (state.effects.length === 0) {
			return;
		}

		const effects = state.effects;
		dispatch({type: 'taken', count: effects.length});
		for (const effect of effects) {
			const run = state.runs.find(candidate => candidate.id === ('id' in effect ? effect.id : undefined));
			const label = run ? `${run.name ?? 'damaged run'} (${run.id})` : '';
			switch (effect.kind) {
				case 'stop': {
					act(`Stopping ${label}`, services.stopRun(effect.id));
					break;
				}

				case 'destroy': {
					act(`Destroying ${label}`, services.destroyRun(effect.id));
					break;
				}

				case 'attach': {
					leave({kind: 'attach', id: effect.id, pane: state.pane});
					break;
				}

				case 'allow': {
					const {cursor} = paneWindow(content?.lines.length ?? 0, 1, offset);
					const host = content?.blockedHosts?.[cursor];
					if (!host || !services.allowHost) {
						dispatch({type: 'status', text: 'Pick a blocked request (✕) in the Network pane to allow its host.'});
					} else {
						act(`Allowing ${host} for ${label}`, services.allowHost(effect.id, host));
					}

					break;
				}

				case 'new': {
					// eslint-disable-next-line react-hooks/set-state-in-effect -- carrying out the reducer's effects is what this effect is for
					setDialog('new');
					break;
				}

				case 'grants': {
					if (services.grantWizard) {
						void services.grantWizard().then(value => {
							setWizard(value);
							setDialog('grants');
						}, (failure: unknown) => {
							dispatch({type: 'status', text: `The grant wizard cannot open: ${(failure as Error).message}`});
						});
					}

					break;
				}

				case 'quit': {
					leave({kind: 'quit', selectedId: state.selectedId});
					break;
				}
			}
		}
	}, [state.effects, state.runs, offset, state.selectedId, state.pane, content, services, act, leave]);

	useInput((input, key) => {
		dispatch({type: 'key', input, key});
	}, {isActive: dialog === undefined});

	const start = useCallback(async (request: NewRunRequest) => {
		if (!services.startRun) {
			throw new Error('Starting runs is not available here.');
		}

		const id = await services.startRun(request);
		setDialog(undefined);
		if (request.attached) {
			leave({kind: 'attach', id, pane: state.pane});
		} else {
			dispatch({type: 'status', text: `Started ${id}.`});
		}
	}, [services, leave, state.pane]);

	const closeDialog = useCallback(() => {
		setDialog(undefined);
	}, []);

	const openWizard = useCallback(() => {
		setDialog(undefined);
		dispatch({type: 'request', effect: {kind: 'grants'}});
	}, []);

	// Rows: title, problems (two lines each), table, pane, status, hints; never more than the terminal has.
	const layout = dashboardLayout({rows, problems: problems.length, error: Boolean(error), runs: visible.length});
	const {tableHeight, paneHeight} = layout;
	// The overlay takes the table's and the pane's rows; the reducer learns how many pages that makes, for space to go round them.
	const help = useMemo(() => helpPages(helpLists, {width: columns, height: tableHeight + paneHeight}), [columns, tableHeight, paneHeight]);
	useEffect(() => {
		dispatch({type: 'help-pages', count: help.length});
	}, [help.length]);
	// Only the rows on screen are watched (their state and request counts); the rest are read every few seconds.
	useRunWatches(shownRuns(visible, tableHeight, selectedIndex).shown.map(run => run.id), 'row', runsChanged);
	const asked = runs.find(run => run.id === state.confirmDestroy);
	const confirmName = asked ? asked.name ?? 'damaged run' : '';
	const filterText = state.filtering || state.filter ? ` · filter: ${printable(state.filter)}${state.filtering ? '▏' : ''}` : '';
	return (
		<Box flexDirection="column" height={rows} width={columns}>
			<Text bold wrap="truncate">
				moat · {loaded ? (visible.length === runs.length ? `${runs.length} run${runs.length === 1 ? '' : 's'}` : `${visible.length} of ${runs.length} runs`) : 'reading the runs…'}{filterText}
			</Text>
			{problems.slice(0, layout.problems).map(problem => (
				<Box key={problem.message} flexDirection="column">
					<Text color="red" wrap="truncate">✕ {printable(problem.message)}</Text>
					<Text color="red" wrap="truncate">  {printable(problem.fix) || ' '}</Text>
				</Box>
			))}
			{error ? <Text color="red" wrap="truncate">✕ {printable(error)}</Text> : undefined}
			{state.help && dialog === undefined
				? <HelpOverlay page={help[Math.min(state.helpPage, help.length - 1)]!} height={tableHeight + paneHeight} />
				: (
					<>
						<Box height={tableHeight} flexDirection="column" flexShrink={0} overflow="hidden">
							{loaded && runs.length === 0
								? <Text>No runs yet. Press n to start a bottle, or run moat run -- COMMAND.</Text>
								: <RunTable runs={visible} selectedIndex={selectedIndex} now={services.now()} height={tableHeight} width={columns} />}
						</Box>
						<Box height={paneHeight} flexDirection="column" flexShrink={0} overflow="hidden">
							{dialog === 'new' ? <NewRunDialog cwd={cwd} onStart={start} onCancel={closeDialog} onWizard={openWizard} /> : undefined}
							{dialog === 'grants' && wizard
								? (
									<GrantWizardContext.Provider value={wizard}>
										<GrantWizard exitWhenDone={false} onDone={result => {
											setDialog(undefined);
											dispatch({type: 'status', text: result ? `Granted ${result.name}.` : 'No grant saved.'});
										}} />
									</GrantWizardContext.Provider>
								)
								: undefined}
							{dialog === undefined && selected
								? <DetailPane pane={state.pane} content={content} height={paneHeight} width={columns} focused={state.focus === 'pane'} follow={state.follow} offset={offset} />
								: undefined}
						</Box>
					</>
				)}
			{state.confirmDestroy
				? <Text color="yellow" wrap="truncate">Destroy {confirmName} ({state.confirmDestroy}) and everything moat kept about it? y to confirm, any other key to keep it</Text>
				: <Text wrap="truncate">{state.status ?? ' '}</Text>}
			{/* A dialog says its own keys; the dashboard's would be a second, wrong, hint bar. */}
			{dialog === undefined ? <HintBar focus={state.filtering ? 'filter' : state.focus} width={columns} /> : <Text> </Text>}
		</Box>
	);
}
