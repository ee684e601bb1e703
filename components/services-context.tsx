import {createContext, useContext} from 'react';
import type {RunMetadata} from '../source/runs/run-metadata.js';

/** What the dashboard needs from moat's services; the CLI provides the real ones. */
export type DashboardServices = {
	listRuns(): Promise<RunMetadata[]>;
	stopRun(id: string): Promise<void>;
	/** Removes a run, stopping it first if it is still going. */
	destroyRun(id: string): Promise<void>;
	now(): Date;
};

export const ServicesContext = createContext<DashboardServices | undefined>(undefined);

export function useServices(): DashboardServices {
	const services = useContext(ServicesContext);
	if (!services) {
		throw new Error('useServices() outside a ServicesContext provider');
	}

	return services;
}
