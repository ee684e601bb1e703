import {withoutLastCharacter} from '../source/terminal/masked-prompt.js';

/**
 * The grant wizard's steps as a pure reducer: pick a provider, see what was
 * found, pick a source or type a token, watch validation, see the result.
 */

export type WizardProvider = {name: string; title: string};
export type WizardSource = {source: string; warning?: string; expiresAt?: string};
export type WizardResult = {name: string; login: string | null; scopes: string[]; expiresAt: string | null; source: string; file: string};

export type WizardState =
	| {step: 'provider'; cursor: number}
	| {step: 'detecting'; provider: WizardProvider}
	| {step: 'source'; provider: WizardProvider; sources: WizardSource[]; cursor: number}
	| {step: 'token'; provider: WizardProvider; sources: WizardSource[]; typed: string}
	| {step: 'validating'; provider: WizardProvider; sources: WizardSource[]; from: string}
	| {step: 'done'; result: WizardResult}
	| {step: 'failed'; provider: WizardProvider; sources: WizardSource[]; message: string; hint: string};

export type WizardEvent =
	| {type: 'move'; by: number; count: number}
	| {type: 'choose-provider'; provider: WizardProvider}
	| {type: 'detected'; sources: WizardSource[]}
	| {type: 'choose-source'}
	| {type: 'type'; text: string}
	| {type: 'erase'}
	| {type: 'submit-token'}
	| {type: 'saved'; result: WizardResult}
	| {type: 'failed'; message: string; hint: string}
	| {type: 'back'};

export const initialWizardState: WizardState = {step: 'provider', cursor: 0};

const clamp = (value: number, count: number) => Math.max(0, Math.min(value, count - 1));

export function wizardReducer(state: WizardState, event: WizardEvent): WizardState {
	switch (event.type) {
		case 'move': {
			return state.step === 'provider' || state.step === 'source' ? {...state, cursor: clamp(state.cursor + event.by, event.count)} : state;
		}

		case 'choose-provider': {
			return state.step === 'provider' ? {step: 'detecting', provider: event.provider} : state;
		}

		case 'detected': {
			// The last choice is always "enter a token", so it is never empty.
			return state.step === 'detecting' ? {step: 'source', provider: state.provider, sources: event.sources, cursor: 0} : state;
		}

		case 'choose-source': {
			if (state.step !== 'source') {
				return state;
			}

			return state.cursor < state.sources.length
				? {step: 'validating', provider: state.provider, sources: state.sources, from: state.sources[state.cursor]!.source}
				: {step: 'token', provider: state.provider, sources: state.sources, typed: ''};
		}

		case 'type': {
			return state.step === 'token' ? {...state, typed: state.typed + event.text} : state;
		}

		case 'erase': {
			return state.step === 'token' ? {...state, typed: withoutLastCharacter(state.typed)} : state;
		}

		case 'submit-token': {
			return state.step === 'token' && state.typed.trim() !== ''
				? {step: 'validating', provider: state.provider, sources: state.sources, from: 'entered token'}
				: state;
		}

		case 'saved': {
			return state.step === 'validating' ? {step: 'done', result: event.result} : state;
		}

		case 'failed': {
			return state.step === 'validating' || state.step === 'detecting'
				? {step: 'failed', provider: state.provider, sources: 'sources' in state ? state.sources : [], message: event.message, hint: event.hint}
				: state;
		}

		case 'back': {
			if (state.step === 'failed' || state.step === 'token') {
				return {step: 'source', provider: state.provider, sources: state.sources, cursor: 0};
			}

			if (state.step === 'source') {
				return initialWizardState;
			}

			return state;
		}

		default: {
			return state;
		}
	}
}
