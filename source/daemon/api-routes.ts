import {auditEventTypes, type AuditEventType} from '../audit/audit-chain.js';
import {runIdPattern} from '../runs/run-metadata.js';

/**
 * The daemon's HTTP API on daemon.sock, as data: which method and path
 * reach which handler, and the pure checks of request bodies. The handlers
 * themselves are in daemon-api.ts.
 */

export type ApiMethod = 'GET' | 'POST' | 'DELETE';

export type ApiRoute = {
	readonly name: string;
	readonly method: ApiMethod;
	/** The path; `:runId` stands for one segment holding a run id. */
	readonly path: string;
	/**
	 * `:runId` takes any segment here, not only a well-formed run id: the
	 * handler answers an unknown run with "no run … is running", which the
	 * CLI shows as it stands.
	 */
	readonly anyRunId?: true;
};

export const apiRoutes = [
	{name: 'hello', method: 'GET', path: '/hello'},
	{name: 'status', method: 'GET', path: '/status'},
	/** The status once the gateway is ready or has failed: what `moat proxy start` shows. */
	{name: 'ready', method: 'GET', path: '/ready'},
	/** The id for the next run, its network made ahead (an empty answer when none is ready). */
	{name: 'next', method: 'POST', path: '/runs/next'},
	{name: 'register', method: 'POST', path: '/runs'},
	{name: 'audit', method: 'POST', path: '/audit'},
	{name: 'allow', method: 'POST', path: '/runs/:runId/allow', anyRunId: true},
	/**
	 * The launcher is about to start the run's container: answers once the
	 * gateway has joined the run's network, and copies the run's output from
	 * now on, so all of it is copied live.
	 */
	{name: 'starting', method: 'POST', path: '/runs/:runId/starting'},
	{name: 'unregister', method: 'DELETE', path: '/runs/:runId'},
	{name: 'shutdown', method: 'POST', path: '/shutdown'},
] as const satisfies readonly ApiRoute[];

export type ApiRouteName = (typeof apiRoutes)[number]['name'];

/** Which route a request reaches, with the run id its path names; or the 404 words when none does. */
export type RouteMatch =
	| {route: ApiRouteName; runId?: string}
	| {route: undefined; error: string};

/** The run-id pattern without its anchors, to sit inside a path. */
const runIdSegment = runIdPattern.source.replace(/^\^/, '').replace(/\$$/, '');

const escapeRegExp = (text: string) => text.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`);

function pathPattern(route: ApiRoute): RegExp {
	const [before, after] = route.path.split(':runId');
	if (after === undefined) {
		return new RegExp(`^${escapeRegExp(before!)}$`);
	}

	return new RegExp(`^${escapeRegExp(before!)}(${route.anyRunId ? '[^/]+' : runIdSegment})${escapeRegExp(after)}$`);
}

const compiled = apiRoutes.map(route => ({route, pattern: pathPattern(route)}));

/**
 * The route for a request's method and URL (as the request line gives it:
 * path and query). The run id is taken from the path as sent, not decoded.
 */
export function matchRoute(method: string | undefined, url: string | undefined): RouteMatch {
	const {pathname} = new URL(url ?? '/', 'http://daemon');
	for (const {route, pattern} of compiled) {
		const match = route.method === method ? pattern.exec(pathname) : null;
		if (match) {
			return match[1] === undefined ? {route: route.name} : {route: route.name, runId: match[1]};
		}
	}

	return {route: undefined, error: `no such endpoint: ${method} ${pathname}`};
}

export function isRunId(value: unknown): value is string {
	return typeof value === 'string' && runIdPattern.test(value);
}

/** Why a `POST /runs` body is not a registration, or undefined when it is one. */
export function registrationError(body: unknown): string | undefined {
	const registration = body as {runId?: unknown; grants?: unknown; policy?: unknown} | null | undefined;
	return isRunId(registration?.runId) && Array.isArray(registration!.grants) && registration!.policy
		? undefined
		: 'a registration needs runId, policy and grants';
}

/** A `POST /audit` body: an event to record, a request to seal the log, or both. */
export type AuditRequest = {runId: string; event?: {type: AuditEventType; data: Record<string, unknown>}; seal: boolean};

export function parseAuditRequest(body: unknown): AuditRequest | {error: string} {
	const request = body as {runId?: unknown; type?: unknown; data?: unknown; seal?: unknown} | null | undefined;
	const knownType = request?.type === undefined || (auditEventTypes as readonly unknown[]).includes(request.type);
	const dataObject = request?.type === undefined || (typeof request.data === 'object' && request.data !== null && !Array.isArray(request.data));
	if (!isRunId(request?.runId) || !knownType || !dataObject) {
		return {error: 'an audit event needs a run id, a known type and a data object'};
	}

	return {
		runId: request!.runId as string,
		...request!.type === undefined ? {} : {event: {type: request!.type as AuditEventType, data: request!.data as Record<string, unknown>}},
		seal: Boolean(request!.seal),
	};
}
