/**
 * The moat proxy alone in its own process, for bench:proxy: it listens on
 * 127.0.0.1 and prints its port. Every request carries the run token
 * `bench`; MOAT_UPSTREAM_OVERRIDES and NODE_EXTRA_CA_CERTS as for the daemon.
 */
import process from 'node:process';
import {parseUpstreamOverrides} from '../../source/network/upstream-overrides.js';
import {openCertificateAuthority} from '../../source/proxy/certificate-authority.js';
import {startProxyServer} from '../../source/proxy/proxy-server.js';

const authority = await openCertificateAuthority(process.env.BENCH_CA_DIRECTORY!);
const run = {runId: 'run_000000000000', agent: null, policy: {mode: 'permissive' as const, allow: []}, grantKinds: [], grants: async () => []};
const proxy = await startProxyServer({
	listen: {host: '127.0.0.1', port: 0},
	authority,
	overrides: parseUpstreamOverrides(process.env.MOAT_UPSTREAM_OVERRIDES),
	// The same object every time: the proxy ends a tunnel whose token no longer maps to the run it opened with.
	runForToken: token => (token === 'bench' ? run : undefined),
	observer: {request() {}, injected() {}, scrubbed() {}, blocked() {}},
});
process.stdout.write(`${proxy.port}\n`);
process.on('SIGTERM', () => {
	void proxy.close().then(() => process.exit(0));
});
