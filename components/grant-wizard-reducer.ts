import {awsRegionProblem, awsRoleExample, awsRoleProblem, sshHostProblem} from '../source/credentials/grant-checks.js';
import {withoutLastCharacter} from '../source/terminal/masked-prompt.js';

/**
 * The grant wizard's steps as a pure reducer: pick a provider, then for a
 * token see what was found, pick a source or type a token; for SSH pick a
 * key of the agent and type its host; for AWS type a role and a region.
 * Then watch validation and see the result.
 */

import type {WizardProvider, WizardResult, WizardSource, WizardSshKey} from '../source/credentials/grant-wizard-services.js';

export type {WizardProvider, WizardResult, WizardSource, WizardSshKey} from '../source/credentials/grant-wizard-services.js';

/** What is wrong with what was typed (or why saving it failed), said where it was typed. */
export type WizardProblem = {message: string; hint: string};

type SshProvider = Extract<WizardProvider, {grantWith: 'ssh-agent-key'}>;
type AwsProvider = Extract<WizardProvider, {grantWith: 'aws-role'}>;

/** The SSH key's host, typed. */
export type HostStep = {step: 'host'; provider: SshProvider; keys: WizardSshKey[]; key: WizardSshKey; typed: string; problem?: WizardProblem};
/** The AWS region, typed after the role (it starts as the region moat grant aws would default to). */
export type RegionStep = {step: 'region'; provider: AwsProvider; roleArn: string; typed: string; problem?: WizardProblem};

export type WizardState =
	| {step: 'provider'; cursor: number}
	| {step: 'detecting'; provider: WizardProvider}
	| {step: 'source'; provider: WizardProvider; sources: WizardSource[]; cursor: number}
	| {step: 'token'; provider: WizardProvider; sources: WizardSource[]; typed: string}
	| {step: 'validating'; provider: WizardProvider; sources: WizardSource[]; from: string}
	| {step: 'done'; result: WizardResult}
	| {step: 'failed'; provider: WizardProvider; sources: WizardSource[]; message: string; hint: string}
	/** Asking the SSH agent for its keys. */
	| {step: 'listing-keys'; provider: SshProvider}
	/** The agent's keys to choose from; none, with the problem, when there is no agent or no key. */
	| {step: 'key'; provider: SshProvider; keys: WizardSshKey[]; cursor: number; problem?: WizardProblem}
	| HostStep
	/** The ARN of the AWS role, typed. */
	| {step: 'role'; provider: AwsProvider; typed: string; problem?: WizardProblem}
	| RegionStep
	/** Checking and saving what the SSH or AWS steps gathered; a failure returns to `from` with the problem. */
	| {step: 'saving'; provider: SshProvider | AwsProvider; from: HostStep | RegionStep}
	/** The wizard is over; the component exits. `interrupted`: by Ctrl+C, not by a choice. */
	| {step: 'closed'; result?: WizardResult; interrupted?: boolean};

/** A key press as Ink reports it (the flags the wizard uses). */
export type WizardKey = {upArrow: boolean; downArrow: boolean; return: boolean; escape: boolean; backspace: boolean; delete: boolean; ctrl: boolean; meta: boolean};

