import process from 'node:process';
import test from 'ava';
import {environmentVariables} from '../../source/environment.js';
import {installHint, missingSshTools} from './ssh-tools.js';

// Kept apart from ssh-tools.ts so the fixtures themselves do not import
// ava and can be used by scripts (benchmarks) as well as tests.

const missing = missingSshTools();
const required = process.env[environmentVariables.requireDocker] === '1';

/** True when sshd, the OpenSSH client tools and git are all here. */
export const sshToolsAvailable = missing.length === 0;

/**
 * `test.serial` for tests that drive real OpenSSH programs. Without them
 * the tests are reported as skipped, with the reason printed once; with
 * MOAT_REQUIRE_DOCKER=1 (CI, which installs them) they run and fail.
 */
export const sshTest = sshToolsAvailable || required ? test.serial : test.serial.skip;

if (!sshToolsAvailable && !required) {
	console.warn(`OpenSSH tools missing (${missing.join(', ')}): SSH tests in this file are skipped. Install them with \`${installHint(missing)}\`, or set MOAT_REQUIRE_DOCKER=1 to make that a failure.`);
}
