import fs from 'node:fs/promises';
import path from 'node:path';
import {writeFileAtomic} from '../files/atomic-write.js';
import type {BindMount} from '../engine/engine.js';
import {MoatError} from '../errors.js';
import type {OutboundHttp} from '../network/outbound-http.js';
import {awsCredentialsPath, hooksHost} from '../network/moat-hooks.js';
import type {AwsCredentials} from './aws-signature.js';
import {assumeRole, stsHost, type AwsRole, type TemporaryAwsCredentials} from './aws-role.js';
import type {Grant} from './grant.js';
import {printable} from '../text/printable.js';

/**
 * AWS for runs (README: The network): the container never holds the host's keys. Its
 * AWS config names a `credential_process` helper that asks moat, through
 * the proxy with the run's token, for credentials; the daemon assumes the
 * granted role with the host's own credentials and hands out the
 * short-lived session, cached per run until shortly before it expires.
 */

/** What a credential_process prints (the AWS CLI and SDKs read version 1). */
export type CredentialProcessOutput = {
	Version: 1;
	AccessKeyId: string;
	SecretAccessKey: string;
	SessionToken: string;
	Expiration: string;
};

/** An aws grant's role, as runs assume it. */
export type AwsRunRole = AwsRole & {sessionDurationSeconds: number};

export const helperScriptPath = '/etc/moat/aws-credentials';
export const configFilePath = '/etc/moat/aws-config';

const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d$/;
const fifteenMinutes = 15 * 60 * 1000;

/** The role an aws grant names, or undefined when it is not a usable one (fail closed). */
export function awsRoleOf(grant: Pick<Grant, 'provider' | 'details' | 'secret'>): AwsRunRole | undefined {
	const {roleArn, region, sessionDurationSeconds} = grant.details;
	const seconds = Number(sessionDurationSeconds ?? 900);
	if (grant.provider !== 'aws' || !roleArn || !region || !regionPattern.test(region) || !Number.isInteger(seconds) || seconds < 900 || seconds > 43_200) {
		return undefined;
	}

	return {roleArn, region, sessionDurationSeconds: seconds, ...grant.secret.externalId ? {externalId: grant.secret.externalId} : {}};
}

/**
 * How long before its expiry a session is replaced: 15 minutes, or half the
 * session when that is shorter. botocore treats credentials with under 15
 * minutes left as due for a refresh and runs the helper on every call from
 * then on; a session handed out with more than that left keeps the helper
 * quiet, and a 15-minute session still serves half its life.
 */
export function refreshMarginMilliseconds(sessionDurationSeconds: number): number {
	return Math.min(fifteenMinutes, (sessionDurationSeconds * 1000) / 2);
}

/** Whether a cached session may still be handed out at `now`. An expiry that cannot be read is never fresh. */
export function isFresh(expiration: string, now: Date, sessionDurationSeconds: number): boolean {
	const expires = Date.parse(expiration);
	return Number.isFinite(expires) && expires - now.getTime() > refreshMarginMilliseconds(sessionDurationSeconds);
}

export function credentialProcessOutput(credentials: TemporaryAwsCredentials): CredentialProcessOutput {
	return {
		Version: 1,
		AccessKeyId: credentials.accessKeyId,
		SecretAccessKey: credentials.secretAccessKey,
		SessionToken: credentials.sessionToken,
		Expiration: credentials.expiration,
	};
}

/** An error the proxy answers with its status (403: the run may not have AWS credentials). */
function refusal(message: string): Error {
	return Object.assign(new Error(message), {status: 403});
}

export type RunAwsCredentialsOptions = {
	runId: string;
	http: OutboundHttp;
	/** The run's aws grant as stored now, read at every request: a revoked or changed grant applies at once. */
	role(): Promise<AwsRunRole | undefined>;
	/** The host's own AWS credentials (see hostAwsCredentials): read for each new session, never cached here. */
	hostCredentials(): Promise<AwsCredentials | undefined>;
	now(): Date;
	/** A new session was assumed and handed out (for the audit log: names and times, never values). */
	issued?(session: {host: string; roleArn: string; expiresAt: string}): void;
};

/**
 * One run's AWS credentials: a session assumed on first use and reused
 * until it is due for a refresh. Requests that arrive together share one
 * AssumeRole; a failure is not cached.
 */
