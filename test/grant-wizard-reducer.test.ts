import test from 'ava';
import {
	initialWizardState,
	wizardReducer,
	type WizardEvent,
	type WizardProvider,
	type WizardResult,
	type WizardSource,
	type WizardSshKey,
	type WizardState,
} from '../components/grant-wizard-reducer.js';

const github: WizardProvider = {name: 'github', title: 'GitHub', grantWith: 'token'};
const claude: WizardProvider = {name: 'claude', title: 'Claude subscription', grantWith: 'token'};
const ssh = {name: 'ssh', title: 'SSH key', grantWith: 'ssh-agent-key'} as const satisfies WizardProvider;
const aws = {name: 'aws', title: 'AWS role', grantWith: 'aws-role', region: 'eu-west-1'} as const satisfies WizardProvider;
const keys: WizardSshKey[] = [
	{type: 'ssh-ed25519', comment: 'first@laptop', fingerprint: 'SHA256:first'},
	{type: 'ssh-rsa', comment: '', fingerprint: 'SHA256:second'},
];
const role = 'arn:aws:iam::123456789012:role/agent';
const sources: WizardSource[] = [
	{source: 'gh CLI login'},
	{source: 'GITHUB_TOKEN', warning: 'from the environment', expiresAt: '2030-01-01T00:00:00.000Z'},
];
const result: WizardResult = {name: 'github', login: 'octocat', scopes: ['repo'], expiresAt: null, source: 'gh CLI login', file: '/home/u/.moat/credentials/github.enc', keyringBackend: 'file'};

const noFlags = {upArrow: false, downArrow: false, return: false, escape: false, backspace: false, delete: false, ctrl: false, meta: false};

const states = {
	provider: {step: 'provider', cursor: 1},
	detecting: {step: 'detecting', provider: github},
	source: {step: 'source', provider: github, sources, cursor: 1},
	token: {step: 'token', provider: github, sources, typed: 'ghp_'},
	validating: {step: 'validating', provider: github, sources, from: 'gh CLI login'},
	done: {step: 'done', result},
	failed: {step: 'failed', provider: github, sources, message: 'GitHub rejected the token: Bad credentials.', hint: 'Run moat grant github again.'},
	closed: {step: 'closed'},
	'listing-keys': {step: 'listing-keys', provider: ssh},
	key: {step: 'key', provider: ssh, keys, cursor: 1},
	host: {step: 'host', provider: ssh, keys, key: keys[1]!, typed: 'github.co'},
	role: {step: 'role', provider: aws, typed: 'arn:aws:iam::123456789012:role/agen'},
	region: {step: 'region', provider: aws, roleArn: role, typed: 'eu-west-1'},
	saving: {step: 'saving', provider: ssh, from: {step: 'host', provider: ssh, keys, key: keys[0]!, typed: 'github.com'}},
} as const satisfies Record<WizardState['step'], WizardState>;

type StateName = keyof typeof states;

const events = {
	move: {type: 'move', by: 1, count: 3},
	'choose-provider': {type: 'choose-provider', provider: claude},
	detected: {type: 'detected', sources},
	'choose-source': {type: 'choose-source'},
	type: {type: 'type', text: 'x'},
	erase: {type: 'erase'},
	'submit-token': {type: 'submit-token'},
	saved: {type: 'saved', result},
	failed: {type: 'failed', message: 'boom', hint: 'try again'},
	back: {type: 'back'},
	key: {type: 'key', input: 'x', key: noFlags, providers: [github, claude]},
	'listed-keys': {type: 'listed-keys', keys},
	submit: {type: 'submit'},
} as const satisfies {[Type in WizardEvent['type']]: Extract<WizardEvent, {type: Type}>};

type EventName = keyof typeof events;

