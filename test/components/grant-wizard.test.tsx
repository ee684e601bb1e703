import {stripVTControlCharacters} from 'node:util';
import test from 'ava';
import {render} from 'ink-testing-library';
import {GrantWizard, GrantWizardContext, type GrantWizardServices} from '../../components/grant-wizard.js';
import type {WizardProvider, WizardResult, WizardSource, WizardSshKey} from '../../components/grant-wizard-reducer.js';
import {frameWhere, inputReady} from '../helpers/ink-frames.js';

const keys = {up: '\u001B[A', down: '\u001B[B', enter: '\r', escape: '\u001B', backspace: '\u007F'} as const;

const providers: WizardProvider[] = [
	{name: 'github', title: 'GitHub', grantWith: 'token'},
	{name: 'anthropic', title: 'Anthropic API key', grantWith: 'token'},
	{name: 'claude', title: 'Claude subscription (Claude Code login)', grantWith: 'token'},
	{name: 'openai', title: 'OpenAI / Codex', grantWith: 'token'},
	{name: 'aws', title: 'AWS role', grantWith: 'aws-role', region: 'eu-west-1'},
	{name: 'ssh', title: 'SSH key', grantWith: 'ssh-agent-key'},
];

const agentKeys: WizardSshKey[] = [
	{type: 'ssh-ed25519', comment: 'first@laptop', fingerprint: 'SHA256:firstfingerprint'},
	{type: 'ssh-ed25519', comment: 'second@laptop', fingerprint: 'SHA256:secondfingerprint'},
];

const githubResult: WizardResult = {
	name: 'github',
	login: 'octocat',
	scopes: ['repo', 'read:org'],
	expiresAt: null,
	source: 'gh CLI login',
	file: '/home/user/.moat/credentials/github.enc',
	keyringBackend: 'file',
};

type GrantCall = {provider: string; choice: {index: number} | {token: string}};

/** A user-facing failure, shaped like moat's errors. */
class FakeUserError extends Error {
	constructor(message: string, readonly hint: string) {
		super(message);
	}
}

function fakeServices(options: {
	found?: Record<string, WizardSource[]>;
	grant?: (call: GrantCall) => Promise<WizardResult>;
	sshKeys?: () => Promise<WizardSshKey[]>;
	grantAws?: () => Promise<WizardResult>;
} = {}) {
	const detected: string[] = [];
	const grants: GrantCall[] = [];
	const sshGrants: Array<{host: string; fingerprint: string}> = [];
	const awsGrants: Array<{roleArn: string; region: string}> = [];
	const services: GrantWizardServices = {
		providers,
		async detect(provider) {
			detected.push(provider);
			return options.found?.[provider] ?? [];
		},
		async grant(provider, choice) {
			const call = {provider, choice};
			grants.push(call);
			return (options.grant ?? (async () => githubResult))(call);
		},
		async sshKeys() {
			return (options.sshKeys ?? (async () => agentKeys))();
		},
		async grantSsh(host, fingerprint) {
			sshGrants.push({host, fingerprint});
			const key = agentKeys.find(candidate => candidate.fingerprint === fingerprint)!;
			return {name: `ssh:${host}`, login: null, scopes: [], expiresAt: null, source: `SSH agent key ${key.comment}`, file: '/home/user/.moat/credentials/ssh.enc', keyringBackend: 'file'};
		},
		async grantAws(roleArn, region) {
			awsGrants.push({roleArn, region});
			return (options.grantAws ?? (async () => ({name: 'aws', login: roleArn, scopes: [], expiresAt: null, source: 'role to assume', file: '/home/user/.moat/credentials/aws.enc', keyringBackend: 'system' as const})))();
		},
		explain(error) {
			return error instanceof FakeUserError ? {message: error.message, hint: error.hint} : {message: String(error), hint: 'Run moat grant again with -v for details.'};
		},
	};
	return {services, detected, grants, sshGrants, awsGrants};
}

function renderWizard(services: GrantWizardServices) {
	const finished: Array<WizardResult | undefined> = [];
	const interruptions: boolean[] = [];
	const instance = render(
		<GrantWizardContext.Provider value={services}>
			<GrantWizard onDone={(result, {interrupted}) => {
				finished.push(result);
				interruptions.push(interrupted);
			}} />
		</GrantWizardContext.Provider>,
	);
	return {...instance, finished, interruptions};
}

