import test from 'ava';
import {apiRoutes, matchRoute, parseAuditRequest, registrationError, type RouteMatch} from '../source/daemon/api-routes.js';
import {containerEnded, idleEnough, registrationGraceMilliseconds, watchRun, type RunWatch} from '../source/daemon/daemon-watchers.js';
import {hasAwsGrant, persistedRunOf, toPolicy} from '../source/daemon/run-registry.js';
import type {RunRegistration} from '../source/daemon/daemon-protocol.js';
import type {ContainerState} from '../source/engine/engine.js';
import type {RunMetadata} from '../source/runs/run-metadata.js';

const runId = 'run_0123456789ab';

test('matchRoute sends each method and path to its route, with the run id the path names', t => {
	const cases: Array<[method: string | undefined, url: string | undefined, expected: RouteMatch]> = [
		['GET', '/hello', {route: 'hello'}],
		['GET', '/hello?verbose=1', {route: 'hello'}],
		['GET', '/status', {route: 'status'}],
		['POST', '/runs', {route: 'register'}],
		['POST', '/runs/next', {route: 'next'}],
		['POST', `/runs/${runId}/starting`, {route: 'starting', runId}],
		['POST', '/audit', {route: 'audit'}],
		['POST', '/shutdown', {route: 'shutdown'}],
		['DELETE', `/runs/${runId}`, {route: 'unregister', runId}],
		['POST', `/runs/${runId}/allow`, {route: 'allow', runId}],
		// The allow route takes any segment: an unknown run is answered "no run … is running".
		['POST', '/runs/not-a-run/allow', {route: 'allow', runId: 'not-a-run'}],
		// The id is taken as sent, not decoded.
		['POST', '/runs/run%20x/allow', {route: 'allow', runId: 'run%20x'}],
		// Removing takes only a well-formed run id.
		['DELETE', '/runs/not-a-run', {route: undefined, error: 'no such endpoint: DELETE /runs/not-a-run'}],
		['DELETE', '/runs/run_0123456789AB', {route: undefined, error: 'no such endpoint: DELETE /runs/run_0123456789AB'}],
		['DELETE', `/runs/${runId}0`, {route: undefined, error: `no such endpoint: DELETE /runs/${runId}0`}],
		// The method is part of the route.
		['POST', '/hello', {route: undefined, error: 'no such endpoint: POST /hello'}],
		['GET', '/runs', {route: undefined, error: 'no such endpoint: GET /runs'}],
		['DELETE', `/runs/${runId}/allow`, {route: undefined, error: `no such endpoint: DELETE /runs/${runId}/allow`}],
		['GET', '/hello/', {route: undefined, error: 'no such endpoint: GET /hello/'}],
		['GET', '/nothing', {route: undefined, error: 'no such endpoint: GET /nothing'}],
		['GET', undefined, {route: undefined, error: 'no such endpoint: GET /'}],
		[undefined, '/hello', {route: undefined, error: 'no such endpoint: undefined /hello'}],
		// Paths are normalized as URLs are: dot segments do not escape a route's shape.
		['GET', '/runs/../hello', {route: 'hello'}],
	];
	for (const [method, url, expected] of cases) {
		t.deepEqual(matchRoute(method, url), expected, `${method} ${url}`);
	}
});

test('every route in the table is reachable by its own method and path', t => {
	for (const route of apiRoutes) {
		const match = matchRoute(route.method, route.path.replace(':runId', runId));
		t.is(match.route, route.name, route.path);
	}
});

test('registrationError accepts a registration with a run id, grants and a policy, and refuses the rest', t => {
	const refusal = 'a registration needs runId, policy and grants';
	const cases: Array<[body: unknown, error: string | undefined]> = [
		[{runId, grants: [], policy: {mode: 'strict', allow: []}}, undefined],
		[{runId, grants: ['github'], policy: {}}, undefined],
		[undefined, refusal],
		[null, refusal],
		['run_0123456789ab', refusal],
		[{grants: [], policy: {}}, refusal],
		[{runId: 'run_0123', grants: [], policy: {}}, refusal],
		[{runId, policy: {}}, refusal],
		[{runId, grants: 'github', policy: {}}, refusal],
		[{runId, grants: []}, refusal],
		[{runId: [runId], grants: [], policy: {}}, refusal],
	];
	for (const [body, error] of cases) {
		t.is(registrationError(body), error, JSON.stringify(body));
	}
});

test('parseAuditRequest takes a run id with a known event, a seal, or both, and refuses the rest', t => {
	const refusal = {error: 'an audit event needs a run id, a known type and a data object'};
	const cases: Array<[body: unknown, expected: ReturnType<typeof parseAuditRequest>]> = [
		[{runId, type: 'policy.changed', data: {allow: 'a.test'}}, {runId, event: {type: 'policy.changed', data: {allow: 'a.test'}}, seal: false}],
		[{runId, seal: true}, {runId, seal: true}],
		[{runId, type: 'policy.changed', data: {}, seal: true}, {runId, event: {type: 'policy.changed', data: {}}, seal: true}],
		// Nothing to do is still a well-formed request.
		[{runId}, {runId, seal: false}],
		[{runId, type: 'no.such.event', data: {}}, refusal],
		[{runId, type: 'policy.changed'}, refusal],
		[{runId, type: 'policy.changed', data: null}, refusal],
		[{runId, type: 'policy.changed', data: []}, refusal],
		[{runId, type: 'policy.changed', data: 'text'}, refusal],
		[{runId: 'run_x', seal: true}, refusal],
		[{seal: true}, refusal],
		[null, refusal],
		[undefined, refusal],
	];
	for (const [body, expected] of cases) {
		t.deepEqual(parseAuditRequest(body), expected, JSON.stringify(body));
	}
});

