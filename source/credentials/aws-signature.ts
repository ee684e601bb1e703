import {createHash, createHmac} from 'node:crypto';

/** AWS credentials as the SDKs read them. */
export type AwsCredentials = {accessKeyId: string; secretAccessKey: string; sessionToken?: string};

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function encode(text: string): string {
	return encodeURIComponent(text).replaceAll(/[!'()*]/g, character => `%${character.codePointAt(0)!.toString(16).toUpperCase()}`);
}

export type SignedRequest = {url: string; headers: Record<string, string>};

/**
 * AWS Signature Version 4 for a GET with query parameters. Pure: the time
 * is a parameter, so the published test vectors check it exactly.
 */
export function signGet(options: {
	host: string;
	path?: string;
	query: Record<string, string>;
	region: string;
	service: string;
	credentials: AwsCredentials;
	now: Date;
	extraHeaders?: Record<string, string>;
}): SignedRequest {
	const amzDate = options.now.toISOString().replaceAll(/[-:]/g, '').replace(/\.\d{3}/, '');
	const day = amzDate.slice(0, 8);
	const path = options.path ?? '/';
	const canonicalQuery = Object.keys(options.query)
		.sort()
		.map(key => `${encode(key)}=${encode(options.query[key]!)}`)
		.join('&');
	const headers: Record<string, string> = {
		...Object.fromEntries(Object.entries(options.extraHeaders ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
		host: options.host,
		'x-amz-date': amzDate,
		...(options.credentials.sessionToken ? {'x-amz-security-token': options.credentials.sessionToken} : {}),
	};
	const names = Object.keys(headers).sort();
	const canonicalHeaders = names.map(name => `${name}:${headers[name]!.trim()}\n`).join('');
	const signedHeaders = names.join(';');
	const canonicalRequest = ['GET', path, canonicalQuery, canonicalHeaders, signedHeaders, sha256Hex('')].join('\n');
	const scope = `${day}/${options.region}/${options.service}/aws4_request`;
	const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
	const signingKey = hmac(hmac(hmac(hmac(`AWS4${options.credentials.secretAccessKey}`, day), options.region), options.service), 'aws4_request');
	const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
	const {host: _host, ...sent} = headers;
	return {
		url: `https://${options.host}${path}${canonicalQuery ? `?${canonicalQuery}` : ''}`,
		headers: {...sent, authorization: `AWS4-HMAC-SHA256 Credential=${options.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`},
	};
}