/**
 * Polls the rendered frame until it satisfies `condition` (never a fixed
 * sleep). Ink re-subscribes useInput's handler in a passive effect that runs
 * after the frame is written; a key sent in between reaches the previous
 * render's handler, so this yields one more turn before returning.
 */
async function until(condition: () => boolean): Promise<void> {
	await frameWhere(() => (condition() ? 'yes' : ''), frame => frame === 'yes');
}

const pointedAt = (frame: string) => frame.split('\n').find(line => line.trimStart().startsWith('›'))?.trim().slice(1).trim();

/** Walks from the provider list to the source list of `title`. */
async function openProvider(wizard: ReturnType<typeof renderWizard>, downPresses: number, title: string): Promise<string> {
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	await inputReady(wizard.stdin);
	for (let press = 1; press <= downPresses; press++) {
		wizard.stdin.write(keys.down);
		await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === providers[press]!.title);
	}

	wizard.stdin.write(keys.enter);
	return frameWhere(wizard.lastFrame, frame => frame.includes('Enter a token') && frame.includes(title));
}

test('the wizard lists the providers, moves with the arrow keys, and shows what was found for the chosen one', async t => {
	const {services, detected} = fakeServices({found: {github: [{source: 'gh CLI login'}, {source: 'GITHUB_TOKEN'}]}});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	const first = await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	for (const provider of providers) {
		t.true(first.includes(provider.title), provider.title);
	}

	t.is(pointedAt(first), 'GitHub');
	await inputReady(wizard.stdin);
	wizard.stdin.write(keys.down);
	await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === 'Anthropic API key');
	wizard.stdin.write(keys.down);
	await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === 'Claude subscription (Claude Code login)');
	wizard.stdin.write(keys.up);
	await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === 'Anthropic API key');
	wizard.stdin.write(keys.up);
	await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === 'GitHub');
	wizard.stdin.write(keys.enter);

	const sources = await frameWhere(wizard.lastFrame, frame => frame.includes('Found: gh CLI login'));
	t.deepEqual(detected, ['github']);
	t.is(pointedAt(sources), 'Found: gh CLI login');
	const choices = sources.split('\n').map(line => line.trim().replace(/^› /, '')).filter(line => line.startsWith('Found:') || line === 'Enter a token');
	t.deepEqual(choices, ['Found: gh CLI login', 'Found: GITHUB_TOKEN', 'Enter a token']);
});

test('enter on a detected source grants it and shows the result line and the file it was saved in', async t => {
	const {services, grants} = fakeServices({found: {github: [{source: 'gh CLI login'}]}});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await openProvider(wizard, 0, 'GitHub');
	wizard.stdin.write(keys.enter);

	const done = await frameWhere(wizard.lastFrame, frame => frame.includes('Granted'));
	t.true(done.includes('✓ Granted github (as octocat; scopes repo, read:org) from gh CLI login.'), done);
	t.true(done.includes('Saved encrypted in /home/user/.moat/credentials/github.enc (key in the key file).'), done);
	t.deepEqual(grants, [{provider: 'github', choice: {index: 0}}]);
	t.deepEqual(wizard.finished, [], 'the wizard waits for a key before finishing');

	wizard.stdin.write('x');
	await until(() => wizard.finished.length > 0);
	t.deepEqual(wizard.finished, [githubResult]);
});

test('Ctrl+C leaves the wizard as interrupted, from the provider list and from the token field, and leaves nothing on the screen', async t => {
	for (const path of ['provider list', 'token field'] as const) {
		const {services, grants} = fakeServices();
		const wizard = renderWizard(services);
		t.teardown(wizard.unmount);
		if (path === 'token field') {
			await openProvider(wizard, 3, 'OpenAI / Codex');
			wizard.stdin.write(keys.enter);
			await frameWhere(wizard.lastFrame, frame => frame.includes('OpenAI / Codex token'));
			wizard.stdin.write('sk-abc');
			await frameWhere(wizard.lastFrame, frame => frame.includes('> ******'));
		} else {
			await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
			await inputReady(wizard.stdin);
		}

		wizard.stdin.write('\u0003');
		await until(() => wizard.finished.length > 0);
		t.deepEqual(wizard.finished, [undefined], path);
		t.deepEqual(wizard.interruptions, [true], path);
		t.deepEqual(grants, [], path);
		t.is(stripVTControlCharacters(wizard.lastFrame() ?? '').trim(), '', `${path}: the CLI says what happened, not a stale frame`);
	}
});

