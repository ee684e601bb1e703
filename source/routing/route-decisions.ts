import {environmentVariables} from '../environment.js';

/**
 * Hostname routing (README: The network): `ports: {web: 3000}` in a run named `app`
 * is served at `http(s)://web.app.localhost:8080`, by moat's daemon, to
 * port 3000 of that run's container. Pure: names in, decisions out.
 */

/** The router's port unless MOAT_ROUTER_PORT says otherwise. */
export const defaultRouterPort = 8080;

export function routerPort(variables: Readonly<Record<string, string | undefined>>): number {
	const port = Number(variables[environmentVariables.routerPort] ?? defaultRouterPort);
	return Number.isInteger(port) && port > 0 && port < 65_536 ? port : defaultRouterPort;
}

/** `web.app.localhost[:port]` → service and run name; anything else is not a route. */
export function parseRouteHost(hostHeader: string | undefined): {service: string; runName: string} | undefined {
	const name = (hostHeader ?? '').toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
	const match = /^([a-z\d][a-z\d-]*)\.([a-z\d][\w.-]*?)\.localhost$/.exec(name);
	return match ? {service: match[1]!, runName: match[2]!} : undefined;
}

/** The URL a container's service is reached at, as MOAT_URL_<NAME> and `moat list` show it. */
export function serviceUrl(service: string, runName: string, port: number): string {
	return `http://${service.toLowerCase()}.${runName.toLowerCase()}.localhost${port === 80 ? '' : `:${port}`}`;
}

/** MOAT_URL_WEB=… for each of a run's ports. */
export function serviceVariables(ports: Readonly<Record<string, number>>, runName: string, port: number): Record<string, string> {
	return Object.fromEntries(Object.keys(ports).map(service => [`MOAT_URL_${service.toUpperCase().replaceAll(/[^A-Z\d]/g, '_')}`, serviceUrl(service, runName, port)]));
}

export type RouteRun = {name: string; active: boolean; ports: Readonly<Record<string, number>>; address: string | undefined};

export type RouteDecision =
	| {kind: 'forward'; address: string; port: number}
	| {kind: 'refuse'; status: number; title: string; detail: string};

/** Where a request for `host` goes among the runs, or the page that says why it goes nowhere. */
export function decideRoute(host: string | undefined, runs: readonly RouteRun[]): RouteDecision {
	const route = parseRouteHost(host);
	if (!route) {
		return {kind: 'refuse', status: 404, title: 'Not a moat service address', detail: 'Services are at http://SERVICE.RUN-NAME.localhost — see moat list for the ones running.'};
	}

	const run = runs.find(candidate => candidate.name.toLowerCase() === route.runName && candidate.active)
		?? runs.find(candidate => candidate.name.toLowerCase() === route.runName);
	if (!run) {
		return {kind: 'refuse', status: 404, title: `No run named ${route.runName}`, detail: 'See moat list for the runs and their services.'};
	}

	const port = Object.entries(run.ports).find(([service]) => service.toLowerCase() === route.service)?.[1];
	if (port === undefined) {
		const known = Object.keys(run.ports);
		return {kind: 'refuse', status: 404, title: `${run.name} has no service named ${route.service}`, detail: known.length > 0 ? `Its services: ${known.join(', ')}.` : 'It declares no ports in agent.yaml.'};
	}

	if (!run.active || !run.address) {
		return {kind: 'refuse', status: 502, title: `${run.name} is not running`, detail: `Start it again, then reload. Its ${route.service} service listens on port ${port} in the container.`};
	}

	return {kind: 'forward', address: run.address, port};
}

/** The page for a request that cannot be served: says what is wrong and what to do. */
export function refusalPage(decision: Extract<RouteDecision, {kind: 'refuse'}>): string {
	const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
	return `<!doctype html>\n<meta charset="utf-8">\n<title>${escape(decision.title)} · moat</title>\n<h1>${escape(decision.title)}</h1>\n<p>${escape(decision.detail)}</p>\n`;
}

/** The 502 page when the service is not up (nothing listening, or it reset the connection). */
export function notUpPage(service: string, runName: string, port: number, reason: string): string {
	return refusalPage({kind: 'refuse', status: 502, title: `${service} in ${runName} is not answering`, detail: `Nothing answered on port ${port} in the container (${reason}). Is the server started, and listening on 0.0.0.0 rather than 127.0.0.1?`});
}
