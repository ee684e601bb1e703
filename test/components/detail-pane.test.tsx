import {stripVTControlCharacters} from 'node:util';
import test from 'ava';
import chalk from 'chalk';
import {render} from 'ink-testing-library';
import type {Pane} from '../../components/dashboard-reducer.js';
import {DetailPane, type LoadedPane} from '../../components/detail-pane.js';

// The test terminal is not a TTY, so Ink would drop colours; the alert and the cursor are colours.
chalk.level = 1;

const red = '\u001B[31m';
const inverse = '\u001B[7m';

function paneLines(props: {pane?: Pane; content: LoadedPane | undefined; height?: number; focused?: boolean; follow?: boolean; offset?: number}): string[] {
	const {lastFrame, unmount} = render(<DetailPane pane={props.pane ?? 'logs'} content={props.content} height={props.height ?? 6} width={80} focused={props.focused ?? true} follow={props.follow ?? true} offset={props.offset ?? 0} />);
	const frame = lastFrame() ?? '';
	unmount();
	return frame.split('\n');
}

const plain = (lines: string[]) => lines.map(line => stripVTControlCharacters(line).trimEnd());
const numbered = (count: number): LoadedPane => ({lines: Array.from({length: count}, (_, index) => ({text: `line ${index + 1}`})), summary: `${count} lines`});

test('the title names every pane, says whether it follows, and shows the summary', t => {
	const [title] = plain(paneLines({content: numbered(2)}));
	t.is(title, ' Preview  Logs  Network  Audit   following · 2 lines');
	const [off] = plain(paneLines({content: numbered(2), follow: false}));
	t.is(off, ' Preview  Logs  Network  Audit   follow off (f) · 2 lines');
});

test('the pane says Loading… before its first read, and what is missing when there are no lines', t => {
	t.is(plain(paneLines({content: undefined}))[1], 'Loading…');
	const empty: Record<Pane, string> = {
		preview: 'No screen to show: the run is not running with a terminal.',
		logs: 'No output yet.',
		network: 'No requests yet.',
		audit: 'No audit entries yet.',
	};
	for (const [pane, text] of Object.entries(empty) as Array<[Pane, string]>) {
		t.is(plain(paneLines({pane, content: {lines: []}}))[1], text, pane);
	}
});

test('following, the pane shows the newest lines that fit; with an offset it shows older ones', t => {
	t.deepEqual(plain(paneLines({content: numbered(20), height: 4})).slice(1, 4), ['line 18', 'line 19', 'line 20']);
	t.deepEqual(plain(paneLines({content: numbered(20), height: 4, follow: false, offset: 5})).slice(1, 4), ['line 13', 'line 14', 'line 15']);
	t.deepEqual(plain(paneLines({content: numbered(20), height: 4, follow: true, offset: 5})).slice(1, 4), ['line 18', 'line 19', 'line 20'], 'following ignores a stale offset');
});

test('alert lines (blocked requests, stderr) are red and the others are not', t => {
	const lines = paneLines({pane: 'network', focused: false, content: {lines: [{text: '200 GET https://api.github.com/'}, {text: '✕ 403 GET https://evil.example/', alert: true}]}});
	const blocked = lines.find(line => line.includes('evil.example')) ?? '';
	const allowed = lines.find(line => line.includes('api.github.com')) ?? '';
	t.true(blocked.includes(red));
	t.false(allowed.includes(red));
});

test('a focused Logs, Network or Audit pane highlights the cursor line; Preview and an unfocused pane do not', t => {
	const highlighted = (lines: string[]) => plain(lines.filter(line => line.includes(inverse) && !line.includes('Preview')));
	const content = numbered(5);
	for (const pane of ['logs', 'network', 'audit'] as const) {
		t.deepEqual(highlighted(paneLines({pane, content, height: 6, follow: false, offset: 2})), ['line 3'], pane);
	}

	t.deepEqual(highlighted(paneLines({pane: 'logs', content, height: 6})), ['line 5'], 'following: the newest line');
	t.deepEqual(highlighted(paneLines({pane: 'preview', content, height: 6})), []);
	t.deepEqual(highlighted(paneLines({pane: 'logs', content, height: 6, focused: false})), []);
});
