import fs from 'node:fs/promises';
import path from 'node:path';
import {MoatError} from '../errors.js';
import type {OutboundHttp} from '../network/outbound-http.js';
import {signGet, type AwsCredentials} from './aws-signature.js';
import {environmentVariables} from '../environment.js';
import {printable} from '../text/printable.js';

/**
 * The host's own AWS credentials, for assuming the granted role: the
 * environment first, then ~/.aws/credentials (AWS_PROFILE or default), as
 * the AWS CLI looks for them. They never leave the host.
 */
export async function hostAwsCredentials(variables: Readonly<Record<string, string | undefined>>, userHome: string): Promise<AwsCredentials | undefined> {
	const accessKeyId = variables[environmentVariables.awsAccessKeyId];
	const secretAccessKey = variables[environmentVariables.awsSecretAccessKey];
	if (accessKeyId && secretAccessKey) {
		return {accessKeyId, secretAccessKey, sessionToken: variables[environmentVariables.awsSessionToken] || undefined};
	}

	const file = variables[environmentVariables.awsSharedCredentialsFile] ?? path.join(userHome, '.aws', 'credentials');
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch {
		return undefined;
	}

	const profile = variables[environmentVariables.awsProfile] ?? 'default';
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

/** A role grant's facts, as AssumeRole needs them. */
export type AwsRole = {roleArn: string; region: string; externalId?: string};

/** Temporary credentials from AssumeRole: a session token and when it ends, besides the keys. */
export type TemporaryAwsCredentials = {accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string};

/** The temporary credentials in an AssumeRole answer, if all of them are there. */
export function parseAssumeRoleResponse(xml: string): TemporaryAwsCredentials | undefined {
	const [accessKeyId, secretAccessKey, sessionToken, expiration] = ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration'].map(tag => xmlValue(xml, tag));
	return accessKeyId && secretAccessKey && sessionToken && expiration ? {accessKeyId, secretAccessKey, sessionToken, expiration} : undefined;
}

/** The regional STS endpoint a role is assumed through (what MOAT_UPSTREAM_OVERRIDES names). */
export function stsHost(region: string): string {
	return `sts.${region}.amazonaws.com`;
}

type AssumeRoleOutcome = {ok: true; body: string} | {ok: false; unreachable: boolean; reason: string; cause?: unknown};

/**
 * One AssumeRole call, signed with `credentials`: STS's answer, or why there
 * is none. The reason is STS's own message (or the network error): it never
 * holds a key, so callers may show it.
 */
async function requestAssumeRole(
	http: OutboundHttp,
	role: AwsRole,
	credentials: AwsCredentials,
	now: Date,
	session: {name: string; durationSeconds: number},
): Promise<AssumeRoleOutcome> {
	const signed = signGet({
		host: stsHost(role.region),
		query: {
			Action: 'AssumeRole',
			Version: '2011-06-15',
			RoleArn: role.roleArn,
			RoleSessionName: session.name,
			DurationSeconds: String(session.durationSeconds),
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
		return {ok: false, unreachable: true, reason: (error as Error).message, cause: error};
	}

	if (response.status !== 200) {
		return {ok: false, unreachable: false, reason: (xmlValue(response.body, 'Message') ?? `HTTP ${response.status}`).slice(0, 500)};
	}

	return {ok: true, body: response.body};
}

function missingHostCredentials(hint: string): MoatError {
	return new MoatError('No AWS credentials on this machine to assume the role with.', hint);
}

/**
 * Checks a role grant the way it will be used: by assuming the role with
 * STS for the shortest session. Returns when the session would expire.
 */
export async function checkAssumeRole(
	http: OutboundHttp,
	role: AwsRole,
	credentials: AwsCredentials | undefined,
	now: Date,
): Promise<{expiresAt?: string}> {
	if (!credentials) {
		throw missingHostCredentials('Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or configure ~/.aws/credentials), or pass --no-validate.');
	}

	const outcome = await requestAssumeRole(http, role, credentials, now, {name: 'moat-grant-check', durationSeconds: 900});
	if (!outcome.ok && outcome.unreachable) {
		throw new MoatError(`Could not reach AWS STS (${stsHost(role.region)}): ${printable(outcome.reason)}.`, 'Check your network, or pass --no-validate to store the role unchecked.', 1, {cause: outcome.cause});
	}

	if (!outcome.ok) {
		throw new MoatError(`AWS refused to let these credentials assume ${printable(role.roleArn)}: ${printable(outcome.reason)}.`, 'Check the role\'s trust policy and the external id, or pass --no-validate.');
	}

	return {expiresAt: xmlValue(outcome.body, 'Expiration')};
}

/**
 * Assumes the role for a run: temporary credentials for one session, named
 * so that CloudTrail shows which run used them. Errors say STS's reason,
 * never a key.
 */
export async function assumeRole(
	http: OutboundHttp,
	role: AwsRole,
	credentials: AwsCredentials | undefined,
	now: Date,
	session: {name: string; durationSeconds: number},
): Promise<TemporaryAwsCredentials> {
	const hint = 'Check the aws grant (moat grant list) and the role\'s trust policy.';
	if (!credentials) {
		// The daemon reads the environment it was started with (and ~/.aws/credentials at every use).
		throw missingHostCredentials('Configure ~/.aws/credentials, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and run moat proxy restart from that shell.');
	}

	const outcome = await requestAssumeRole(http, role, credentials, now, session);
	if (!outcome.ok) {
		throw outcome.unreachable
			? new MoatError(`Could not reach AWS STS (${stsHost(role.region)}): ${printable(outcome.reason)}.`, hint, 1, {cause: outcome.cause})
			: new MoatError(`AWS refused to let the host's credentials assume ${printable(role.roleArn)}: ${printable(outcome.reason)}.`, hint);
	}

	const temporary = parseAssumeRoleResponse(outcome.body);
	if (!temporary) {
		throw new MoatError(`AWS STS (${stsHost(role.region)}) answered AssumeRole without credentials.`, hint);
	}

	return temporary;
}
