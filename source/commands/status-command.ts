import fs from 'node:fs/promises';
import path from 'node:path';
import {findDaemon} from '../daemon/daemon-client.js';
import {describeStorage} from '../daemon/storage-health.js';
import {exitCodes, isMoatError} from '../errors.js';
import {imageLabels} from '../images/image-builder.js';
import {describeGateway} from '../gateway/gateway-words.js';
import {formatBytes, formatJson} from '../output/format.js';
import {printable} from '../text/printable.js';
import {runStates, type DamagedRun, type RunState} from '../runs/run-metadata.js';
import type {Command} from './command.js';

async function directorySize(directory: string): Promise<number> {
	let total = 0;
	let entries;
	try {
		entries = await fs.readdir(directory, {withFileTypes: true});
	} catch {
		return 0;
	}

	for (const entry of entries) {
		const full = path.join(directory, entry.name);
		total += entry.isDirectory() ? await directorySize(full) : (await fs.lstat(full).catch(() => ({size: 0}))).size;
	}

	return total;
}

export const statusCommand: Command = {
	help: `
  Usage
    $ moat status [--json]

  Flags
    --json   Print the same as JSON
`,
	flags: {json: {type: 'boolean'}},
	operands: [],
	async run(context) {
		const {engine, runs} = await context.services();
		const engineStatus = await engine
			.info()
			.then(info => ({reachable: true as const, address: engine.address, ...info}))
			.catch((error: unknown) => ({reachable: false as const, address: engine.address, error: isMoatError(error) ? error.message : String(error), fix: isMoatError(error) ? error.hint : 'Start Docker, or set DOCKER_HOST.'}));
		// Exit 3 says the engine was needed and not there; stderr says the fix.
		const finish = () => {
			if (!engineStatus.reachable) {
				context.stderr.write(printable(`moat: ${engineStatus.error}\n${engineStatus.fix}\n`, {lineBreaks: true}));
				return exitCodes.engineUnreachable;
			}

			return exitCodes.success;
		};


		// The records are shown whether or not the engine answers: without it, as last recorded.
		const {runs: allRuns, damaged, unchecked} = await runs.inventory();
		const counts: Record<RunState | DamagedRun['state'], number> = {
			...Object.fromEntries(runStates.map(state => [state, allRuns.filter(run => run.state === state).length])) as Record<RunState, number>,
			damaged: damaged.length,
		};
		const images = engineStatus.reachable ? await engine.listImages({[imageLabels.managed]: 'true'}) : undefined;
		const daemon = await findDaemon(context.environment);
		const daemonStatus = daemon
			? await daemon.status().then(
				answer => ({running: true as const, pid: answer.pid, gateway: answer.gateway, runs: answer.registered.length, ...answer.storage ? {storage: answer.storage} : {}}),
				(error: unknown) => ({running: false as const, error: (error as Error).message}),
			)
			: {running: false as const};
		const disk = await fs.statfs(context.environment.moatHome).catch(() => undefined);
		const storageProblem = describeStorage('storage' in daemonStatus ? daemonStatus.storage : undefined, context.environment.moatHome);
		const status = {
			moatHome: context.environment.moatHome,
			engine: engineStatus,
			daemon: daemonStatus,
			// `unchecked`: runs said to be active that the engine could not confirm.
			runs: {total: allRuns.length + damaged.length, ...counts, unchecked: unchecked.size},
			// null: not known, the engine could not be asked.
			images: images?.map(image => ({id: image.id, tags: image.tags, sizeBytes: image.sizeBytes, base: image.labels[imageLabels.base] ?? null})) ?? null,
			disk: {
				moatHomeBytes: await directorySize(context.environment.moatHome),
				imagesBytes: images?.reduce((sum, image) => sum + image.sizeBytes, 0) ?? null,
				// Free on MOAT_HOME's disk (null when it cannot be told).
				moatHomeFreeBytes: disk ? disk.bavail * disk.bsize : null,
			},
		};

		if (context.flags.json) {
			context.stdout.write(formatJson(status));
			return finish();
		}

		const lines = [
			`Engine    ${engineStatus.reachable ? `Docker ${engineStatus.serverVersion} (API ${engineStatus.apiVersion}) at ${engine.address}` : `unreachable at ${engine.address}`}`,
			`Daemon    ${daemonStatus.running ? `running (pid ${daemonStatus.pid}), ${daemonStatus.runs} run${daemonStatus.runs === 1 ? '' : 's'} registered` : `not running${'error' in daemonStatus ? ` (${daemonStatus.error})` : ''}; it starts with the next run`}`,
			...daemonStatus.running ? [`Gateway   ${describeGateway(daemonStatus.gateway)}`] : [],
			`Runs      ${status.runs.total} (${runStates.map(state => `${counts[state]} ${state}`).join(', ')}${damaged.length > 0 ? `, ${damaged.length} damaged: moat list says which and how to remove them` : ''})`,
			...unchecked.size > 0 ? [`          as last recorded: ${unchecked.size} not checked, the engine is unreachable`] : [],
			images ? `Images    ${images.length} moat image${images.length === 1 ? '' : 's'}, ${formatBytes(status.disk.imagesBytes!)}` : 'Images    not checked, the engine is unreachable',
			`Disk      ${formatBytes(status.disk.moatHomeBytes)} in ${context.environment.moatHome}${disk ? `, ${formatBytes(status.disk.moatHomeFreeBytes!)} free on its disk` : ''}`,
			...storageProblem ? [`          ${storageProblem.message}`, `          ${storageProblem.fix}`] : [],
		];
		// The engine's address and version, the daemon's error and MOAT_HOME are not moat's words.
		context.stdout.write(lines.map(line => printable(line)).join('\n') + '\n');
		return finish();
	},
};
