/**
 * Turns a real terminal screen — `tmux capture-pane -e -p`, text with SGR
 * colour sequences — into an SVG for the README, cell by cell, so the
 * pictures are what moat drew and never a mock-up.
 */

type Style = {fg?: string; bg?: string; bold: boolean; dim: boolean; inverse: boolean};
type Cell = {char: string; style: Style};

const palette = ['#45475a', '#f38ba8', '#a6e3a1', '#f9e2af', '#89b4fa', '#f5c2e7', '#94e2d5', '#bac2de', '#585b70', '#f38ba8', '#a6e3a1', '#f9e2af', '#89b4fa', '#f5c2e7', '#94e2d5', '#a6adc8'];
const foreground = '#cdd6f4';
const background = '#1e1e2e';

function color256(index: number): string {
	if (index < 16) {
		return palette[index]!;
	}

	if (index >= 232) {
		const level = 8 + ((index - 232) * 10);
		return `rgb(${level},${level},${level})`;
	}

	const value = index - 16;
	const channel = (n: number) => (n === 0 ? 0 : 55 + (n * 40));
	return `rgb(${channel(Math.floor(value / 36))},${channel(Math.floor(value / 6) % 6)},${channel(value % 6)})`;
}

function applySgr(style: Style, parameters: number[]): Style {
	const next = {...style};
	for (let index = 0; index < parameters.length; index++) {
		const code = parameters[index]!;
		if (code === 0) {
			Object.assign(next, {fg: undefined, bg: undefined, bold: false, dim: false, inverse: false});
		} else if (code === 1) {
			next.bold = true;
		} else if (code === 2) {
			next.dim = true;
		} else if (code === 22) {
			next.bold = false;
			next.dim = false;
		} else if (code === 7) {
			next.inverse = true;
		} else if (code === 27) {
			next.inverse = false;
		} else if (code >= 30 && code <= 37) {
			next.fg = palette[code - 30];
		} else if (code >= 90 && code <= 97) {
			next.fg = palette[code - 90 + 8];
		} else if (code === 39) {
			next.fg = undefined;
		} else if (code >= 40 && code <= 47) {
			next.bg = palette[code - 40];
		} else if (code >= 100 && code <= 107) {
			next.bg = palette[code - 100 + 8];
		} else if (code === 49) {
			next.bg = undefined;
		} else if ((code === 38 || code === 48) && parameters[index + 1] === 5) {
			next[code === 38 ? 'fg' : 'bg'] = color256(parameters[index + 2] ?? 0);
			index += 2;
		} else if ((code === 38 || code === 48) && parameters[index + 1] === 2) {
			next[code === 38 ? 'fg' : 'bg'] = `rgb(${parameters[index + 2] ?? 0},${parameters[index + 3] ?? 0},${parameters[index + 4] ?? 0})`;
			index += 4;
		}
	}

	return next;
}

/** The screen as rows of styled cells. */
export function parseScreen(text: string): Cell[][] {
	let style: Style = {bold: false, dim: false, inverse: false};
	return text.replace(/\n$/, '').split('\n').map(line => {
		const cells: Cell[] = [];
		for (const part of line.split(/(\u001B\[[\d;:]*[A-Za-z])/)) {
			const sgr = /^\u001B\[([\d;:]*)m$/.exec(part);
			if (sgr) {
				style = applySgr(style, sgr[1] === '' ? [0] : sgr[1]!.split(/[;:]/).map(Number));
			} else if (!part.startsWith('\u001B')) {
				for (const char of part) {
					cells.push({char, style});
				}
			}
		}

		return cells;
	});
}

const escapeXml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** An SVG of the screen in a window frame with a caption. */
export function screenToSvg(text: string, caption: string, columns: number): string {
	const rows = parseScreen(text);
	const cellWidth = 8.4;
	const lineHeight = 18;
	const top = 36;
	const width = Math.ceil((columns * cellWidth) + 32);
	const height = top + (rows.length * lineHeight) + 12;
	const out: string[] = [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">`,
		`<rect width="${width}" height="${height}" rx="8" fill="${background}"/>`,
		'<circle cx="20" cy="18" r="6" fill="#f38ba8"/><circle cx="40" cy="18" r="6" fill="#f9e2af"/><circle cx="60" cy="18" r="6" fill="#a6e3a1"/>',
		`<text x="${width / 2}" y="22" fill="#9399b2" text-anchor="middle" font-size="12">${escapeXml(caption)}</text>`,
	];
	for (const [rowIndex, cells] of rows.entries()) {
		const y = top + (rowIndex * lineHeight);
		// Backgrounds first (inverse swaps the colours), then the text in runs of one style.
		for (const [column, cell] of cells.entries()) {
			const fill = cell.style.inverse ? (cell.style.fg ?? foreground) : cell.style.bg;
			if (fill) {
				out.push(`<rect x="${(16 + (column * cellWidth)).toFixed(1)}" y="${y}" width="${cellWidth + 0.2}" height="${lineHeight}" fill="${fill}"/>`);
			}
		}

		const spans: string[] = [];
		let column = 0;
		while (column < cells.length) {
			const {style} = cells[column]!;
			let end = column;
			let chunk = '';
			while (end < cells.length && cells[end]!.style === style) {
				chunk += cells[end]!.char;
				end++;
			}

			if (chunk.trim() !== '') {
				const fill = style.inverse ? (style.bg ?? background) : (style.fg ?? foreground);
				spans.push(`<tspan x="${(16 + (column * cellWidth)).toFixed(1)}" fill="${fill}"${style.bold ? ' font-weight="bold"' : ''}${style.dim ? ' fill-opacity="0.6"' : ''}>${escapeXml(chunk)}</tspan>`);
			}

			column = end;
		}

		if (spans.length > 0) {
			out.push(`<text y="${y + 14}" xml:space="preserve">${spans.join('')}</text>`);
		}
	}

	out.push('</svg>');
	return out.join('\n') + '\n';
}