/** Every transition the wizard makes from the states above; any pair not listed must leave the state as it was. */
const transitions: Partial<Record<`${StateName} + ${EventName}`, WizardState>> = {
	'provider + move': {step: 'provider', cursor: 2},
	'provider + choose-provider': {step: 'detecting', provider: claude},
	'detecting + detected': {step: 'source', provider: github, sources, cursor: 0},
	'detecting + failed': {step: 'failed', provider: github, sources: [], message: 'boom', hint: 'try again'},
	'source + move': {step: 'source', provider: github, sources, cursor: 2},
	'source + choose-source': {step: 'validating', provider: github, sources, from: 'GITHUB_TOKEN'},
	'source + back': initialWizardState,
	'token + type': {step: 'token', provider: github, sources, typed: 'ghp_x'},
	'token + erase': {step: 'token', provider: github, sources, typed: 'ghp'},
	'token + submit-token': {step: 'validating', provider: github, sources, from: 'entered token'},
	'token + back': {step: 'source', provider: github, sources, cursor: 0},
	'validating + saved': {step: 'done', result},
	'validating + failed': {step: 'failed', provider: github, sources, message: 'boom', hint: 'try again'},
	'failed + back': {step: 'source', provider: github, sources, cursor: 0},
	'token + key': {step: 'token', provider: github, sources, typed: 'ghp_x'},
	'done + key': {step: 'closed', result},
	'listing-keys + listed-keys': {step: 'key', provider: ssh, keys, cursor: 0},
	'listing-keys + failed': {step: 'key', provider: ssh, keys: [], cursor: 0, problem: {message: 'boom', hint: 'try again'}},
	'key + move': {step: 'key', provider: ssh, keys, cursor: 2},
	'key + back': initialWizardState,
	'key + submit': {step: 'host', provider: ssh, keys, key: keys[1]!, typed: ''},
	'host + type': {step: 'host', provider: ssh, keys, key: keys[1]!, typed: 'github.cox'},
	'host + erase': {step: 'host', provider: ssh, keys, key: keys[1]!, typed: 'github.c'},
	'host + back': {step: 'key', provider: ssh, keys, cursor: 1},
	'host + submit': {step: 'saving', provider: ssh, from: {step: 'host', provider: ssh, keys, key: keys[1]!, typed: 'github.co'}},
	'host + key': {step: 'host', provider: ssh, keys, key: keys[1]!, typed: 'github.cox'},
	'role + type': {step: 'role', provider: aws, typed: 'arn:aws:iam::123456789012:role/agenx'},
	'role + erase': {step: 'role', provider: aws, typed: 'arn:aws:iam::123456789012:role/age'},
	'role + back': initialWizardState,
	'role + submit': {step: 'region', provider: aws, roleArn: 'arn:aws:iam::123456789012:role/agen', typed: 'eu-west-1'},
	'role + key': {step: 'role', provider: aws, typed: 'arn:aws:iam::123456789012:role/agenx'},
	'region + type': {step: 'region', provider: aws, roleArn: role, typed: 'eu-west-1x'},
	'region + erase': {step: 'region', provider: aws, roleArn: role, typed: 'eu-west-'},
	'region + back': {step: 'role', provider: aws, typed: role},
	'region + submit': {step: 'saving', provider: aws, from: {step: 'region', provider: aws, roleArn: role, typed: 'eu-west-1'}},
	'region + key': {step: 'region', provider: aws, roleArn: role, typed: 'eu-west-1x'},
	'saving + saved': {step: 'done', result},
	'saving + failed': {step: 'host', provider: ssh, keys, key: keys[0]!, typed: 'github.com', problem: {message: 'boom', hint: 'try again'}},
};

for (const stateName of Object.keys(states) as StateName[]) {
	for (const eventName of Object.keys(events) as EventName[]) {
		const state: WizardState = states[stateName];
		const expected = transitions[`${stateName} + ${eventName}`];
		if (expected) {
			test(`${stateName} + ${eventName} goes to ${expected.step}`, t => {
				t.deepEqual(wizardReducer(state, events[eventName]), expected);
			});
		} else {
			test(`${eventName} in the ${stateName} step changes nothing`, t => {
				t.is(wizardReducer(state, events[eventName]), state);
			});
		}
	}
}

