import {Box, Text, useApp, useInput} from 'ink';
import {createContext, useContext, useEffect, useReducer, useRef} from 'react';
import {grantedLine, savedLine} from '../source/credentials/grant.js';
import type {GrantWizardServices} from '../source/credentials/grant-wizard-services.js';
import {printable} from '../source/text/printable.js';
import {initialWizardState, wizardReducer, type WizardProblem, type WizardResult, type WizardState} from './grant-wizard-reducer.js';

export type {GrantWizardServices} from '../source/credentials/grant-wizard-services.js';

export const GrantWizardContext = createContext<GrantWizardServices | undefined>(undefined);

function useWizardServices(): GrantWizardServices {
	const services = useContext(GrantWizardContext);
	if (!services) {
		throw new Error('GrantWizard outside a GrantWizardContext provider');
	}

	return services;
}

function Choices({items, cursor}: {items: string[]; cursor: number}) {
	return (
		<Box flexDirection="column">
			{items.map((item, index) => (
				<Text key={item} color={index === cursor ? 'cyan' : undefined}>
					{index === cursor ? '› ' : '  '}
					{item}
				</Text>
			))}
		</Box>
	);
}

/** A typed field that is not secret (a host, an ARN, a region): shown as typed, with what is wrong with it below. */
function Field({title, typed, problem, last = false}: {title: string; typed: string; problem?: WizardProblem; last?: boolean}) {
	return (
		<>
			<Text bold>{title}</Text>
			<Text>
				{'> '}
				{printable(typed)}
			</Text>
			{problem ? <Problem problem={problem} /> : undefined}
			<Text dimColor>enter to {last ? 'save' : 'go on'} · esc to go back</Text>
		</>
	);
}

function Problem({problem}: {problem: WizardProblem}) {
	return (
		<>
			<Text color="red">✕ {problem.message}</Text>
			<Text>{problem.hint}</Text>
		</>
	);
}

function Body({state}: {state: WizardState}) {
	const {providers} = useWizardServices();
	switch (state.step) {
		case 'provider': {
			return (
				<>
					<Text bold>Which credential should runs be able to use?</Text>
					<Choices items={providers.map(provider => provider.title)} cursor={state.cursor} />
				</>
			);
		}

		case 'detecting': {
			return <Text>Looking for {state.provider.title} credentials on this machine…</Text>;
		}

		case 'source': {
			return (
				<>
					<Text bold>{state.provider.title}</Text>
					{state.sources.length === 0 ? <Text dimColor>Nothing found on this machine.</Text> : undefined}
					<Choices
						items={[...state.sources.map(source => `Found: ${source.source}${source.expiresAt ? ` (expires ${source.expiresAt})` : ''}`), 'Enter a token']}
						cursor={state.cursor}
					/>
					{state.sources[state.cursor]?.warning ? <Text color="yellow">{state.sources[state.cursor]!.warning}</Text> : undefined}
				</>
			);
		}

		case 'token': {
			return (
				<>
					<Text bold>{state.provider.title} token</Text>
					<Text>
						{'> '}
						{'*'.repeat([...state.typed].length)}
					</Text>
					<Text dimColor>enter to save · esc to go back</Text>
				</>
			);
		}

		case 'listing-keys': {
			return <Text>Asking your SSH agent for its keys…</Text>;
		}

		case 'key': {
			return (
				<>
					<Text bold>Which key of your SSH agent?</Text>
					{state.problem
						? (
							<>
								<Problem problem={state.problem} />
								<Text dimColor>esc to go back · q to quit</Text>
							</>
						)
						: <Choices items={state.keys.map(key => printable(`${key.comment || key.type}  ${key.fingerprint} (${key.type})`))} cursor={state.cursor} />}
				</>
			);
		}

		case 'host': {
			return <Field title={`Which host may the key ${printable(state.key.comment || state.key.fingerprint)} be used for?`} typed={state.typed} problem={state.problem} last />;
		}

		case 'role': {
			return <Field title="AWS role runs may assume (its ARN)" typed={state.typed} problem={state.problem} />;
		}

		case 'region': {
			return <Field title={`AWS region for ${printable(state.roleArn)}`} typed={state.typed} problem={state.problem} last />;
		}

		case 'saving': {
			return <Text>{state.from.step === 'host' ? `Saving the key for ${printable(state.from.typed)}…` : `Checking that ${printable(state.from.roleArn)} can be assumed…`}</Text>;
		}

		case 'validating': {
			return <Text>Checking the {state.provider.title} credential from {state.from}…</Text>;
		}

		case 'done': {
			const {result} = state;
			return (
				<>
					<Text color="green">✓ {printable(grantedLine(result))}</Text>
					<Text>{printable(savedLine(result.file, result.keyringBackend))}</Text>
					<Text dimColor>press any key to finish</Text>
				</>
			);
		}

		case 'failed': {
			return (
				<>
					<Text color="red">✕ {state.message}</Text>
					<Text>{state.hint}</Text>
					<Text dimColor>esc to go back · q to quit</Text>
				</>
			);
		}

		default: {
			return undefined;
		}
	}
}

