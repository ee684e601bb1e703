import {Box, Text, useInput} from 'ink';
import {useEffect, useReducer} from 'react';
import {agents, fields, initialNewRunState, missingGrant, newRunReducer, newRunRequest, type Field} from './new-run-reducer.js';
import {useServices, type NewRunRequest} from './services-context.js';

const labels: Record<Field, string> = {agent: 'Agent', workspace: 'Workspace', name: 'Name', grants: 'Grants', prompt: 'Prompt', attached: 'Then'};
const agentTitles = {claude: 'Claude Code', codex: 'Codex', shell: 'Shell'} as const;

/** `n`: a new bottle in three keystrokes — the defaults start Claude on the current folder, attached. */
export function NewRunDialog({cwd, onStart, onCancel, onWizard}: {cwd: string; onStart: (request: NewRunRequest) => Promise<void>; onCancel: () => void; onWizard?: () => void}) {
	const services = useServices();
	const [state, dispatch] = useReducer(newRunReducer, cwd, initialNewRunState);

	useEffect(() => {
		void services.grantNames?.().then(names => {
			dispatch({type: 'grants', names});
		}, () => undefined);
	}, [services]);

	useEffect(() => {
		if (state.cancelled) {
			onCancel();
		}
	}, [state.cancelled, onCancel]);

	useEffect(() => {
		if (state.wantsWizard) {
			(onWizard ?? onCancel)();
		}
	}, [state.wantsWizard, onWizard, onCancel]);

	useEffect(() => {
		if (!state.completing) {
			return;
		}

		const partial = state.workspace;
		void (services.completePath?.(partial) ?? Promise.resolve([])).then(names => {
			dispatch({type: 'completions', partial, names});
		});
	}, [state.completing, state.workspace, services]);

	useEffect(() => {
		if (!state.submitted) {
			return;
		}

		const request = newRunRequest(state);
		void (async () => {
			const problem = await services.checkWorkspace?.(request.workspace);
			if (problem) {
				dispatch({type: 'error', text: problem});
				return;
			}

			await onStart(request);
		})().catch((error: unknown) => {
			dispatch({type: 'error', text: (error as Error).message});
		});
	// eslint-disable-next-line react-hooks/exhaustive-deps -- submits once per submit, with the state of that render
	}, [state.submitted]);

	useInput((input, key) => {
		dispatch({type: 'key', input, key});
	}, {isActive: !state.submitted});

	const value = (field: Field) => {
		switch (field) {
			case 'agent': {
				return agents.map(agent => (agent === state.agent ? `[${agentTitles[agent]}]` : ` ${agentTitles[agent]} `)).join(' ');
			}

			case 'workspace': {
				return state.workspace;
			}

			case 'name': {
				return state.name || '(generated)';
			}

			case 'grants': {
				return state.available.length === 0
					? '(none granted; c opens the grant wizard)'
					: state.available.map((name, index) => `${index === state.grantCursor && fields[state.field] === 'grants' ? '›' : ' '}${state.chosen.includes(name) ? '☑' : '☐'} ${name}`).join('  ');
			}

			case 'prompt': {
				return state.agent === 'shell' ? '(not for a shell)' : state.prompt || '(none: start at the prompt)';
			}

			case 'attached': {
				return state.attached ? '[attach now]  run detached ' : ' attach now  [run detached]';
			}
		}
	};

	return (
		<Box flexDirection="column" borderStyle="round" paddingX={1}>
			<Text bold>New bottle</Text>
			{fields.map((field, index) => (
				<Text key={field} wrap="truncate">
					<Text inverse={index === state.field}>{`${index === state.field ? '›' : ' '} ${labels[field].padEnd(10)}`}</Text>
					{' '}{value(field)}{index === state.field && ['workspace', 'name', 'prompt'].includes(field) ? '▏' : ''}
				</Text>
			))}
			{missingGrant(state) ? <Text color="yellow" wrap="truncate">{agentTitles[state.agent]} needs a {missingGrant(state)} grant, and there is none: Ctrl-G opens the grant wizard.</Text> : undefined}
			{state.error ? <Text color="red" wrap="truncate">✕ {state.error}</Text> : undefined}
			<Text dimColor wrap="truncate">{state.submitted ? 'Starting…' : '↑/↓ field · ←/→ or space change · tab completes a path · enter start · esc cancel'}</Text>
		</Box>
	);
}