test('the wizard starts at the provider step with the cursor on the first provider', t => {
	t.deepEqual(initialWizardState, {step: 'provider', cursor: 0});
});

/** [step, cursor, by, count, resulting cursor]. */
const moves: Array<['provider' | 'source', number, number, number, number]> = [
	['provider', 0, 1, 4, 1],
	['provider', 0, -1, 4, 0],
	['provider', 3, 1, 4, 3],
	['provider', 2, -5, 4, 0],
	['provider', 0, 10, 4, 3],
	['provider', 0, 1, 1, 0],
	['source', 0, 1, 3, 1],
	['source', 0, -1, 3, 0],
	['source', 2, 1, 3, 2],
	['source', 1, 100, 3, 2],
	['source', 0, 1, 0, 0],
];

for (const [step, cursor, by, count, expected] of moves) {
	test(`moving by ${by} from ${cursor} of ${count} in the ${step} step lands on ${expected}`, t => {
		const state: WizardState = step === 'provider' ? {step, cursor} : {step, provider: github, sources, cursor};
		const next = wizardReducer(state, {type: 'move', by, count});
		t.is((next as {cursor: number}).cursor, expected);
		t.is(next.step, step);
	});
}

for (const [cursor, from] of [[0, 'gh CLI login'], [1, 'GITHUB_TOKEN']] as const) {
	test(`choosing source ${cursor} validates from ${from}`, t => {
		t.deepEqual(wizardReducer({step: 'source', provider: github, sources, cursor}, {type: 'choose-source'}), {step: 'validating', provider: github, sources, from});
	});
}

test('choosing the entry after the last source asks for a token, starting empty', t => {
	t.deepEqual(wizardReducer({step: 'source', provider: github, sources, cursor: sources.length}, {type: 'choose-source'}), {step: 'token', provider: github, sources, typed: ''});
});

test('with nothing detected the only choice asks for a token', t => {
	const state = wizardReducer({step: 'detecting', provider: github}, {type: 'detected', sources: []});
	t.deepEqual(state, {step: 'source', provider: github, sources: [], cursor: 0});
	t.deepEqual(wizardReducer(state, {type: 'choose-source'}), {step: 'token', provider: github, sources: [], typed: ''});
});

/** [typed so far, what submit-token does]. */
for (const [typed, submits] of [['', false], ['   ', false], ['\t', false], ['ghp_x', true], [' ghp_x ', true]] as const) {
	test(`submitting the typed token ${JSON.stringify(typed)} ${submits ? 'starts validating' : 'is refused and changes nothing'}`, t => {
		const state: WizardState = {step: 'token', provider: github, sources, typed};
		const next = wizardReducer(state, {type: 'submit-token'});
		if (submits) {
			t.deepEqual(next, {step: 'validating', provider: github, sources, from: 'entered token'});
		} else {
			t.is(next, state);
		}
	});
}

/** [typed so far, after one erase]. */
for (const [typed, erased] of [['', ''], ['a', ''], ['ab', 'a'], ['a🔑', 'a'], ['🔑🔑', '🔑']] as const) {
	test(`erasing from ${JSON.stringify(typed)} leaves ${JSON.stringify(erased)}`, t => {
		t.deepEqual(wizardReducer({step: 'token', provider: github, sources, typed}, {type: 'erase'}), {step: 'token', provider: github, sources, typed: erased});
	});
}

test('a pasted chunk is appended whole', t => {
	const next = wizardReducer({step: 'token', provider: github, sources, typed: ''}, {type: 'type', text: 'ghp_pasted'});
	t.deepEqual(next, {step: 'token', provider: github, sources, typed: 'ghp_pasted'});
});