/** The grant wizard: `moat grant` on a terminal, and `c` in the dashboard. */
export function GrantWizard({onDone, exitWhenDone = true}: {onDone?: (result: WizardResult | undefined, ending: {interrupted: boolean}) => void; exitWhenDone?: boolean}) {
	const services = useWizardServices();
	const [state, dispatch] = useReducer(wizardReducer, initialWizardState);
	const {exit} = useApp();
	const finish = (result: WizardResult | undefined, interrupted: boolean) => {
		onDone?.(result, {interrupted});
		// Inside the dashboard the wizard is one dialog; on its own it is the whole app.
		if (exitWhenDone) {
			exit();
		}
	};

	// The typed token lives in a ref as well, so the effect that submits it
	// reads the final text without it passing through more renders.
	const typed = useRef('');
	if (state.step === 'token') {
		// eslint-disable-next-line react-hooks/refs -- mirrored during render on purpose, as said above
		typed.current = state.typed;
	}

	useEffect(() => {
		let cancelled = false;
		if (state.step === 'detecting') {
			services.detect(state.provider.name).then(
				sources => {
					if (!cancelled) {
						dispatch({type: 'detected', sources});
					}
				},
				(error: unknown) => {
					if (!cancelled) {
						dispatch({type: 'failed', ...services.explain(error)});
					}
				},
			);
		}

		if (state.step === 'validating') {
			const choice = state.from === 'entered token' ? {token: typed.current} : {index: state.sources.findIndex(source => source.source === state.from)};
			services.grant(state.provider.name, choice).then(
				result => {
					typed.current = '';
					if (!cancelled) {
						dispatch({type: 'saved', result});
					}
				},
				(error: unknown) => {
					if (!cancelled) {
						dispatch({type: 'failed', ...services.explain(error)});
					}
				},
			);
		}

		if (state.step === 'listing-keys') {
			services.sshKeys().then(
				keys => {
					if (!cancelled) {
						dispatch({type: 'listed-keys', keys});
					}
				},
				(error: unknown) => {
					if (!cancelled) {
						dispatch({type: 'failed', ...services.explain(error)});
					}
				},
			);
		}

		if (state.step === 'saving') {
			const {from} = state;
			const saving = from.step === 'host' ? services.grantSsh(from.typed, from.key.fingerprint) : services.grantAws(from.roleArn, from.typed);
			saving.then(
				result => {
					if (!cancelled) {
						dispatch({type: 'saved', result});
					}
				},
				(error: unknown) => {
					if (!cancelled) {
						dispatch({type: 'failed', ...services.explain(error)});
					}
				},
			);
		}

		return () => {
			cancelled = true;
		};
	// eslint-disable-next-line react-hooks/exhaustive-deps -- one detection or save per step; the rest is read as the step begins
	}, [state.step]);

	useEffect(() => {
		if (state.step === 'closed') {
			finish(state.result, state.interrupted === true);
		}
	// eslint-disable-next-line react-hooks/exhaustive-deps -- finishes once, when the wizard closes
	}, [state.step]);

	useInput((input, key) => {
		dispatch({type: 'key', input, key, providers: services.providers});
	});

	// On its own, the wizard leaves the screen to what the CLI says next (the grant, or that none was saved).
	if (state.step === 'closed' && exitWhenDone) {
		return null;
	}

	return (
		<Box flexDirection="column" paddingX={1}>
			<Text bold color="cyan">moat · grant a credential</Text>
			<Body state={state} />
			{state.step === 'provider' || state.step === 'source' || (state.step === 'key' && !state.problem) ? <Text dimColor>↑/↓ choose · enter select · esc back · q quit</Text> : undefined}
		</Box>
	);
}
