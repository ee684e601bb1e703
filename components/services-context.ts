import {createContext, useContext} from 'react';
import type {DashboardServices} from '../source/dashboard/dashboard-types.js';

export type {DashboardServices, NewRunRequest, PaneContent, PaneLine, Problem} from '../source/dashboard/dashboard-types.js';

export const ServicesContext = createContext<DashboardServices | undefined>(undefined);

export function useServices(): DashboardServices {
	const services = useContext(ServicesContext);
	if (!services) {
		throw new Error('useServices() outside a ServicesContext provider');
	}

	return services;
}
