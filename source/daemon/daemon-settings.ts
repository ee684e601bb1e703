import {createHash} from 'node:crypto';
import {readFileSync, statSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import {environmentVariables, type MoatEnvironment} from '../environment.js';
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

/** The settings this process would start a daemon with. */
export function currentDaemonSettings(environment: MoatEnvironment): DaemonSettings {
	return {
		version: readVersion(),
		build: buildIdentity(),
		upstreamOverrides: environment.variables[environmentVariables.upstreamOverrides] ?? '',
		extraCaCertificates: caIdentity(environment.variables[environmentVariables.extraCaCertificates]),
		routerPort: routerPort(environment.variables),
	};
}