test('after a grant, the wizard finishes with it and leaves the screen to the CLI\'s line', async t => {
	const {services} = fakeServices({found: {github: [{source: 'gh CLI login'}]}});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await openProvider(wizard, 0, 'GitHub');
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => frame.includes('Granted'));
	wizard.stdin.write('x');
	await until(() => wizard.finished.length > 0);
	t.deepEqual(wizard.interruptions, [false]);
	t.is(stripVTControlCharacters(wizard.lastFrame() ?? '').trim(), '');
});

test('a detected source with a warning shows the warning while it is selected', async t => {
	const warning = 'This is Claude Code\'s own short-lived login; moat does not refresh it.';
	const {services} = fakeServices({found: {claude: [{source: '~/.claude/.credentials.json', warning, expiresAt: '2030-01-01T00:00:00.000Z'}]}});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	const sources = await openProvider(wizard, 2, 'Claude subscription');
	t.true(sources.includes('Found: ~/.claude/.credentials.json (expires 2030-01-01T00:00:00.000Z)'), sources);
	t.true(sources.replaceAll(/\s+/g, ' ').includes(warning), sources);
	wizard.stdin.write(keys.down);
	const onTokenEntry = await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === 'Enter a token');
	t.false(onTokenEntry.includes('short-lived'), 'the warning belongs to the detected source only');
});

test('a typed token shows one asterisk per character and never its text, backspace erases, and enter grants what remains', async t => {
	const token = 'sk-typedsecret42';
	const {services, grants} = fakeServices({
		async grant() {
			return {...githubResult, name: 'openai', login: null, scopes: [], source: 'entered token', file: '/home/user/.moat/credentials/openai.enc'};
		},
	});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	const sources = await openProvider(wizard, 3, 'OpenAI / Codex');
	t.true(sources.includes('Nothing found on this machine.'), sources);
	t.is(pointedAt(sources), 'Enter a token');
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => frame.includes('OpenAI / Codex token'));

	const typed = `${token}X`;
	for (const [index, character] of [...typed].entries()) {
		wizard.stdin.write(character);
		await frameWhere(wizard.lastFrame, frame => frame.includes(`> ${'*'.repeat(index + 1)}\n`));
	}

	wizard.stdin.write(keys.backspace);
	await frameWhere(wizard.lastFrame, frame => frame.includes(`> ${'*'.repeat(token.length)}\n`));
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => frame.includes('✓ Granted openai from entered token.'));
	t.deepEqual(grants, [{provider: 'openai', choice: {token}}]);

	t.true(wizard.frames.length > typed.length);
	for (const frame of wizard.frames) {
		const text = stripVTControlCharacters(frame);
		t.false(text.includes('typedsecret'), `a frame shows the typed token:\n${text}`);
		t.false(text.includes('42X'), `a frame shows the typed token:\n${text}`);
	}
});

test('q typed into the token field is part of the token, not a quit', async t => {
	const {services, grants} = fakeServices();
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await openProvider(wizard, 3, 'OpenAI / Codex');
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => frame.includes('OpenAI / Codex token'));
	wizard.stdin.write('q');
	await frameWhere(wizard.lastFrame, frame => frame.includes('> *\n'));
	t.deepEqual(wizard.finished, []);
	wizard.stdin.write(keys.enter);
	await until(() => grants.length > 0);
	t.deepEqual(grants, [{provider: 'openai', choice: {token: 'q'}}]);
});

test('esc in the token field goes back to the sources without granting', async t => {
	const {services, grants} = fakeServices({found: {github: [{source: 'gh CLI login'}]}});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await openProvider(wizard, 0, 'GitHub');
	wizard.stdin.write(keys.down);
	await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === 'Enter a token');
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => frame.includes('GitHub token'));
	wizard.stdin.write('a');
	await frameWhere(wizard.lastFrame, frame => frame.includes('> *\n'));
	wizard.stdin.write(keys.escape);

	const back = await frameWhere(wizard.lastFrame, frame => frame.includes('Found: gh CLI login'));
	t.false(back.includes('GitHub token'));
	t.is(pointedAt(back), 'Found: gh CLI login');
	t.deepEqual(grants, []);
	t.deepEqual(wizard.finished, []);
});

