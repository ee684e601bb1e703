import fs from 'node:fs/promises';
import path from 'node:path';
import {usageError} from '../errors.js';
import type {MoatConfig} from './config-schema.js';
import {printable} from '../text/printable.js';

/** The names moat looks for in a workspace, in order. */
export const configFileNames = ['agent.yaml', 'moat.yaml'] as const;

export type LoadedConfig = {config: MoatConfig; file?: string};

/** Reads the workspace's agent.yaml (or moat.yaml); none means an empty config. */
export async function loadWorkspaceConfig(workspace: string): Promise<LoadedConfig> {
	for (const name of configFileNames) {
		const file = path.join(workspace, name);
		let text: string;
		try {
			text = await fs.readFile(file, 'utf8');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
				continue;
			}

			throw usageError(`Cannot read ${printable(file)}: ${printable((error as Error).message)}.`, 'Check the file\'s permissions.', {cause: error});
		}

		// The parser (zod and yaml) loads only when there is a file to parse:
		// a run without agent.yaml should not pay for it at startup.
		const {parseConfig} = await import('./config-parser.js');
		return {config: parseConfig(text, name), file};
	}

	return {config: {}};
}

