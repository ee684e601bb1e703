import {printable} from '../text/printable.js';
import type {GatewayStatus, GatewayTopology} from './gateway-status.js';

/** How `moat status` and `moat proxy status` say where the engine is and how the gateway reaches moat. */

export const topologyWords: Record<GatewayTopology, string> = {
	local: 'Linux engine on this host',
	vm: 'engine in a VM (its networks are not this machine\'s)',
	remote: 'remote engine',
};

export function describeGateway(status: GatewayStatus): string {
	switch (status.state) {
		case 'ready': {
			const way = status.channel === 'socket' ? 'carried over the daemon\'s socket' : 'carried over the Docker API';
			return `ready (${status.container}): ${topologyWords[status.topology ?? 'local']}, ${way}`;
		}

		case 'failed': {
			return `not working, runs are refused: ${printable(status.error ?? 'unknown')}`;
		}

		case 'starting': {
			return `starting (${status.container})`;
		}
	}
}
