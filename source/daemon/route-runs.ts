import type {Engine} from '../engine/engine.js';
import type {RouteRun} from '../routing/route-decisions.js';
import {isActive} from '../runs/run-metadata.js';
import type {RunStore} from '../runs/run-store.js';

/**
 * The runs the hostname router serves: those with declared ports, each with
 * its container's address. Addresses are cached while their container lives,
 * so a request asks the engine only about containers it has not seen.
 */
export function createRouteRuns(store: Pick<RunStore, 'list'>, engine: Pick<Engine, 'inspectContainer'>): () => Promise<RouteRun[]> {
	const addresses = new Map<string, string>();
	return async () => {
		const listed = (await store.list()).filter(run => Object.keys(run.ports).length > 0);
		const live = new Set(listed.filter(run => isActive(run) && run.containerId !== null).map(run => run.containerId!));
		for (const containerId of addresses.keys()) {
			if (!live.has(containerId)) {
				addresses.delete(containerId);
			}
		}

		return Promise.all(listed.map(async run => {
			const active = live.has(run.containerId ?? '');
			// Only an address the engine gave is kept: a container not started yet has none.
			if (active && addresses.get(run.containerId!) === undefined) {
				const address = (await engine.inspectContainer(run.containerId!).catch(() => undefined))?.addresses?.[0];
				if (address) {
					addresses.set(run.containerId!, address);
				}
			}

			return {name: run.name, active, ports: run.ports, address: active ? addresses.get(run.containerId!) : undefined};
		}));
	};
}
