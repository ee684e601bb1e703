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
	const {now} = useServices();
	const {runs, loaded, error} = useRuns(refreshMilliseconds);
	const [selected, setSelected] = useState(0);
	const [showHelp, setShowHelp] = useState(false);
	const {exit} = useApp();
	const selectedIndex = Math.min(selected, Math.max(0, runs.length - 1));
	// Ink re-subscribes the input handler in an effect, after the frame is
	// drawn; a key pressed in between reaches the previous handler. Reading
	// the run count through a ref keeps that handler correct.
	const lastIndex = useRef(0);
	lastIndex.current = Math.max(0, runs.length - 1);
	const clamp = (index: number) => Math.max(0, Math.min(index, lastIndex.current));

	useInput((input, key) => {
		switch (actionFor(input, key)) {
			case 'down': {
				setSelected(previous => clamp(clamp(previous) + 1));
				break;
			}

			case 'up': {
				setSelected(previous => clamp(clamp(previous) - 1));
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
			<HintBar />
		</Box>
	);
}
