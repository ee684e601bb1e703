import {checkAssumeRole, hostAwsCredentials} from '../aws-role.js';
import type {AwsRoleProvider} from './provider.js';

/**
 * AWS: a role to assume, granted with moat grant aws --role ARN. Nothing is
 * injected into headers and strict mode opens no host for it: the bottle's
 * AWS config (aws-credential-process.ts, region-specific, so not a fixed
 * placeholder) fetches short-lived sessions from moat through the proxy.
 */
export const aws: AwsRoleProvider = {
	name: 'aws',
	title: 'AWS role',
	aliases: [],
	help: {usage: 'aws --role ARN [--region R] [--session-duration 15m] [--external-id X]'},
	grantWith: 'aws-role',
	detect: async context => hostAwsCredentials(context.variables, context.userHome),
	validate: async (role, credentials, http, now) => checkAssumeRole(http, role, credentials, now),
	injection: [],
	answered: [],
	placeholders: {},
	// The credential_process helper asks moat's proxy for a session with curl.
	containerPackages: ['curl'],
};