export function createRunAwsCredentials(options: RunAwsCredentialsOptions) {
	let cached: {key: string; durationSeconds: number; credentials: TemporaryAwsCredentials} | undefined;
	let pending: {key: string; promise: Promise<TemporaryAwsCredentials>} | undefined;

	return {
		async credentials(): Promise<CredentialProcessOutput> {
			const role = await options.role();
			if (!role) {
				cached = undefined;
				throw refusal('the run\'s aws grant is gone (revoked, or unreadable); grant it again with moat grant aws');
			}

			const key = JSON.stringify([role.roleArn, role.region, role.externalId ?? '', role.sessionDurationSeconds]);
			if (cached?.key === key && isFresh(cached.credentials.expiration, options.now(), cached.durationSeconds)) {
				return credentialProcessOutput(cached.credentials);
			}

			if (pending?.key !== key) {
				const promise = (async () => assumeRole(options.http, role, await options.hostCredentials(), options.now(), {
					name: `moat-${options.runId}`,
					durationSeconds: role.sessionDurationSeconds,
				}))();
				pending = {key, promise};
				promise.then(credentials => {
					cached = {key, durationSeconds: role.sessionDurationSeconds, credentials};
					options.issued?.({host: stsHost(role.region), roleArn: role.roleArn, expiresAt: credentials.expiration});
				}, () => undefined).finally(() => {
					if (pending?.promise === promise) {
						pending = undefined;
					}
				});
			}

			return credentialProcessOutput(await pending.promise);
		},
	};
}

export type RunAwsCredentials = ReturnType<typeof createRunAwsCredentials>;

/**
 * The helper the AWS config names. curl reads only lowercase http_proxy for
 * plain HTTP, so the proxy URL (with the run's token) is passed explicitly.
 * On a refusal it prints moat's reason to stderr, which the AWS CLI shows.
 */
export const helperScript = `#!/bin/sh
# AWS credential_process: short-lived credentials for the run's role, from
# moat through the proxy with the run's token. Nothing is stored here.
proxy="\${HTTP_PROXY:-\${http_proxy:-}}"
if [ -z "$proxy" ]; then
	echo "moat: HTTP_PROXY is not set; AWS credentials come from moat through the proxy." >&2
	exit 1
fi
answer=$(curl -sS -m 60 --proxy "$proxy" -w '\\n%{http_code}' http://${hooksHost}${awsCredentialsPath}) || exit 1
status=$(printf '%s\\n' "$answer" | tail -n 1)
body=$(printf '%s\\n' "$answer" | sed '$d')
if [ "$status" != 200 ]; then
	printf '%s\\n' "$body" >&2
	exit 1
fi
printf '%s\\n' "$body"
`;

/** The AWS config the container's CLI and SDKs read: credentials from the helper, the grant's region. */
export function awsConfig(region: string): string {
	return `[default]\ncredential_process = ${helperScriptPath}\nregion = ${region}\n`;
}

/** Variables that point AWS tools at the config (no keys: those come from the helper, for minutes at a time). */
export function awsContainerEnvironment(region: string): Record<string, string> {
	return {
		AWS_CONFIG_FILE: configFilePath,
		AWS_REGION: region,
		AWS_DEFAULT_REGION: region,
		// The v2 JavaScript SDK reads the config file (and so credential_process) only when asked.
		AWS_SDK_LOAD_CONFIG: '1',
	};
}

/**
 * Writes the helper and the region's config into MOAT_HOME (the same
 * content every time; neither holds a secret) and returns their read-only
 * mounts.
 */
export async function awsCredentialProcessMounts(moatHome: string, region: string): Promise<BindMount[]> {
	if (!regionPattern.test(region)) {
		throw new MoatError(`"${printable(region)}" is not an AWS region.`, 'Grant the role again with moat grant aws --region REGION.');
	}

	const directory = path.join(moatHome, 'aws');
	await fs.mkdir(directory, {recursive: true, mode: 0o755});
	const script = path.join(directory, 'credential-process');
	const config = path.join(directory, `config-${region}`);
	await writeFileAtomic(script, helperScript, 0o755);
	await writeFileAtomic(config, awsConfig(region), 0o644);
	return [
		{source: script, target: helperScriptPath, readOnly: true},
		{source: config, target: configFilePath, readOnly: true},
	];
}
