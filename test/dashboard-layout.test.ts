import test from 'ava';
import {dashboardLayout} from '../components/dashboard-layout.js';
import {hintLine, keyBindings, type KeyFocus} from '../components/key-bindings.js';
import {tableColumns} from '../components/run-table.js';

const titles = (width: number) => tableColumns(width).map(column => column.title);

for (const [width, expected] of [
	[160, ['NAME', 'AGENT', 'STATE', 'RUN ID', 'AGE', 'REQ', 'BLK', 'SERVICES', 'GRANTS', 'LIMITS']],
	[120, ['NAME', 'AGENT', 'STATE', 'RUN ID', 'AGE', 'REQ', 'BLK', 'SERVICES', 'GRANTS', 'LIMITS']],
	[100, ['NAME', 'AGENT', 'STATE', 'RUN ID', 'AGE', 'REQ', 'BLK', 'SERVICES', 'GRANTS']],
	// 80×24: what the network did stays; what the run was given gives way (no S… left behind).
	[80, ['NAME', 'AGENT', 'STATE', 'RUN ID', 'AGE', 'REQ', 'BLK']],
	[70, ['NAME', 'AGENT', 'STATE', 'RUN ID', 'AGE', 'BLK']],
	// 60×15: the age stays; the agent and the counts give way.
	[60, ['NAME', 'STATE', 'RUN ID', 'AGE']],
	[40, ['NAME', 'STATE', 'AGE']],
	[20, ['NAME']],
] as const) {
	test(`tableColumns: ${width} columns show ${expected.join(' ')}`, t => {
		t.deepEqual(titles(width), [...expected]);
	});
}

test('tableColumns: the columns never add up to more than the width, and no title is cut', t => {
	for (let width = 20; width <= 200; width++) {
		const columns = tableColumns(width);
		t.true(4 + columns.reduce((total, column) => total + column.width, 0) <= width, `${width}`);
		for (const column of columns) {
			t.true(column.width > column.title.length, `${column.title} at ${width}`);
		}
	}
});

test('tableColumns: the room left goes to the name first, up to 20', t => {
	t.is(tableColumns(80).find(column => column.key === 'name')!.width, 20);
	t.is(tableColumns(60).find(column => column.key === 'name')!.width, 20);
	t.is(tableColumns(40).find(column => column.key === 'name')!.width, 17);
});

for (const focus of ['table', 'pane', 'filter'] as const satisfies readonly KeyFocus[]) {
	for (const width of [200, 100, 80, 60, 40]) {
		test(`hintLine: in the ${focus} at ${width} columns, whole hints that fit, ${focus === 'filter' ? 'how to keep and clear the filter' : 'help and quit'} always among them`, t => {
			const line = hintLine(focus, width);
			const hints = line.split(' · ');
			const all = keyBindings.filter(binding => binding.hint && binding.focus.includes(focus)).map(binding => `${binding.label} ${binding.hint!}`);
			for (const hint of hints) {
				t.true(all.includes(hint), `"${hint}" is a whole hint`);
			}

			t.true(line.length <= width || hints.length === 2, line);
			// Typing a filter, ? and q are letters of it.
			t.deepEqual(hints.slice(0, 2), focus === 'filter' ? ['enter keep the filter', 'esc clear it'] : hints.slice(0, 2));
			if (focus !== 'filter') {
				t.deepEqual(hints.slice(-2), ['? help', 'q quit']);
			}

			if (width >= 200) {
				t.deepEqual(hints, all, 'with room, every hint');
			}
		});
	}
}

test('hintLine: at 80 columns the table keeps attach, new, stop, the panes and the filter', t => {
	t.is(hintLine('table', 80), 'enter attach · n new · s stop · tab panes · / filter · ? help · q quit');
});

test('hintLine: while a filter is typed, the bar says how to keep it and clear it', t => {
	t.is(hintLine('filter', 80), 'enter keep the filter · esc clear it · Ctrl-U erase');
});

const layoutCases = [
	{rows: 24, problems: 0, error: false, runs: 3, expected: {problems: 0, tableHeight: 4, paneHeight: 17}},
	{rows: 24, problems: 0, error: false, runs: 40, expected: {problems: 0, tableHeight: 8, paneHeight: 13}},
	{rows: 24, problems: 2, error: true, runs: 40, expected: {problems: 2, tableHeight: 6, paneHeight: 10}},
	{rows: 15, problems: 0, error: false, runs: 9, expected: {problems: 0, tableHeight: 4, paneHeight: 8}},
	// No runs: the line that says how to start one may wrap onto a second row.
	{rows: 24, problems: 0, error: false, runs: 0, expected: {problems: 0, tableHeight: 2, paneHeight: 19}},
	// Too small for the problems: the table and the pane keep two rows each.
	{rows: 9, problems: 3, error: false, runs: 5, expected: {problems: 1, tableHeight: 2, paneHeight: 2}},
	{rows: 5, problems: 1, error: true, runs: 5, expected: {problems: 0, tableHeight: 1, paneHeight: 0}},
] as const;

for (const {expected, ...input} of layoutCases) {
	test(`dashboardLayout: ${JSON.stringify(input)} → ${JSON.stringify(expected)}`, t => {
		t.deepEqual(dashboardLayout(input), expected);
	});
}

test('dashboardLayout: the frame is never taller than the terminal', t => {
	for (let rows = 5; rows <= 80; rows++) {
		for (const problems of [0, 1, 3]) {
			for (const runs of [0, 1, 10, 500]) {
				for (const error of [false, true]) {
					const layout = dashboardLayout({rows, problems, error, runs});
					const used = 3 + (error ? 1 : 0) + (layout.problems * 2) + layout.tableHeight + layout.paneHeight;
					t.true(used <= rows, JSON.stringify({rows, problems, runs, error, layout}));
					t.true(layout.tableHeight >= 0 && layout.paneHeight >= 0);
				}
			}
		}
	}
});
