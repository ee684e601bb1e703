import {withoutLastCharacter} from '../source/terminal/masked-prompt.js';

/**
 * The grant wizard's steps as a pure reducer: pick a provider, see what was
 * found, pick a source or type a token, watch validation, see the result.
 */

import type {WizardProvider, WizardResult, WizardSource} from '../source/credentials/grant-wizard-services.js';

export type {WizardProvider, WizardResult, WizardSource} from '../source/credentials/grant-wizard-services.js';

export type WizardState =
	| {step: 'provider'; cursor: number}
	| {step: 'detecting'; provider: WizardProvider}
	| {step: 'source'; provider: WizardProvider; sources: WizardSource[]; cursor: number}
	| {step: 'token'; provider: WizardProvider; sources: WizardSource[]; typed: string}
	| {step: 'validating'; provider: WizardProvider; sources: WizardSource[]; from: string}
	| {step: 'done'; result: WizardResult}
	| {step: 'failed'; provider: WizardProvider; sources: WizardSource[]; message: string; hint: string}
	/** The wizard is over; the component exits. `interrupted`: by Ctrl+C, not by a choice. */
	| {step: 'closed'; result?: WizardResult; interrupted?: boolean};

/** A key press as Ink reports it (the flags the wizard uses). */
export type WizardKey = {upArrow: boolean; downArrow: boolean; return: boolean; escape: boolean; backspace: boolean; delete: boolean; ctrl: boolean; meta: boolean};

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
	| {type: 'back'}
	/**
	 * A key, decided here against the current state: keys that arrive
	 * together (a paste, fast typing) each see the state the previous one
	 * left, which a handler reading the last render's state would not.
	 */
	| {type: 'key'; input: string; key: WizardKey; providers: readonly WizardProvider[]};

export const initialWizardState: WizardState = {step: 'provider', cursor: 0};

const clamp = (value: number, count: number) => Math.max(0, Math.min(value, count - 1));

/** What a key means in a state, as one of the other events (or closing). */
function keyEvent(state: WizardState, input: string, key: WizardKey, providers: readonly WizardProvider[]): WizardEvent | 'close' | 'interrupt' | undefined {
	// Ctrl+C leaves from any step (where the terminal hands it over rather than ending moat).
	if (key.ctrl && input === 'c') {
		return 'interrupt';
	}

	switch (state.step) {
		case 'token': {
			if (key.return) {
				return {type: 'submit-token'};
			}

			if (key.escape) {
				return {type: 'back'};
			}

			if (key.backspace || key.delete) {
				return {type: 'erase'};
			}

			return input && !key.ctrl && !key.meta ? {type: 'type', text: input} : undefined;
		}

		case 'done': {
			return 'close';
		}

		case 'provider':
		case 'source': {
			const count = state.step === 'provider' ? providers.length : state.sources.length + 1;
			if (input === 'q' || (key.escape && state.step === 'provider')) {
				return 'close';
			}

			if (key.escape) {
				return {type: 'back'};
			}

			if (key.upArrow || input === 'k') {
				return {type: 'move', by: -1, count};
			}

			if (key.downArrow || input === 'j') {
				return {type: 'move', by: 1, count};
			}

			if (key.return) {
				return state.step === 'provider' ? {type: 'choose-provider', provider: providers[state.cursor]!} : {type: 'choose-source'};
			}

			return undefined;
		}

		case 'failed': {
			return input === 'q' ? 'close' : key.escape ? {type: 'back'} : undefined;
		}

		default: {
			return undefined;
		}
	}
}

export function wizardReducer(state: WizardState, event: WizardEvent): WizardState {
	switch (event.type) {
		case 'key': {
			const meaning = keyEvent(state, event.input, event.key, event.providers);
			if (meaning === 'close' || meaning === 'interrupt') {
				// A grant saved before the interruption is still saved: that is what is reported.
				return state.step === 'done'
					? {step: 'closed', result: state.result}
					: {step: 'closed', result: undefined, ...meaning === 'interrupt' ? {interrupted: true} : {}};
			}

			return meaning ? wizardReducer(state, meaning) : state;
		}

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