test('a failing grant shows the message and the hint, and esc returns to the sources', async t => {
	const {services, grants} = fakeServices({
		found: {github: [{source: 'gh CLI login'}]},
		async grant() {
			throw new FakeUserError('GitHub rejected the token: Bad credentials.', 'Create a new token (or run gh auth login) and run moat grant github again.');
		},
	});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await openProvider(wizard, 0, 'GitHub');
	wizard.stdin.write(keys.enter);

	const failed = await frameWhere(wizard.lastFrame, frame => frame.includes('✕'));
	t.true(failed.includes('✕ GitHub rejected the token: Bad credentials.'), failed);
	t.true(failed.includes('Create a new token (or run gh auth login) and run moat grant github again.'), failed);
	t.false(failed.includes('Granted'));
	t.is(grants.length, 1);

	wizard.stdin.write(keys.escape);
	const back = await frameWhere(wizard.lastFrame, frame => frame.includes('Found: gh CLI login'));
	t.false(back.includes('✕'));
	t.true(back.includes('Enter a token'));
	t.deepEqual(wizard.finished, []);
});

test('esc on the sources goes back to the provider list', async t => {
	const {services} = fakeServices();
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await openProvider(wizard, 1, 'Anthropic API key');
	wizard.stdin.write(keys.escape);
	const providersAgain = await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	t.is(pointedAt(providersAgain), 'GitHub');
	t.deepEqual(wizard.finished, []);
});

test('q on the provider list quits without a result and without detecting anything', async t => {
	const {services, detected, grants} = fakeServices();
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	await inputReady(wizard.stdin);
	wizard.stdin.write('q');
	await until(() => wizard.finished.length > 0);
	t.deepEqual(wizard.finished, [undefined]);
	t.deepEqual(detected, []);
	t.deepEqual(grants, []);
});

test('q on the sources quits without granting', async t => {
	const {services, grants} = fakeServices({found: {github: [{source: 'gh CLI login'}]}});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await openProvider(wizard, 0, 'GitHub');
	wizard.stdin.write('q');
	await until(() => wizard.finished.length > 0);
	t.deepEqual(wizard.finished, [undefined]);
	t.deepEqual(grants, []);
});

// --- SSH and AWS, as moat grant ssh and moat grant aws take them ---

/** Walks from the provider list onto provider `index` and presses enter. */
async function chooseProvider(wizard: ReturnType<typeof renderWizard>, index: number): Promise<void> {
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	await inputReady(wizard.stdin);
	for (let press = 1; press <= index; press++) {
		wizard.stdin.write(keys.down);
		await frameWhere(wizard.lastFrame, frame => pointedAt(frame) === providers[press]!.title);
	}

	wizard.stdin.write(keys.enter);
}

/** Erases `count` characters one key at a time, waiting for the field to show `left`. */
async function erase(wizard: ReturnType<typeof renderWizard>, count: number, left: string): Promise<void> {
	for (let press = 0; press < count; press++) {
		wizard.stdin.write(keys.backspace);
	}

	await frameWhere(wizard.lastFrame, frame => frame.split('\n').some(line => line.trim() === `> ${left}`.trim()));
}

const fieldLine = (frame: string) => frame.split('\n').find(line => line.trimStart().startsWith('>'))?.trim();