test('persistedRunOf keeps the fields the daemon knows, strict only when asked, and SSH only with whole-number ids', t => {
	const base: RunRegistration = {runId, agent: 'claude', policy: {mode: 'strict', allow: ['a.test']}, grants: ['github']};
	const at = '2026-01-02T03:04:05.000Z';
	const cases: Array<[registration: RunRegistration, expected: Partial<ReturnType<typeof persistedRunOf>>]> = [
		[base, {agent: 'claude', policy: {mode: 'strict', allow: ['a.test']}, grants: ['github']}],
		[{...base, agent: undefined as unknown as null}, {agent: null}],
		[{...base, policy: {mode: 'lenient' as 'strict', allow: []}}, {policy: {mode: 'permissive', allow: []}}],
		[{...base, policy: {mode: 'permissive'} as RunRegistration['policy']}, {policy: {mode: 'permissive', allow: []}}],
		[{...base, ssh: {uid: 1000, gid: 1000, upstream: '/tmp/agent.sock'}}, {ssh: {uid: 1000, gid: 1000, upstream: '/tmp/agent.sock'}}],
		[{...base, ssh: {uid: 1000, gid: 1000, upstream: 7 as unknown as string}}, {ssh: {uid: 1000, gid: 1000}}],
		[{...base, ssh: {uid: 1.5, gid: 1000}}, {ssh: undefined}],
		[{...base, ssh: {uid: '1000' as unknown as number, gid: 1000}}, {ssh: undefined}],
	];
	for (const [registration, expected] of cases) {
		const persisted = persistedRunOf(registration, 'hash', at);
		t.like(persisted, {runId, tokenHash: 'hash', registeredAt: at, ...expected}, JSON.stringify(registration));
		if ('ssh' in expected && expected.ssh === undefined) {
			t.false('ssh' in persisted);
		}
	}

	// A copy: changing the registration afterwards changes nothing kept.
	const registration = structuredClone(base);
	const persisted = persistedRunOf(registration, 'hash', at);
	registration.grants.push('aws');
	registration.policy.allow.push('b.test');
	t.deepEqual(persisted.grants, ['github']);
	t.deepEqual(persisted.policy.allow, ['a.test']);
});

test('hasAwsGrant and toPolicy read grant names and allow entries as runs give them', t => {
	const awsCases: Array<[grants: string[], expected: boolean]> = [
		[[], false],
		[['aws'], true],
		[['aws:prod'], true],
		[['github', 'ssh:github.com'], false],
		[['awsome'], false],
	];
	for (const [grants, expected] of awsCases) {
		t.is(hasAwsGrant(grants), expected, grants.join(','));
	}

	const policy = toPolicy({policy: {mode: 'strict', allow: ['a.test', 'not a host!', '*.b.test:8443']}});
	t.is(policy.mode, 'strict');
	t.is(policy.allow.length, 2, 'an unreadable entry is left out');
});

const metadata = (fields: Partial<RunMetadata>): RunMetadata => ({state: 'running', containerId: 'c1', interactive: false, ...fields} as RunMetadata);

test('watchRun unregisters runs that are gone or ended, waits on young ones, and follows running containers', t => {
	const registeredAt = '2026-01-01T00:00:00.000Z';
	const start = Date.parse(registeredAt);
	const young = start + registrationGraceMilliseconds - 1;
	const old = start + registrationGraceMilliseconds;
	const cases: Array<[record: RunMetadata | undefined, now: number, expected: RunWatch]> = [
		[undefined, young, {action: 'wait'}],
		[undefined, old, {action: 'unregister', why: 'run removed'}],
		[metadata({state: 'stopped'}), young, {action: 'unregister', why: 'run stopped'}],
		[metadata({state: 'failed'}), old, {action: 'unregister', why: 'run failed'}],
		[metadata({containerId: null}), old, {action: 'wait'}],
		[metadata({state: 'created', containerId: null}), young, {action: 'wait'}],
		[metadata({}), young, {action: 'follow', containerId: 'c1', interactive: false, checkContainer: false}],
		[metadata({interactive: true}), old, {action: 'follow', containerId: 'c1', interactive: true, checkContainer: true}],
		[metadata({state: 'created'}), old, {action: 'follow', containerId: 'c1', interactive: false, checkContainer: true}],
	];
	for (const [record, now, expected] of cases) {
		t.deepEqual(watchRun(record, registeredAt, now), expected, `${record?.state ?? 'no record'} at +${now - start} ms`);
	}
});

test('containerEnded says a container ended only when the engine says so', t => {
	const container = (status: ContainerState['status']): ContainerState => ({id: 'c1', status, exitCode: 0});
	const cases: Array<[state: ContainerState | undefined | 'unknown', ended: boolean]> = [
		['unknown', false],
		[undefined, true],
		[container('running'), false],
		[container('created'), false],
		[container('restarting'), false],
		[container('paused'), false],
		[container('exited'), true],
		[container('dead'), true],
		[container('removing'), true],
	];
	for (const [state, ended] of cases) {
		t.is(containerEnded(state), ended, typeof state === 'object' ? state.status : String(state));
	}
});

test('idleEnough goes only with no runs, no output being copied, and no request for longer than the idle time', t => {
	const cases: Array<[runs: number, captures: number, quietFor: number, idle: boolean]> = [
		[0, 0, 1001, true],
		[0, 0, 1000, false],
		[1, 0, 60_000, false],
		[0, 1, 60_000, false],
		[0, 0, 0, false],
	];
	for (const [runs, captures, quietFor, idle] of cases) {
		t.is(idleEnough({runs, captures, lastActivity: 5000, now: 5000 + quietFor, idleMilliseconds: 1000}), idle, `${runs} runs, ${captures} captures, quiet ${quietFor} ms`);
	}
});
