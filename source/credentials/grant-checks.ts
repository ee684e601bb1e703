import {environmentVariables} from '../environment.js';
import {printable} from '../text/printable.js';

/**
 * The checks on what a person types for an SSH or AWS grant, as pure
 * functions: `moat grant ssh|aws` and the grant wizard both ask these, and
 * each says how to fix it in its own words (a flag, or the field in front
 * of the user).
 */

/** How long a role's sessions last when no one says (moat grant aws --session-duration's default). */
export const defaultAwsSessionDuration = '15m';

/** A role ARN as the hints show it. */
export const awsRoleExample = 'arn:aws:iam::123456789012:role/NAME';

/** What is wrong with a host an SSH key is granted for (a name or address, an optional port), or undefined. */
export function sshHostProblem(host: string): string | undefined {
	return /^[a-z\d]([a-z\d.-]*[a-z\d])?(:\d+)?$/i.test(host) ? undefined : `"${printable(host)}" is not a host name.`;
}

/** What is wrong with the ARN of a role to assume, or undefined. */
export function awsRoleProblem(role: string): string | undefined {
	return /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(role) ? undefined : `"${printable(role)}" is not an IAM role ARN.`;
}

/** What is wrong with an AWS region's name, or undefined. */
export function awsRegionProblem(region: string): string | undefined {
	return /^[a-z]{2}(-[a-z]+)+-\d$/.test(region) ? undefined : `"${printable(region)}" is not an AWS region.`;
}

/** The region a role grant gets when none is named: the AWS CLI's variables, then us-east-1. */
export function defaultAwsRegion(variables: Readonly<Record<string, string | undefined>>): string {
	return variables[environmentVariables.awsRegion] || variables[environmentVariables.awsDefaultRegion] || 'us-east-1';
}

/** Turns "15m", "1h", "900s" or "900" into seconds. */
export function parseDuration(text: string): number | undefined {
	const match = /^(\d+)([smh]?)$/.exec(text.trim());
	if (!match) {
		return undefined;
	}

	return Number(match[1]) * ({'': 1, s: 1, m: 60, h: 3600} as const)[match[2] as '' | 's' | 'm' | 'h'];
}