test('SSH: the wizard lists the agent\'s keys, the host typed for the chosen one is checked in place, and a good host grants that key', async t => {
	const {services, sshGrants} = fakeServices();
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	const first = await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	t.true(first.includes('SSH key') && first.includes('AWS role'), first);
	await chooseProvider(wizard, 5);

	const list = await frameWhere(wizard.lastFrame, frame => frame.includes('Which key of your SSH agent?'));
	t.true(list.includes('first@laptop  SHA256:firstfingerprint (ssh-ed25519)'), list);
	t.true(list.includes('second@laptop  SHA256:secondfingerprint (ssh-ed25519)'), list);
	t.true(list.includes('↑/↓ choose · enter select · esc back · q quit'), list);
	wizard.stdin.write(keys.down);
	await frameWhere(wizard.lastFrame, frame => pointedAt(frame)?.startsWith('second@laptop') === true);
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which host may the key second@laptop be used for?'));

	wizard.stdin.write('git@github.com');
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> git@github.com');
	wizard.stdin.write(keys.enter);
	const refused = await frameWhere(wizard.lastFrame, frame => frame.includes('✕'));
	t.true(refused.includes('✕ "git@github.com" is not a host name.'), refused);
	t.true(refused.includes('Type the host the key is for, as in github.com'), refused);
	t.is(fieldLine(refused), '> git@github.com', 'what was typed stays, to fix');
	t.true(refused.includes('enter to save · esc to go back'), refused);
	t.deepEqual(sshGrants, [], 'nothing is asked of the agent or saved for a bad host');

	// Fixing the text takes the error away; the fixed host is granted.
	wizard.stdin.write('x');
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> git@github.comx' && !frame.includes('✕'));
	await erase(wizard, 15, '');
	wizard.stdin.write('github.com');
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> github.com');
	wizard.stdin.write(keys.enter);
	const done = await frameWhere(wizard.lastFrame, frame => frame.includes('✓'));
	t.true(done.includes('✓ Granted ssh:github.com from SSH agent key second@laptop.'), done);
	t.true(done.includes('Saved encrypted in /home/user/.moat/credentials/ssh.enc (key in the key file).'), done);
	t.deepEqual(sshGrants, [{host: 'github.com', fingerprint: 'SHA256:secondfingerprint'}]);
	wizard.stdin.write('x');
	await until(() => wizard.finished.length > 0);
	t.is(wizard.finished[0]?.name, 'ssh:github.com');
});

test('SSH: esc on the host goes back to the keys with the same key highlighted, and esc there back to the providers', async t => {
	const {services, sshGrants} = fakeServices();
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await chooseProvider(wizard, 5);
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which key of your SSH agent?'));
	wizard.stdin.write(keys.down);
	await frameWhere(wizard.lastFrame, frame => pointedAt(frame)?.startsWith('second@laptop') === true);
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which host may the key second@laptop be used for?'));
	wizard.stdin.write('q');
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> q');
	t.deepEqual(wizard.finished, [], 'q in the host field is text');
	wizard.stdin.write(keys.escape);
	const back = await frameWhere(wizard.lastFrame, frame => frame.includes('Which key of your SSH agent?'));
	t.true(pointedAt(back)?.startsWith('second@laptop'), back);
	wizard.stdin.write(keys.escape);
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	t.deepEqual(sshGrants, []);
	t.deepEqual(wizard.finished, []);
});

for (const [what, message, hint] of [
	['no agent', 'No SSH agent: SSH_AUTH_SOCK is not set.', 'Start ssh-agent, add your key with ssh-add, and try again.'],
	['an agent with no key', 'The SSH agent holds no keys.', 'Add one with ssh-add, then try again.'],
] as const) {
	test(`SSH with ${what}: the wizard says so with the fix, offers no key, and esc goes back`, async t => {
		const {services, sshGrants} = fakeServices({
			async sshKeys() {
				throw new FakeUserError(message, hint);
			},
		});
		const wizard = renderWizard(services);
		t.teardown(wizard.unmount);
		await chooseProvider(wizard, 5);
		const said = await frameWhere(wizard.lastFrame, frame => frame.includes('✕'));
		t.true(said.includes(`✕ ${message}`), said);
		t.true(said.includes(hint), said);
		t.true(said.includes('esc to go back · q to quit'), said);
		t.false(said.includes('enter select'), 'there is nothing to select');
		t.is(pointedAt(said), undefined);
		wizard.stdin.write(keys.enter);
		wizard.stdin.write(keys.escape);
		await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
		t.deepEqual(sshGrants, []);
		t.deepEqual(wizard.finished, []);
	});
}

