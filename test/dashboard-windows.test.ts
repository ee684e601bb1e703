import test from 'ava';
import {paneWindow} from '../components/detail-pane.js';
import {tableWindow} from '../components/run-table.js';

test('paneWindow puts the cursor offset lines above the newest and keeps it on the last row shown when it can', t => {
	const cases: Array<[total: number, height: number, offset: number, start: number, cursor: number]> = [
		[0, 5, 0, 0, 0],
		[0, 5, 3, 0, 0],
		[3, 5, 0, 0, 2],
		[3, 5, 2, 0, 0],
		[10, 3, 0, 7, 9],
		[10, 3, 1, 6, 8],
		[10, 3, 5, 2, 4],
		[10, 3, 8, 0, 1],
		[10, 3, 9, 0, 0],
		[10, 3, 100, 0, 0],
		[10, 3, Number.MAX_SAFE_INTEGER, 0, 0],
		[10, 1, 3, 6, 6],
	];
	for (const [total, height, offset, start, cursor] of cases) {
		t.deepEqual(paneWindow(total, height, offset), {start, cursor}, `${total} lines, ${height} rows, offset ${offset}`);
	}
});

test('paneWindow always shows the cursor and never scrolls past either end', t => {
	for (let total = 1; total <= 12; total++) {
		for (let height = 1; height <= 6; height++) {
			for (let offset = 0; offset <= 15; offset++) {
				const {start, cursor} = paneWindow(total, height, offset);
				const label = `${total}/${height}/${offset}`;
				t.true(cursor >= start && cursor < start + height, label);
				t.true(cursor < total, label);
				t.true(start >= 0 && start <= Math.max(0, total - height), label);
			}
		}
	}
});

test('tableWindow keeps the selected row in view, centred when it can, without empty rows at the end', t => {
	const cases: Array<[total: number, height: number, selected: number, start: number]> = [
		[0, 4, 0, 0],
		[3, 4, 0, 0],
		[3, 4, 2, 0],
		[10, 4, 0, 0],
		[10, 4, 1, 0],
		[10, 4, 5, 4],
		[10, 4, 8, 7],
		[10, 4, 9, 7],
		[10, 1, 5, 5],
		[10, 6, 5, 3],
	];
	for (const [total, height, selected, start] of cases) {
		t.is(tableWindow(total, height, selected), start, `${total} runs, height ${height}, selected ${selected}`);
	}
});

test('tableWindow always shows the selected run', t => {
	for (let total = 1; total <= 12; total++) {
		for (let height = 2; height <= 8; height++) {
			for (let selected = 0; selected < total; selected++) {
				const start = tableWindow(total, height, selected);
				const rows = height - 1;
				t.true(selected >= start && selected < start + rows, `${total}/${height}/${selected}`);
				t.true(start <= Math.max(0, total - rows), `${total}/${height}/${selected}`);
			}
		}
	}
});