test('a whole grant goes provider → detecting → source → token → validating → done', t => {
	const steps: WizardEvent[] = [
		{type: 'move', by: 1, count: 4},
		{type: 'choose-provider', provider: github},
		{type: 'detected', sources},
		{type: 'move', by: 2, count: sources.length + 1},
		{type: 'choose-source'},
		{type: 'type', text: 'ghp_'},
		{type: 'type', text: 'y'},
		{type: 'submit-token'},
		{type: 'saved', result},
	];
	const visited: string[] = [];
	let state: WizardState = initialWizardState;
	for (const event of steps) {
		state = wizardReducer(state, event);
		visited.push(state.step);
	}

	t.deepEqual(visited, ['provider', 'detecting', 'source', 'source', 'token', 'token', 'token', 'validating', 'done']);
	t.deepEqual(state, {step: 'done', result});
});

test('after a failure, back returns to the sources and a second try can succeed', t => {
	let state: WizardState = {step: 'validating', provider: github, sources, from: 'gh CLI login'};
	state = wizardReducer(state, {type: 'failed', message: 'GitHub rejected the token: Bad credentials.', hint: 'Run moat grant github again.'});
	t.is(state.step, 'failed');
	state = wizardReducer(state, {type: 'back'});
	t.deepEqual(state, {step: 'source', provider: github, sources, cursor: 0});
	state = wizardReducer(wizardReducer(state, {type: 'choose-source'}), {type: 'saved', result});
	t.deepEqual(state, {step: 'done', result});
});

test('an unknown event changes nothing in any step', t => {
	for (const state of Object.values(states)) {
		t.is(wizardReducer(state, {type: 'unknown'} as unknown as WizardEvent), state);
	}
});

const press = (state: WizardState, input: string, flags: Partial<typeof noFlags> = {}) =>
	wizardReducer(state, {type: 'key', input, key: {...noFlags, ...flags}, providers: [github, claude]});

test('Down then Enter delivered together open the provider the Down moved to', t => {
	const afterDown = press(initialWizardState, '', {downArrow: true});
	t.deepEqual(press(afterDown, '\r', {return: true}), {step: 'detecting', provider: claude});
});

test('q closes the wizard from the provider list, and Escape does too', t => {
	t.deepEqual(press(initialWizardState, 'q'), {step: 'closed', result: undefined});
	t.deepEqual(press(initialWizardState, '', {escape: true}), {step: 'closed', result: undefined});
});

test('q typed into the token field is part of the token, not a way out', t => {
	t.deepEqual(press(states.token, 'q'), {...states.token, typed: 'ghp_q'});
});

test('Escape on the sources goes back to the providers; k and j move like the arrows', t => {
	t.deepEqual(press(states.source, '', {escape: true}), initialWizardState);
	t.deepEqual(press(states.source, 'k'), {...states.source, cursor: 0});
	t.deepEqual(press(states.source, 'j'), {...states.source, cursor: 2});
});

test('Enter on the sources list chooses the highlighted source', t => {
	t.deepEqual(press(states.source, '\r', {return: true}), {step: 'validating', provider: github, sources, from: 'GITHUB_TOKEN'});
});

const ctrlC: WizardEvent = {type: 'key', input: 'c', key: {...noFlags, ctrl: true}, providers: [github, claude]};

for (const stateName of Object.keys(states).filter(name => name !== 'done' && name !== 'closed') as StateName[]) {
	test(`Ctrl+C in the ${stateName} step closes the wizard as interrupted, with nothing saved`, t => {
		t.deepEqual(wizardReducer(states[stateName], ctrlC), {step: 'closed', result: undefined, interrupted: true});
	});
}

test('Ctrl+C after a grant was saved closes with the grant: it is saved, and that is what is reported', t => {
	t.deepEqual(wizardReducer(states.done, ctrlC), {step: 'closed', result});
});


// --- SSH and AWS ---

for (const [provider, next] of [
	[ssh, {step: 'listing-keys', provider: ssh}],
	[aws, {step: 'role', provider: aws, typed: ''}],
	[github, {step: 'detecting', provider: github}],
] as const) {
	test(`choosing ${provider.name} (granted by ${provider.grantWith}) goes to ${next.step}`, t => {
		t.deepEqual(wizardReducer(initialWizardState, {type: 'choose-provider', provider}), next);
	});
}

