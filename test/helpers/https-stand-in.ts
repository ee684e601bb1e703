import {execFile} from 'node:child_process';
import {existsSync} from 'node:fs';
import fs from 'node:fs/promises';
import https from 'node:https';
import type {IncomingHttpHeaders, IncomingMessage, ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {promisify} from 'node:util';

const execFileAsync = promisify(execFile);

/** A request the stand-in received, as it arrived. */
export type RecordedRequest = {method: string; url: string; headers: IncomingHttpHeaders};

export type HttpsStandIn = {
	port: number;
	/** The throwaway CA that signed the server certificate (PEM). */
	caFile: string;
	/** Every request, in arrival order. */
	requests: RecordedRequest[];
	/** The server itself, for tests that add their own listeners (WebSocket upgrades). */
	server: import('node:https').Server;
	close(): Promise<void>;
};

export type StandInHandler = (request: IncomingMessage, response: ServerResponse) => void;

async function openssl(directory: string, ...args: string[]): Promise<void> {
	try {
		await execFileAsync('openssl', args, {cwd: directory});
	} catch (error) {
		throw new Error(`openssl ${args.join(' ')} failed (the HTTPS stand-in needs the openssl CLI): ${(error as Error).message}`, {cause: error});
	}
}

/**
 * Makes a CA and a server certificate for `hosts` in `directory`. P-256
 * keys, because generating them is instant; one day of validity is plenty
 * for a test.
 */
async function makeCertificates(directory: string, hosts: readonly string[]): Promise<{caFile: string; keyFile: string; certificateFile: string}> {
	const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
	await openssl(directory, 'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=moat test stand-in CA',
		'-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
	await openssl(directory, 'req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${hosts[0]!}`);
	await fs.writeFile(path.join(directory, 'server.ext'), [
		`subjectAltName=${hosts.map(host => `DNS:${host}`).join(',')}`,
		'basicConstraints=CA:FALSE',
		'keyUsage=critical,digitalSignature,keyEncipherment',
		'extendedKeyUsage=serverAuth',
		'',
	].join('\n'));
	await openssl(directory, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
	return {caFile: path.join(directory, 'ca.crt'), keyFile: path.join(directory, 'server.key'), certificateFile: path.join(directory, 'server.crt')};
}

/**
 * A local HTTPS server standing in for internet services (api.github.com
 * and friends): a certificate for `hosts` signed by a throwaway CA, served
 * on 127.0.0.1 at a free port. Point moat at it with MOAT_UPSTREAM_OVERRIDES
 * and trust `caFile` through NODE_EXTRA_CA_CERTS (see writeTrustBundle).
 */
export async function startHttpsStandIn(hosts: readonly string[], handler: StandInHandler): Promise<HttpsStandIn> {
	if (hosts.length === 0) {
		throw new Error('startHttpsStandIn needs at least one host name');
	}

	const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-stand-in-'));
	try {
		const {caFile, keyFile, certificateFile} = await makeCertificates(directory, hosts);
		const requests: RecordedRequest[] = [];
		const server = https.createServer({key: await fs.readFile(keyFile), cert: await fs.readFile(certificateFile)}, (request, response) => {
			requests.push({method: request.method ?? '', url: request.url ?? '', headers: {...request.headers}});
			handler(request, response);
		});
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(0, '127.0.0.1', () => {
				server.off('error', reject);
				resolve();
			});
		});
		return {
			port: (server.address() as AddressInfo).port,
			server,
			caFile,
			requests,
			async close() {
				server.closeAllConnections();
				await new Promise<void>(resolve => {
					server.close(() => {
						resolve();
					});
				});
				await fs.rm(directory, {recursive: true, force: true});
			},
		};
	} catch (error) {
		await fs.rm(directory, {recursive: true, force: true});
		throw error;
	}
}

/** Where Debian and its relatives keep the machine's trusted CAs. */
export const systemBundle = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Writes `file`: the machine's trusted CAs (the system bundle, plus the
 * file NODE_EXTRA_CA_CERTS already names, if any) followed by `caFiles`.
 * NODE_EXTRA_CA_CERTS takes one file, so a child that must trust a test CA
 * without losing what this process trusts needs them combined.
 */
export async function writeTrustBundle(file: string, caFiles: readonly string[], variables: Readonly<Record<string, string | undefined>> = process.env): Promise<string> {
	const sources = [...new Set([
		...(existsSync(systemBundle) ? [systemBundle] : []),
		...(variables.NODE_EXTRA_CA_CERTS && existsSync(variables.NODE_EXTRA_CA_CERTS) ? [variables.NODE_EXTRA_CA_CERTS] : []),
	].map(source => path.resolve(source)))].filter(source => !caFiles.map(caFile => path.resolve(caFile)).includes(source));
	const parts = await Promise.all([...sources, ...caFiles].map(async source => (await fs.readFile(source, 'utf8')).trimEnd() + '\n'));
	await fs.writeFile(file, parts.join(''));
	return file;
}