export type WizardEvent =
	| {type: 'move'; by: number; count: number}
	| {type: 'choose-provider'; provider: WizardProvider}
	| {type: 'detected'; sources: WizardSource[]}
	| {type: 'listed-keys'; keys: WizardSshKey[]}
	/** Enter on a key, or in a typed field: take it (after the check the CLI makes) and go on. */
	| {type: 'submit'}
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
		case 'token':
		case 'host':
		case 'role':
		case 'region': {
			if (key.return) {
				return state.step === 'token' ? {type: 'submit-token'} : {type: 'submit'};
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
		case 'source':
		case 'key': {
			const count = state.step === 'provider' ? providers.length : state.step === 'source' ? state.sources.length + 1 : state.keys.length;
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
				return state.step === 'provider' ? {type: 'choose-provider', provider: providers[state.cursor]!} : state.step === 'source' ? {type: 'choose-source'} : {type: 'submit'};
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

/** A typed field changed by `change`; a problem said about the old text goes with it. */
function edited(state: WizardState, change: (typed: string) => string): WizardState {
	switch (state.step) {
		case 'token': {
			return {...state, typed: change(state.typed)};
		}

		case 'host': {
			const {problem: _problem, ...rest} = state;
			return {...rest, typed: change(state.typed)};
		}

		case 'role': {
			const {problem: _problem, ...rest} = state;
			return {...rest, typed: change(state.typed)};
		}

		case 'region': {
			const {problem: _problem, ...rest} = state;
			return {...rest, typed: change(state.typed)};
		}

		default: {
			return state;
		}
	}
}

/**
 * Enter on a key or in a typed field. What was typed gets the checks
 * `moat grant ssh|aws` makes (grant-checks.ts) before anything is asked of
 * the agent or AWS; a problem stays in place until the text changes.
 */
function submitted(state: WizardState): WizardState {
	switch (state.step) {
		case 'key': {
			const key = state.keys[state.cursor];
			return key ? {step: 'host', provider: state.provider, keys: state.keys, key, typed: ''} : state;
		}

		case 'host': {
			const host = state.typed.trim();
			const problem = host === '' ? 'No host typed.' : sshHostProblem(host);
			const {problem: _previous, ...rest} = state;
			return problem
				? {...state, problem: {message: problem, hint: 'Type the host the key is for, as in github.com (host:port for another SSH port).'}}
				: {step: 'saving', provider: state.provider, from: {...rest, typed: host}};
		}

		case 'role': {
			const roleArn = state.typed.trim();
			const problem = roleArn === '' ? 'No role ARN typed.' : awsRoleProblem(roleArn);
			return problem
				? {...state, problem: {message: problem, hint: `Type the ARN of the role runs may assume, as in ${awsRoleExample}.`}}
				: {step: 'region', provider: state.provider, roleArn, typed: state.provider.region};
		}

		case 'region': {
			const region = state.typed.trim();
			const problem = region === '' ? 'No region typed.' : awsRegionProblem(region);
			const {problem: _previous, ...rest} = state;
			return problem
				? {...state, problem: {message: problem, hint: 'Type the AWS region of the role\'s sessions, as in us-east-1.'}}
				: {step: 'saving', provider: state.provider, from: {...rest, typed: region}};
		}

		default: {
			return state;
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
			return state.step === 'provider' || state.step === 'source' || state.step === 'key' ? {...state, cursor: clamp(state.cursor + event.by, event.count)} : state;
		}

		case 'choose-provider': {
			if (state.step !== 'provider') {
				return state;
			}

			const {provider} = event;
			return provider.grantWith === 'ssh-agent-key'
				? {step: 'listing-keys', provider}
				: provider.grantWith === 'aws-role' ? {step: 'role', provider, typed: ''} : {step: 'detecting', provider};
		}

		case 'listed-keys': {
			return state.step === 'listing-keys' ? {step: 'key', provider: state.provider, keys: event.keys, cursor: 0} : state;
		}

		case 'submit': {
			return submitted(state);
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
			return edited(state, typed => typed + event.text);
		}

		case 'erase': {
			return edited(state, typed => withoutLastCharacter(typed));
		}

		case 'submit-token': {
			return state.step === 'token' && state.typed.trim() !== ''
				? {step: 'validating', provider: state.provider, sources: state.sources, from: 'entered token'}
				: state;
		}

		case 'saved': {
			return state.step === 'validating' || state.step === 'saving' ? {step: 'done', result: event.result} : state;
		}

		case 'failed': {
			const problem = {message: event.message, hint: event.hint};
			if (state.step === 'listing-keys') {
				return {step: 'key', provider: state.provider, keys: [], cursor: 0, problem};
			}

			// Saving failed (STS refused the role, the host has no SSH keys…): said where it was typed, to fix there.
			if (state.step === 'saving') {
				return {...state.from, problem};
			}

			return state.step === 'validating' || state.step === 'detecting'
				? {step: 'failed', provider: state.provider, sources: 'sources' in state ? state.sources : [], message: event.message, hint: event.hint}
				: state;
		}

		case 'back': {
			switch (state.step) {
				case 'failed':
				case 'token': {
					return {step: 'source', provider: state.provider, sources: state.sources, cursor: 0};
				}

				case 'source':
				case 'key':
				case 'role': {
					return initialWizardState;
				}

				case 'host': {
					return {step: 'key', provider: state.provider, keys: state.keys, cursor: Math.max(0, state.keys.indexOf(state.key))};
				}

				case 'region': {
					return {step: 'role', provider: state.provider, typed: state.roleArn};
				}

				default: {
					return state;
				}
			}
		}

		default: {
			return state;
		}
	}
}
