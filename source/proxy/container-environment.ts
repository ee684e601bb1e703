import {awsContainerEnvironment} from '../credentials/aws-credential-process.js';
import {placeholderEnvironment} from './injection-rules.js';

/**
 * The variables a sealed container gets (README: The network): the proxy with the run's
 * token, the places TLS clients look for trusted CAs (images/root-setup.ts
 * writes the files before the bottle starts), placeholders where CLIs expect tokens, and for
 * an aws grant the AWS config that fetches short-lived credentials from moat.
 */

/** Where moat writes its CA, and the full bundle (system CAs plus moat's). */
export const containerCaFile = '/etc/moat/ca.pem';
export const containerCaBundle = '/etc/moat/ca-bundle.pem';

export type SealedNetworkAccess = {token: string; proxy: {host: string; port: number}; caCertificate: string; aws?: {region: string}};

export function proxyUrl(access: Pick<SealedNetworkAccess, 'token' | 'proxy'>): string {
	return `http://moat:${access.token}@${access.proxy.host}:${access.proxy.port}`;
}

export function sealedEnvironment(access: SealedNetworkAccess, grantNames: readonly string[]): Record<string, string> {
	const url = proxyUrl(access);
	// Only the container's own loopback bypasses the proxy; there is nothing else to reach.
	const noProxy = 'localhost,127.0.0.1,::1';
	return {
		HTTP_PROXY: url,
		HTTPS_PROXY: url,
		http_proxy: url,
		https_proxy: url,
		NO_PROXY: noProxy,
		no_proxy: noProxy,
		// Node's own fetch and http ignore the variables above unless told (Node 22.21+/24).
		NODE_USE_ENV_PROXY: '1',
		SSL_CERT_FILE: containerCaBundle,
		NODE_EXTRA_CA_CERTS: containerCaFile,
		REQUESTS_CA_BUNDLE: containerCaBundle,
		GIT_SSL_CAINFO: containerCaBundle,
		CURL_CA_BUNDLE: containerCaBundle,
		...placeholderEnvironment(grantNames.filter(name => !name.startsWith('ssh:')).map(name => ({provider: name.split(':')[0]!}))),
		...(access.aws ? awsContainerEnvironment(access.aws.region) : {}),
	};
}