const hostHint = 'Type the host the key is for, as in github.com (host:port for another SSH port).';
const roleHint = 'Type the ARN of the role runs may assume, as in arn:aws:iam::123456789012:role/NAME.';
const regionHint = 'Type the AWS region of the role\'s sessions, as in us-east-1.';

/** [step, typed, the problem said in place (undefined: it goes on, with the text trimmed)]. */
const typedInputs: Array<['host' | 'role' | 'region', string, string | undefined]> = [
	['host', '', 'No host typed.'],
	['host', '   ', 'No host typed.'],
	['host', 'git@github.com', '"git@github.com" is not a host name.'],
	['host', 'github.com/org', '"github.com/org" is not a host name.'],
	['host', '-github.com', '"-github.com" is not a host name.'],
	['host', 'evil\u001B]0;x\u0007.com', String.raw`"evil\x1b]0;x\x07.com" is not a host name.`],
	['host', 'github.com', undefined],
	['host', ' git.example.com:2222 ', undefined],
	['role', '', 'No role ARN typed.'],
	['role', 'agent', '"agent" is not an IAM role ARN.'],
	['role', 'arn:aws:iam::123:role/x', '"arn:aws:iam::123:role/x" is not an IAM role ARN.'],
	['role', 'arn:aws:iam::123456789012:user/agent', '"arn:aws:iam::123456789012:user/agent" is not an IAM role ARN.'],
	['role', role, undefined],
	['role', ' arn:aws-cn:iam::123456789012:role/path/agent ', undefined],
	['region', '', 'No region typed.'],
	['region', 'mars', '"mars" is not an AWS region.'],
	['region', 'EU-WEST-1', '"EU-WEST-1" is not an AWS region.'],
	['region', 'us-east-1', undefined],
	['region', ' us-gov-west-1 ', undefined],
];

function typedState(step: 'host' | 'role' | 'region', typed: string): WizardState {
	return step === 'host'
		? {step, provider: ssh, keys, key: keys[0]!, typed}
		: step === 'role' ? {step, provider: aws, typed} : {step, provider: aws, roleArn: role, typed};
}

for (const [step, typed, problem] of typedInputs) {
	test(`enter on ${JSON.stringify(typed)} in the ${step} step ${problem ? `says ${problem} in place` : 'goes on'}`, t => {
		const state = typedState(step, typed);
		const next = wizardReducer(state, {type: 'submit'});
		if (problem) {
			t.deepEqual(next, {...state, problem: {message: problem, hint: {host: hostHint, role: roleHint, region: regionHint}[step]}});
		} else if (step === 'role') {
			t.deepEqual(next, {step: 'region', provider: aws, roleArn: typed.trim(), typed: 'eu-west-1'});
		} else {
			t.deepEqual(next, {step: 'saving', provider: step === 'host' ? ssh : aws, from: typedState(step, typed.trim())});
		}
	});
}

test('a problem in place goes away as soon as the text is changed (typed or erased), and esc still goes back', t => {
	const withProblem = wizardReducer(typedState('host', 'git@github.com'), {type: 'submit'});
	t.like(withProblem, {problem: {message: '"git@github.com" is not a host name.'}});
	t.deepEqual(wizardReducer(withProblem, {type: 'erase'}), typedState('host', 'git@github.co'));
	t.deepEqual(wizardReducer(withProblem, {type: 'type', text: 'x'}), typedState('host', 'git@github.comx'));
	t.is(wizardReducer(withProblem, {type: 'back'}).step, 'key');
});

test('the region step starts with the region moat grant aws would default to, and going back keeps the role as typed', t => {
	let state = wizardReducer({step: 'role', provider: aws, typed: role}, {type: 'submit'});
	t.deepEqual(state, {step: 'region', provider: aws, roleArn: role, typed: 'eu-west-1'});
	state = wizardReducer(state, {type: 'back'});
	t.deepEqual(state, {step: 'role', provider: aws, typed: role});
});

