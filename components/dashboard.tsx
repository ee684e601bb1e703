import {Box, Text, useApp, useInput} from 'ink';
import {useRef, useState} from 'react';
import {actionFor, keyBindings} from './key-bindings.js';
import {RunTable} from './run-table.js';
import {useServices} from './services-context.js';
import {useRuns} from './use-runs.js';

function HintBar() {
	return (
		<Text dimColor>
			{keyBindings
				.filter(binding => binding.hint)
				.map(binding => `${binding.label} ${binding.description}`)
				.join(' · ')}
		</Text>
	);
}

function HelpOverlay() {
	return (
		<Box flexDirection="column" borderStyle="round" paddingX={1}>
			<Text bold>Keys</Text>
			{keyBindings.map(binding => (
				<Text key={binding.action}>
					{binding.label.padEnd(6)} {binding.description}
				</Text>
			))}
		</Box>
	);
}

/** `moat` on a terminal: the runs at a glance. */
export function Dashboard({refreshMilliseconds = 1000}: {refreshMilliseconds?: number}) {
	const {now, stopRun, destroyRun} = useServices();
	const {runs, loaded, error} = useRuns(refreshMilliseconds);
	// The selection lives in a ref (read and changed by key handlers at once,
	// even for keys that arrive together) and a counter re-renders on change.
	const selection = useRef(0);
	const [, rerender] = useState(0);
	const setSelected = (index: number) => {
		selection.current = index;
		rerender(count => count + 1);
	};

	const [showHelp, setShowHelp] = useState(false);
	/** A run waiting for "y" before it is destroyed. */
	const [confirmDestroy, setConfirmDestroyState] = useState<string | undefined>();
	// Read by the key handler, which may be one render behind.
	const confirming = useRef<string | undefined>(undefined);
	const setConfirmDestroy = (id: string | undefined) => {
		confirming.current = id;
		setConfirmDestroyState(id);
	};
	/** The outcome of the last action, shown above the hint bar. */
	const [status, setStatus] = useState<string | undefined>();
	const runsRef = useRef(runs);
	runsRef.current = runs;
	const act = (description: string, action: Promise<void>) => {
		setStatus(`${description}…`);
		action.then(
			() => {
				setStatus(`${description}: done.`);
			},
			(failure: unknown) => {
				setStatus(`${description} failed: ${(failure as Error).message}`);
			},
		);
	};
	const {exit} = useApp();
	const selectedIndex = Math.min(selection.current, Math.max(0, runs.length - 1));
	// Ink re-subscribes the input handler in an effect, after the frame is
	// drawn; a key pressed in between reaches the previous handler. Reading
	// the run count through a ref keeps that handler correct.
	const lastIndex = useRef(0);
	lastIndex.current = Math.max(0, runs.length - 1);
	const clamp = (index: number) => Math.max(0, Math.min(index, lastIndex.current));

	useInput((input, key) => {
		if (confirming.current !== undefined) {
			const id = confirming.current;
			setConfirmDestroy(undefined);
			if (input === 'y') {
				act(`Destroying ${id}`, destroyRun(id));
			} else {
				setStatus('Nothing destroyed.');
			}

			return;
		}

		const current = runsRef.current[clamp(selection.current)];
		switch (actionFor(input, key)) {
			case 'stop': {
				if (current) {
					act(`Stopping ${current.name} (${current.id})`, stopRun(current.id));
				}

				break;
			}

			case 'destroy': {
				if (current) {
					setConfirmDestroy(current.id);
				}

				break;
			}

			case 'down': {
				setSelected(clamp(clamp(selection.current) + 1));
				break;
			}

			case 'up': {
				setSelected(clamp(clamp(selection.current) - 1));
				break;
			}

			case 'first': {
				setSelected(0);
				break;
			}

			case 'last': {
				setSelected(lastIndex.current);
				break;
			}

			case 'help': {
				setShowHelp(value => !value);
				break;
			}

			case 'quit': {
				exit();
				break;
			}

			default: {
				if (key.escape) {
					setShowHelp(false);
				}
			}
		}
	});

	return (
		<Box flexDirection="column">
			<Text bold>moat · {runs.length} run{runs.length === 1 ? '' : 's'}</Text>
			{error ? <Text color="red">{error}</Text> : undefined}
			{loaded && runs.length === 0 ? <Text>No runs yet. Start one with moat run -- COMMAND.</Text> : undefined}
			{runs.length > 0 ? <RunTable runs={runs} selectedIndex={selectedIndex} now={now()} /> : undefined}
			{showHelp ? <HelpOverlay /> : undefined}
			{confirmDestroy ? <Text color="yellow">Destroy {confirmDestroy} and everything moat kept about it? y to confirm, any other key to keep it</Text> : undefined}
			{status && !confirmDestroy ? <Text>{status}</Text> : undefined}
			<HintBar />
		</Box>
	);
}
