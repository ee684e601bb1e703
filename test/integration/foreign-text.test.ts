import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {createSandbox, createWorkspace, moat, type MoatResult, type Sandbox} from '../helpers/moat.js';

/**
 * Text moat did not write reaches the terminal with its control characters
 * shown as escapes: an agent that writes `\e]52;c;…\a` into agent.yaml must
 * not set the user's clipboard or title through moat's error. Each case runs
 * the real CLI on one path such text takes (no engine is needed: each is
 * refused, or only read, before one is asked), and checks that no control,
 * C1 or bidi character is in the output while the escaped form is.
 */

/** The attack: OSC 52 (write the clipboard) and OSC 0 (set the title), each ended by BEL. */
const clipboard = '\u001B]52;c;aGk=\u0007';
const clipboardShown = String.raw`\x1b]52;c;aGk=\x07`;
const title = '\u001B]0;pwned\u0007';
const titleShown = String.raw`\x1b]0;pwned\x07`;

const unsafe = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

function assertShownEscaped(t: ExecutionContext, result: MoatResult, shown: string): void {
	const output = result.stdout + result.stderr;
	t.false(unsafe.test(output), `a control character reached the terminal: ${JSON.stringify(output)}`);
	t.true(output.includes(shown), `the escaped form ${shown} is shown: ${JSON.stringify(output)}`);
}

type World = {sandbox: Sandbox; workspace: string};

async function createWorld(t: ExecutionContext, files: Record<string, string> = {}): Promise<World> {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, files);
	sandbox.env.MOAT_KEYRING_BACKEND = 'file';
	t.teardown(async () => {
		await sandbox.cleanup();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {sandbox, workspace};
}

// YAML's double-quoted strings spell ESC and BEL as \e and \a, as an agent would write them.
const yamlClipboard = String.raw`"\e]52;c;aGk=\a"`;
const yamlTitle = String.raw`"\e]0;pwned\a"`;

const configCases: Array<{title: string; yaml: string; code: number; message: RegExp; shown: string}> = [
	{
		title: 'an agent.yaml key',
		yaml: `${yamlClipboard}: 1\n`,
		code: 2,
		message: /^moat: agent\.yaml:1:1: unknown key "\\x1b\]52;c;aGk=\\x07"\.$/m,
		shown: clipboardShown,
	},
	{
		title: 'a key under env in agent.yaml',
		yaml: `env:\n  ${yamlTitle}: x\n`,
		code: 2,
		message: /^moat: agent\.yaml:2:3: "env\.\\x1b\]0;pwned\\x07" is not a valid environment variable name/m,
		shown: titleShown,
	},
	{
		title: 'an agent.yaml value (a dependency)',
		yaml: `dependencies: [${yamlTitle}]\n`,
		code: 2,
		message: /^moat: Unknown dependency "\\x1b\]0;pwned\\x07"\.$/m,
		shown: titleShown,
	},
	{
		title: 'a mount path in agent.yaml',
		yaml: String.raw`mounts: ["./a\e]0;pwned\a:/data"]` + '\n',
		code: 2,
		message: /^moat: Mount source .*\/a\\x1b\]0;pwned\\x07 \(agent\.yaml\) does not exist\.$/m,
		shown: titleShown,
	},
	{
		title: 'a grant name in agent.yaml',
		yaml: String.raw`grants: ["github\e]0;pwned\a"]` + '\n',
		code: 4,
		message: /^moat: The run asks for the github\\x1b\]0;pwned\\x07 grant, and there is none\.$/m,
		shown: titleShown,
	},
	{
		title: 'a secret reference in agent.yaml',
		yaml: String.raw`secrets: {TOKEN: "op://vault/item/\e]52;c;aGk=\a"}` + '\n',
		code: 2,
		message: /^moat: agent\.yaml asks for the secret op:\/\/vault\/item\/\\x1b\]52;c;aGk=\\x07, which this workspace has not used before\.$/m,
		shown: clipboardShown,
	},
	{
		title: 'a bidi override in an agent.yaml key',
		yaml: String.raw`"gra\u202Ents": 1` + '\n',
		code: 2,
		message: /^moat: agent\.yaml:1:1: unknown key "gra\\u202ents"\.$/m,
		shown: String.raw`gra\u202ents`,
	},
	{
		title: 'the name of an anchor an alias in agent.yaml does not find',
		yaml: String.raw`name: *a` + '\u202E\n',
		code: 2,
		message: /^moat: agent\.yaml:1:7: invalid YAML: alias \*a\\u202e has no anchor &a\\u202e before it$/m,
		shown: String.raw`\u202e`,
	},
];

for (const testCase of configCases) {
	test(`${testCase.title} is quoted with its control characters escaped (exit ${testCase.code})`, async t => {
		const {sandbox, workspace} = await createWorld(t, {'agent.yaml': testCase.yaml});
		const result = await moat(['run', workspace, '--', 'true'], {env: sandbox.env});
		t.is(result.code, testCase.code, result.stderr);
		t.regex(result.stderr, testCase.message);
		assertShownEscaped(t, result, testCase.shown);
	});
}

test('a run name given with -n is quoted with its control characters escaped', async t => {
	const {sandbox, workspace} = await createWorld(t);
	const result = await moat(['run', workspace, '-n', `web${title}`, '--', 'true'], {env: sandbox.env});
	t.is(result.code, 2, result.stderr);
	t.regex(result.stderr, /^moat: Run name "web\\x1b\]0;pwned\\x07" is not valid\.$/m);
	assertShownEscaped(t, result, titleShown);
});