test('a failed save returns to the step it was typed in, with what was typed and the problem, and a second try can succeed', t => {
	let state: WizardState = wizardReducer(typedState('region', 'eu-west-1'), {type: 'submit'});
	t.is(state.step, 'saving');
	state = wizardReducer(state, {type: 'failed', message: 'AWS refused to let these credentials assume it.', hint: 'Check the role\'s trust policy.'});
	t.deepEqual(state, {...typedState('region', 'eu-west-1'), problem: {message: 'AWS refused to let these credentials assume it.', hint: 'Check the role\'s trust policy.'}});
	state = wizardReducer(wizardReducer(state, {type: 'submit'}), {type: 'saved', result});
	t.deepEqual(state, {step: 'done', result});
});

test('a whole SSH grant goes provider → listing-keys → key → host → saving → done', t => {
	const steps: WizardEvent[] = [
		{type: 'choose-provider', provider: ssh},
		{type: 'listed-keys', keys},
		{type: 'move', by: 1, count: keys.length},
		{type: 'submit'},
		{type: 'type', text: 'github.com'},
		{type: 'submit'},
		{type: 'saved', result},
	];
	const visited: string[] = [];
	let state: WizardState = initialWizardState;
	for (const event of steps) {
		state = wizardReducer(state, event);
		visited.push(state.step);
	}

	t.deepEqual(visited, ['listing-keys', 'key', 'key', 'host', 'host', 'saving', 'done']);
});

test('the key the host is typed for is the one the cursor was on, and going back puts the cursor on it again', t => {
	const host = wizardReducer({step: 'key', provider: ssh, keys, cursor: 1}, {type: 'submit'});
	t.deepEqual(host, {step: 'host', provider: ssh, keys, key: keys[1]!, typed: ''});
	t.deepEqual(wizardReducer(host, {type: 'back'}), {step: 'key', provider: ssh, keys, cursor: 1});
	const saving = wizardReducer(wizardReducer(host, {type: 'type', text: 'github.com'}), {type: 'submit'});
	t.like(saving, {step: 'saving', from: {key: {fingerprint: 'SHA256:second'}, typed: 'github.com'}});
});

test('with no agent or no key, the key step says so and offers nothing to choose; enter does nothing, esc goes back, q quits', t => {
	const problem = {message: 'No SSH agent: SSH_AUTH_SOCK is not set.', hint: 'Start ssh-agent, add your key with ssh-add, and try again.'};
	const state = wizardReducer({step: 'listing-keys', provider: ssh}, {type: 'failed', ...problem});
	t.deepEqual(state, {step: 'key', provider: ssh, keys: [], cursor: 0, problem});
	t.is(press(state, '\r', {return: true}), state);
	t.is(press(state, '', {downArrow: true}).step, 'key');
	t.deepEqual(press(state, '', {escape: true}), initialWizardState);
	t.deepEqual(press(state, 'q'), {step: 'closed', result: undefined});
});

for (const step of ['host', 'role', 'region'] as const) {
	test(`q typed into the ${step} field is text, not a quit; esc goes back`, t => {
		const state = typedState(step, 'a');
		t.deepEqual(press(state, 'q'), typedState(step, 'aq'));
		t.not(press(state, '', {escape: true}).step, 'closed');
	});
}

test('on the key list, q quits, Escape goes back, k and j move like the arrows, and Enter takes the key', t => {
	const state: WizardState = {step: 'key', provider: ssh, keys, cursor: 0};
	t.deepEqual(press(state, 'q'), {step: 'closed', result: undefined});
	t.deepEqual(press(state, '', {escape: true}), initialWizardState);
	t.deepEqual(press(state, 'j'), {...state, cursor: 1});
	t.deepEqual(press({...state, cursor: 1}, 'k'), state);
	t.deepEqual(press(state, '', {downArrow: true}), {...state, cursor: 1});
	t.deepEqual(press({...state, cursor: 1}, 'j'), {...state, cursor: 1}, 'the cursor stops at the last key');
	t.deepEqual(press(state, '\r', {return: true}), {step: 'host', provider: ssh, keys, key: keys[0]!, typed: ''});
});
