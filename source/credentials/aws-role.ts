import fs from 'node:fs/promises';
import path from 'node:path';
import {MoatError} from '../errors.js';
import type {OutboundHttp} from '../network/outbound-http.js';
import {signGet, type AwsCredentials} from './aws-signature.js';

/**
 * The host's own AWS credentials, for assuming the granted role: the
 * environment first, then ~/.aws/credentials (AWS_PROFILE or default), as
 * the AWS CLI looks for them. They never leave the host.
 */
export async function hostAwsCredentials(variables: Readonly<Record<string, string | undefined>>, userHome: string): Promise<AwsCredentials | undefined> {
	if (variables.AWS_ACCESS_KEY_ID && variables.AWS_SECRET_ACCESS_KEY) {
		return {accessKeyId: variables.AWS_ACCESS_KEY_ID, secretAccessKey: variables.AWS_SECRET_ACCESS_KEY, sessionToken: variables.AWS_SESSION_TOKEN || undefined};
	}

	const file = variables.AWS_SHARED_CREDENTIALS_FILE ?? path.join(userHome, '.aws', 'credentials');
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch {
		return undefined;
	}

	const profile = variables.AWS_PROFILE ?? 'default';
	let section = '';
	const values: Record<string, string> = {};
	for (const line of text.split('\n')) {
		const header = /^\s*\[\s*([^\]]+?)\s*\]\s*$/.exec(line);
		if (header) {
			section = header[1]!;
		} else if (section === profile) {
			const pair = /^\s*([\w]+)\s*=\s*(.*?)\s*$/.exec(line);
			if (pair) {
				values[pair[1]!] = pair[2]!;
			}
		}
	}

	return values.aws_access_key_id && values.aws_secret_access_key
		? {accessKeyId: values.aws_access_key_id, secretAccessKey: values.aws_secret_access_key, sessionToken: values.aws_session_token}
		: undefined;
}

function xmlValue(xml: string, tag: string): string | undefined {
	return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}

/**
 * Checks a role grant the way it will be used: by assuming the role with
 * STS for the shortest session. Returns when the session would expire.
 */
export async function checkAssumeRole(
	http: OutboundHttp,
	role: {roleArn: string; region: string; externalId?: string},
	credentials: AwsCredentials | undefined,
	now: Date,
): Promise<{expiresAt?: string}> {
	if (!credentials) {
		throw new MoatError(
			'No AWS credentials on this machine to assume the role with.',
			'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or configure ~/.aws/credentials), or pass --no-validate.',
		);
	}

	const host = `sts.${role.region}.amazonaws.com`;
	const signed = signGet({
		host,
		query: {
			Action: 'AssumeRole',
			Version: '2011-06-15',
			RoleArn: role.roleArn,
			RoleSessionName: 'moat-grant-check',
			DurationSeconds: '900',
			...(role.externalId ? {ExternalId: role.externalId} : {}),
		},
		region: role.region,
		service: 'sts',
		credentials,
		now,
	});
	let response;
	try {
		response = await http.get(signed.url, signed.headers);
	} catch (error) {
		throw new MoatError(`Could not reach AWS STS (${host}): ${(error as Error).message}.`, 'Check your network, or pass --no-validate to store the role unchecked.', 1, {cause: error});
	}

	if (response.status !== 200) {
		const reason = xmlValue(response.body, 'Message') ?? `HTTP ${response.status}`;
		throw new MoatError(`AWS refused to let these credentials assume ${role.roleArn}: ${reason}.`, 'Check the role\'s trust policy and the external id, or pass --no-validate.');
	}

	return {expiresAt: xmlValue(response.body, 'Expiration')};
}