test('a run name taken from the workspace folder is quoted with its control characters escaped', async t => {
	const {sandbox, workspace} = await createWorld(t);
	const folder = path.join(workspace, `project${clipboard}`);
	await fs.mkdir(folder);
	await fs.chown(folder, 1000, 1000);
	const result = await moat(['run', folder, '--', 'true'], {env: sandbox.env});
	t.is(result.code, 2, result.stderr);
	t.regex(result.stderr, /^moat: Run name "project\\x1b\]52;c;aGk=\\x07" is not valid\.$/m);
	assertShownEscaped(t, result, clipboardShown);
});

test('a workspace path is quoted with its control characters and line breaks escaped', async t => {
	const {sandbox, workspace} = await createWorld(t);
	const result = await moat(['run', path.join(workspace, `missing${title}\nmoat: all good`), '--', 'true'], {env: sandbox.env});
	t.is(result.code, 2, result.stderr);
	// A line break in the path cannot forge a line of moat's own.
	t.is(result.stderr.trimEnd().split('\n').length, 2, result.stderr);
	t.regex(result.stderr, /^moat: Workspace .*\/missing\\x1b\]0;pwned\\x07\\nmoat: all good does not exist\.$/m);
	assertShownEscaped(t, result, titleShown);
});

test('a host given to moat grant ssh is quoted with its control characters escaped', async t => {
	const {sandbox} = await createWorld(t);
	const result = await moat(['grant', 'ssh', '--host', `github.com${clipboard}`], {env: sandbox.env});
	t.is(result.code, 2, result.stderr);
	t.regex(result.stderr, /^moat: "github\.com\\x1b\]52;c;aGk=\\x07" is not a host name\.$/m);
	assertShownEscaped(t, result, clipboardShown);
});

test('a run reference that matches nothing is quoted with its control characters escaped', async t => {
	const {sandbox} = await createWorld(t);
	const result = await moat(['logs', `web${title}`], {env: sandbox.env});
	t.is(result.code, 4, result.stderr);
	t.regex(result.stderr, /^moat: No run matches "web\\x1b\]0;pwned\\x07"\.$/m);
	assertShownEscaped(t, result, titleShown);
});

/** A stopped run as a run directory holds it, with foreign text in its name, workspace and error, and requests in network.jsonl. */
async function writeRun(sandbox: Sandbox): Promise<string> {
	const id = 'run_abc000000001';
	const directory = path.join(sandbox.moatHome, 'runs', id);
	await fs.mkdir(directory, {recursive: true});
	await fs.writeFile(path.join(directory, 'metadata.json'), JSON.stringify({
		id, name: `web${title}`, workspace: path.join(os.tmpdir(), `w${clipboard}`), agent: null, image: 'x', command: ['true'], grants: [], ports: {}, mounts: [],
		environmentNames: [], containerId: null, state: 'failed', interactive: false, keep: false,
		createdAt: '2026-01-01T00:00:00.000Z', startedAt: null, stoppedAt: '2026-01-01T00:00:01.000Z', exitCode: null,
		error: `engine said ${clipboard} \u009B2J \u202Eevil`, stopRequested: false,
	}));
	const entry = (url: string, error: string | null) => JSON.stringify({
		ts: '2026-01-01T00:00:00.500Z', method: 'GET', url, status: 403, duration_ms: 1, bytes_in: 0, bytes_out: 0, grant: null, blocked: true, error,
	});
	await fs.writeFile(path.join(directory, 'network.jsonl'), [
		entry(`https://evil${clipboard}.example/`, 'not allowed'),
		entry('https://api.example.com/', `upstream said ${title}`),
	].join('\n') + '\n');
	return id;
}

test('moat list shows a run\'s name with its control characters escaped, in the table and in --json', async t => {
	const {sandbox} = await createWorld(t);
	await writeRun(sandbox);
	const table = await moat(['list'], {env: sandbox.env});
	t.is(table.code, 0, table.stderr);
	t.regex(table.stdout, /^web\\x1b\]0;pwned\\x07 +run_abc000000001/m);
	assertShownEscaped(t, table, titleShown);

	const json = await moat(['list', '--json'], {env: sandbox.env});
	t.is(json.code, 0, json.stderr);
	t.false(unsafe.test(json.stdout.replaceAll('\n', '')), json.stdout);
	// JSON's own escapes: the same values for a program, inert on a terminal.
	const [run] = JSON.parse(json.stdout) as Array<{name: string; error: string}>;
	t.is(run!.name, `web${title}`);
	t.is(run!.error, `engine said ${clipboard} \u009B2J \u202Eevil`);
	t.true(json.stdout.includes(String.raw`\u009b2J \u202eevil`));
});

test('moat trace shows the hosts and errors of a run\'s requests with their control characters escaped, in text and in --json', async t => {
	const {sandbox} = await createWorld(t);
	const id = await writeRun(sandbox);
	const text = await moat(['trace', id], {env: sandbox.env});
	t.is(text.code, 0, text.stderr);
	t.regex(text.stdout, /GET https:\/\/evil\\x1b\]52;c;aGk=\\x07\.example\/ 403/);
	t.regex(text.stdout, /BLOCKED \(upstream said \\x1b\]0;pwned\\x07\)/);
	assertShownEscaped(t, text, clipboardShown);

	const json = await moat(['trace', id, '--json'], {env: sandbox.env});
	t.is(json.code, 0, json.stderr);
	t.false(unsafe.test(json.stdout.replaceAll('\n', '')), json.stdout);
	t.is((JSON.parse(json.stdout) as Array<{url: string}>)[0]!.url, `https://evil${clipboard}.example/`);
});
