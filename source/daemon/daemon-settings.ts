import {createHash} from 'node:crypto';
import {readFileSync, statSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
import {exitCodes, MoatError} from '../errors.js';
import {defaultConnectionsPerRun, parseConnectionsPerRun} from '../proxy/connection-limits.js';
import {routerPort} from '../routing/route-decisions.js';
import type {DaemonSettings} from './daemon-protocol.js';

function readVersion(): string {
	try {
		const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {version?: string};
		return manifest.version ?? '0.0.0';
	} catch {
		return '0.0.0';
	}
}

/** The built CLI's size and time: changes whenever moat is rebuilt. */
function buildIdentity(): string {
	try {
		const cli = statSync(fileURLToPath(new URL('../cli.js', import.meta.url)));
		return `${cli.size}-${Math.trunc(cli.mtimeMs)}`;
	} catch {
		return 'unknown';
	}
}

function caIdentity(file: string | undefined): string {
	if (!file) {
		return '';
	}

	try {
		return `${file}#${createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)}`;
	} catch {
		return `${file}#unreadable`;
	}
}

/** MOAT_RUN_CONNECTIONS, checked: a daemon is never started with a limit it cannot read. */
function runConnections(environment: MoatEnvironment): number | null {
	const parsed = parseConnectionsPerRun(environment.variables[environmentVariables.runConnections]);
	if ('error' in parsed) {
		throw new MoatError(`${parsed.error}.`, `Set ${environmentVariables.runConnections} to a number such as ${defaultConnectionsPerRun} (or unset it).`, exitCodes.usage);
	}

	return parsed.value ?? null;
}

/** The settings this process would start a daemon with. */
export function currentDaemonSettings(environment: MoatEnvironment): DaemonSettings {
	return {
		version: readVersion(),
		build: buildIdentity(),
		upstreamOverrides: environment.variables[environmentVariables.upstreamOverrides] ?? '',
		extraCaCertificates: caIdentity(environment.variables[environmentVariables.extraCaCertificates]),
		routerPort: routerPort(environment.variables),
		runConnections: runConnections(environment),
	};
}
