import {Box, Text} from 'ink';
import {useEffect, useState} from 'react';
import type {Pane} from './dashboard-reducer.js';
import {panes, paneTitles} from './dashboard-reducer.js';
import {printable} from '../source/text/printable.js';
import {createRefresher} from './refresher.js';
import {useServices, type DashboardServices, type PaneContent} from './services-context.js';

/**
 * How often a pane looks at its run again: the screen more often than the
 * files. Files the services watch are read when they change instead, at most
 * this often (a run printing thousands of lines a second costs what it did
 * when these were polled; an idle one costs nothing).
 */
const refreshMilliseconds: Record<Pane, number> = {preview: 200, logs: 300, network: 500, audit: 1000};

/**
 * A watched pane's reads on a timer, besides those a change brings: the
 * audit verdict changes with time alone (a run that just ended has a grace
 * to sign its last entries, see sealGraceMilliseconds). The preview is never
 * watched: the live screen is in memory, not in a file.
 */
const watchedPeriodMilliseconds: Record<Pane, number> = {preview: refreshMilliseconds.preview, logs: Number.POSITIVE_INFINITY, network: Number.POSITIVE_INFINITY, audit: 5000};

export type LoadedPane = PaneContent & {blockedHosts?: Array<string | undefined>};

async function load(services: DashboardServices, pane: Pane, runId: string): Promise<LoadedPane> {
	switch (pane) {
		case 'preview': {
			return (await services.preview?.(runId)) ?? {lines: [], summary: 'no screen yet'};
		}

		case 'logs': {
			return services.logs?.(runId) ?? {lines: []};
		}

		case 'network': {
			return services.network?.(runId) ?? {lines: []};
		}

		case 'audit': {
			return services.audit?.(runId) ?? {lines: []};
		}
	}
}

/** The selected run's pane, read again while it is shown (only that one), when its files change if the services watch them. */
export function usePaneContent(pane: Pane, runId: string | undefined): LoadedPane | undefined {
	const services = useServices();
	const [content, setContent] = useState<{key: string; value: LoadedPane} | undefined>();
	const key = `${pane}:${runId ?? ''}`;
	useEffect(() => {
		if (!runId) {
			return;
		}

		let cancelled = false;
		const read = async () => {
			try {
				const value = await load(services, pane, runId);
				if (!cancelled) {
					setContent(previous => (previous?.key === key && sameContent(previous.value, value) ? previous : {key, value}));
				}
			} catch (error) {
				if (!cancelled) {
					setContent({key, value: {lines: [{text: `Cannot read it: ${printable((error as Error).message)}`, alert: true}]}});
				}
			}
		};

		const watched = pane !== 'preview' && services.watchRun !== undefined;
		const refresher = createRefresher(read, {
			period: watched ? watchedPeriodMilliseconds[pane] : refreshMilliseconds[pane],
			spacing: refreshMilliseconds[pane],
		});
		refresher.start();
		// The watch closes with the pane: another pane, another run, or none.
		const unwatch = pane === 'preview' ? undefined : services.watchRun?.(runId, pane, () => {
			refresher.changed();
		});
		return () => {
			cancelled = true;
			refresher.close();
			unwatch?.();
		};
	}, [services, pane, runId, key]);

	return content?.key === key ? content.value : undefined;
}

function sameContent(a: LoadedPane, b: LoadedPane): boolean {
	return a.summary === b.summary && a.lines.length === b.lines.length && a.lines.every((line, index) => line.text === b.lines[index]!.text && line.alert === b.lines[index]!.alert);
}

/** Which lines are shown, and where the cursor is, for a pane of `height` rows. Pure. */
export function paneWindow(total: number, height: number, offset: number): {start: number; cursor: number} {
	const cursor = Math.max(0, total - 1 - Math.min(offset, Math.max(0, total - 1)));
	// The cursor sits on the window's last row, or as low as the top allows.
	const start = Math.max(0, Math.min(cursor - height + 1, total - height));
	return {start, cursor};
}

export function DetailPane({pane, content, height, width, focused, follow, offset}: {
	pane: Pane; content: LoadedPane | undefined; height: number; width: number; focused: boolean; follow: boolean; offset: number;
}) {
	const lines = content?.lines ?? [];
	const rows = Math.max(1, height - 1);
	const {start, cursor} = paneWindow(lines.length, rows, follow ? 0 : offset);
	const shown = lines.slice(start, start + rows);
	return (
		<Box flexDirection="column" height={height} width={width}>
			<Text wrap="truncate">
				{panes.map(name => (
					<Text key={name} bold={name === pane} inverse={name === pane && focused} color={name === pane ? undefined : 'gray'}>{` ${paneTitles[name]} `}</Text>
				))}
				<Text dimColor>{`  ${follow ? 'following' : 'follow off (f)'}${content?.summary ? ` · ${content.summary}` : ''}`}</Text>
			</Text>
			{content === undefined ? <Text dimColor>Loading…</Text> : undefined}
			{content !== undefined && lines.length === 0 ? <Text dimColor>{emptyText[pane]}</Text> : undefined}
			{shown.map((line, index) => (
				<Text
					key={start + index}
					wrap="truncate"
					color={line.alert ? 'red' : undefined}
					inverse={focused && pane !== 'preview' && start + index === cursor}
				>
					{line.text || ' '}
				</Text>
			))}
		</Box>
	);
}

const emptyText: Record<Pane, string> = {
	preview: 'No screen to show: the run is not running with a terminal.',
	logs: 'No output yet.',
	network: 'No requests yet.',
	audit: 'No audit entries yet.',
};
