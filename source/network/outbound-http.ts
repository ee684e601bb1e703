import https from 'node:https';
import tls from 'node:tls';
import {parseUpstreamOverrides, resolveUpstream} from './upstream-overrides.js';

export type HttpResponse = {status: number; headers: Record<string, string | string[] | undefined>; body: string};

export type OutboundHttp = {
	get(url: string, headers: Record<string, string>): Promise<HttpResponse>;
};

/**
 * HTTPS requests moat itself makes (grant validation). They honour
 * MOAT_UPSTREAM_OVERRIDES: the connection goes to the override's address
 * while the TLS name and Host header stay the real host's, so certificates
 * are still checked — against the CAs Node trusts, NODE_EXTRA_CA_CERTS
 * included.
 */
export function createOutboundHttp(overridesText: string | undefined, timeoutMilliseconds = 15_000): OutboundHttp {
	const overrides = parseUpstreamOverrides(overridesText);
	return {
		async get(url, headers) {
			const target = new URL(url);
			const port = Number(target.port || 443);
			const upstream = resolveUpstream(overrides, target.hostname, port);
			return new Promise((resolve, reject) => {
				const request = https.request(
					{
						host: upstream.address,
						port: upstream.port,
						servername: target.hostname,
						method: 'GET',
						path: `${target.pathname}${target.search}`,
						headers: {host: target.host, ...headers},
						timeout: timeoutMilliseconds,
						// The certificate must name the real host, not the override's address.
						checkServerIdentity: (_address, certificate) => tls.checkServerIdentity(target.hostname, certificate),
					},
					response => {
						let body = '';
						response.setEncoding('utf8');
						response.on('data', (chunk: string) => {
							body += chunk;
						});
						response.on('end', () => {
							resolve({status: response.statusCode ?? 0, headers: response.headers, body});
						});
						response.on('error', reject);
					},
				);
				request.on('timeout', () => {
					request.destroy(new Error(`no answer from ${target.hostname} within ${timeoutMilliseconds / 1000} s`));
				});
				request.on('error', reject);
				request.end();
			});
		},
	};
}
