import test from 'ava';
import {render} from 'ink-testing-library';
import {NewRunDialog} from '../../components/new-run-dialog.js';
import {ServicesContext, type DashboardServices, type NewRunRequest} from '../../components/services-context.js';
import {frameWhere, inputReady} from '../helpers/ink-frames.js';

const keys = {down: '\u001B[B', tab: '\t', escape: '\u001B', enter: '\r', clearLine: '\u0015'} as const;

function renderDialog(actions: Partial<DashboardServices>) {
	const services: DashboardServices = {listRuns: async () => [], stopRun: async () => undefined, destroyRun: async () => undefined, now: () => new Date(), ...actions};
	const record = {started: [] as NewRunRequest[], cancelled: 0};
	const instance = render(
		<ServicesContext.Provider value={services}>
			<NewRunDialog cwd="/work/project" onStart={async request => {
				record.started.push(request);
			}} onCancel={() => {
				record.cancelled++;
			}} />
		</ServicesContext.Provider>,
	);
	return {...instance, record};
}

async function typeWorkspace(stdin: {write(data: string): void}, lastFrame: () => string | undefined, text: string): Promise<void> {
	stdin.write(keys.down);
	await frameWhere(lastFrame, frame => frame.includes('› Workspace'));
	stdin.write(keys.clearLine);
	await frameWhere(lastFrame, frame => /› Workspace\s+▏/.test(frame));
	stdin.write(text);
	await frameWhere(lastFrame, frame => frame.includes(`${text}▏`));
}

test('tab in the workspace asks for completions of what is typed and completes the one folder', async t => {
	const asked: string[] = [];
	const {lastFrame, stdin, unmount, record} = renderDialog({
		async completePath(partial) {
			asked.push(partial);
			return partial === '/work/pr' ? ['/work/project-a/'] : [];
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, frame => frame.includes('New bottle'));
	await inputReady(stdin);
	await typeWorkspace(stdin, lastFrame, '/work/pr');
	stdin.write(keys.tab);
	await frameWhere(lastFrame, frame => frame.includes('/work/project-a/▏'));
	t.deepEqual(asked, ['/work/pr']);
	stdin.write(keys.enter);
	await frameWhere(lastFrame, () => record.started.length > 0);
	t.is(record.started[0]?.workspace, '/work/project-a/');
});

test('tab with several folders and nothing in common to add lists them; with none it says so', async t => {
	const {lastFrame, stdin, unmount} = renderDialog({
		async completePath(partial) {
			return partial === '/work/p' ? ['/work/pa/', '/work/pb/'] : [];
		},
	});
	t.teardown(unmount);
	await frameWhere(lastFrame, frame => frame.includes('New bottle'));
	await inputReady(stdin);
	await typeWorkspace(stdin, lastFrame, '/work/p');
	stdin.write(keys.tab);
	await frameWhere(lastFrame, frame => frame.includes('✕ /work/pa/  /work/pb/'));
	stdin.write('x');
	await frameWhere(lastFrame, frame => frame.includes('/work/px▏') && !frame.includes('/work/pa/'));
	stdin.write(keys.tab);
	const frame = await frameWhere(lastFrame, frame => frame.includes('✕ No folder starts with that.'));
	t.regex(frame, /Workspace\s+\/work\/px▏/, 'nothing to complete leaves the text as typed');
});

test('esc cancels the dialog without starting anything', async t => {
	const {lastFrame, stdin, unmount, record} = renderDialog({});
	t.teardown(unmount);
	await frameWhere(lastFrame, frame => frame.includes('New bottle'));
	await inputReady(stdin);
	stdin.write(keys.escape);
	await frameWhere(lastFrame, () => record.cancelled > 0);
	t.deepEqual(record, {started: [], cancelled: 1});
});
