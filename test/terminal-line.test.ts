import test from 'ava';
import {plainTerminalLine} from '../source/terminal/terminal-line.js';

const cases: Array<[title: string, line: string, shown: string]> = [
	['plain text passes unchanged', 'hello world', 'hello world'],
	['colours are dropped', '\u001B[31mred\u001B[0m and \u001B[1;32mgreen\u001B[m', 'red and green'],
	['a cursor moved right leaves blanks (Claude Code draws spaces this way)', '●\u001B[1CHello\u001B[1Cfrom\u001B[2Cthe\u001B[Cstand-in!', '● Hello from  the stand-in!'],
	['a carriage return redraws over what was there', 'progress 10%\rprogress 100%', 'progress 100%'],
	['a shorter redraw keeps the rest of the old text, as the screen does', 'abcdef\rXY', 'XYcdef'],
	['erase to the end of the line after a redraw clears the rest', 'abcdef\rXY\u001B[K', 'XY'],
	['a bash prompt redrawn after bracketed paste reads once', '\u001B[?2004hbash$ \r\u001B[Kbash$ echo hi', 'bash$ echo hi'],
	['a cursor moved left writes over', 'abc\u001B[2DX', 'aXc'],
	['a move to a column writes there', 'ab\u001B[6Gz', 'ab   z'],
	['backspace steps back', 'ab\bc', 'ac'],
	['tabs go to the next multiple of 8', 'a\tb', 'a       b'],
	['erase characters blanks without moving', 'abcdef\u001B[3D\u001B[2X', 'abc  f'],
	['delete characters pulls the rest left', 'abcdef\u001B[4D\u001B[2P', 'abef'],
	['a window title (OSC) shows nothing', '\u001B]0;my title\u0007text\u001B]2;other\u001B\\', 'text'],
	['a character-set switch shows nothing', '\u001B(Btext\u001B(0', 'text'],
	['other controls show nothing', 'a\u0007b\u0000c', 'abc'],
	['an emoji is one character', '🦀\u001B[1Cx', '🦀 x'],
	['trailing erased cells are not blanks', 'abc   \u001B[3D\u001B[K', 'abc'],
	['an empty line stays empty', '', ''],
];

for (const [title, line, shown] of cases) {
	test(`plainTerminalLine: ${title}`, t => {
		t.is(plainTerminalLine(line), shown);
	});
}