test('AWS: a bad role ARN and a bad region are each said in place, the region starts as the default, and the fixed pair is granted', async t => {
	const role = 'arn:aws:iam::123456789012:role/agent';
	const {services, awsGrants} = fakeServices();
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await chooseProvider(wizard, 4);
	await frameWhere(wizard.lastFrame, frame => frame.includes('AWS role runs may assume (its ARN)'));

	wizard.stdin.write('arn:aws:iam::123:role/agent');
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> arn:aws:iam::123:role/agent');
	wizard.stdin.write(keys.enter);
	const badRole = await frameWhere(wizard.lastFrame, frame => frame.includes('✕'));
	t.true(badRole.includes('✕ "arn:aws:iam::123:role/agent" is not an IAM role ARN.'), badRole);
	t.true(badRole.replaceAll(/\s+/g, ' ').includes('as in arn:aws:iam::123456789012:role/NAME.'), badRole);
	t.false(badRole.includes('AWS region'), 'the region is not asked before the role is right');
	t.true(badRole.includes('enter to go on · esc to go back'), 'the role is not the last step');

	await erase(wizard, 'arn:aws:iam::123:role/agent'.length, '');
	wizard.stdin.write(role);
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === `> ${role}`);
	wizard.stdin.write(keys.enter);
	const region = await frameWhere(wizard.lastFrame, frame => frame.includes(`AWS region for ${role}`));
	t.is(fieldLine(region), '> eu-west-1', 'the region moat grant aws would default to');
	t.true(region.includes('enter to save · esc to go back'), region);

	await erase(wizard, 'eu-west-1'.length, '');
	wizard.stdin.write('mars');
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> mars');
	wizard.stdin.write(keys.enter);
	const badRegion = await frameWhere(wizard.lastFrame, frame => frame.includes('✕'));
	t.true(badRegion.includes('✕ "mars" is not an AWS region.'), badRegion);
	t.true(badRegion.includes('as in us-east-1.'), badRegion);
	t.deepEqual(awsGrants, []);

	await erase(wizard, 'mars'.length, '');
	wizard.stdin.write('us-east-2');
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> us-east-2' && !frame.includes('✕'));
	wizard.stdin.write(keys.enter);
	const done = await frameWhere(wizard.lastFrame, frame => frame.includes('✓'));
	t.true(done.includes(`✓ Granted aws (as ${role}) from role to assume.`), done);
	t.true(done.includes('Saved encrypted in /home/user/.moat/credentials/aws.enc (key in the system keychain).'), done);
	t.deepEqual(awsGrants, [{roleArn: role, region: 'us-east-2'}]);
});

test('AWS: a role STS refuses is said at the region with what was typed; esc goes back to the role as typed, and again to the providers', async t => {
	const role = 'arn:aws:iam::123456789012:role/agent';
	const {services, awsGrants} = fakeServices({
		async grantAws() {
			throw new FakeUserError(`AWS refused to let these credentials assume ${role}: not authorized to perform sts:AssumeRole.`, 'Check the role\'s trust policy and the external id, or pass --no-validate.');
		},
	});
	const wizard = renderWizard(services);
	t.teardown(wizard.unmount);
	await chooseProvider(wizard, 4);
	await frameWhere(wizard.lastFrame, frame => frame.includes('AWS role runs may assume (its ARN)'));
	wizard.stdin.write(role);
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === `> ${role}`);
	wizard.stdin.write(keys.enter);
	await frameWhere(wizard.lastFrame, frame => fieldLine(frame) === '> eu-west-1');
	wizard.stdin.write(keys.enter);
	const refused = await frameWhere(wizard.lastFrame, frame => frame.includes('✕'));
	t.true(refused.replaceAll(/\s+/g, ' ').includes(`✕ AWS refused to let these credentials assume ${role}: not authorized to perform sts:AssumeRole.`), refused);
	t.true(refused.includes('Check the role\'s trust policy'), refused);
	t.is(fieldLine(refused), '> eu-west-1');
	t.deepEqual(awsGrants, [{roleArn: role, region: 'eu-west-1'}]);

	wizard.stdin.write(keys.escape);
	const roleAgain = await frameWhere(wizard.lastFrame, frame => frame.includes('AWS role runs may assume (its ARN)'));
	t.is(fieldLine(roleAgain), `> ${role}`);
	wizard.stdin.write(keys.escape);
	await frameWhere(wizard.lastFrame, frame => frame.includes('Which credential should runs be able to use?'));
	t.deepEqual(wizard.finished, []);
});

for (const [provider, index] of [['AWS', 4], ['SSH', 5]] as const) {
	test(`Ctrl+C in the ${provider} steps leaves as interrupted with nothing saved`, async t => {
		const {services, sshGrants, awsGrants} = fakeServices();
		const wizard = renderWizard(services);
		t.teardown(wizard.unmount);
		await chooseProvider(wizard, index);
		await frameWhere(wizard.lastFrame, frame => frame.includes(provider === 'AWS' ? 'AWS role runs may assume' : 'Which key of your SSH agent?'));
		wizard.stdin.write('\u0003');
		await until(() => wizard.finished.length > 0);
		t.deepEqual(wizard.finished, [undefined]);
		t.deepEqual(wizard.interruptions, [true]);
		t.deepEqual([...sshGrants, ...awsGrants], []);
	});
}
