import process from 'node:process';
import test from 'ava';
import {createDockerEngine} from '../../source/engine/docker-engine.js';
import {environmentVariables} from '../../source/environment.js';

/** True when a Docker engine answers here. */
export const engineAvailable = await createDockerEngine(process.env)
	.ping()
	.then(() => true)
	.catch(() => false);

const required = process.env[environmentVariables.requireDocker] === '1';

/**
 * `test.serial` for tests that need a real engine. Without one they are
 * reported as skipped, with the reason printed once; with
 * MOAT_REQUIRE_DOCKER=1 (CI) they run and fail instead.
 */
export const dockerTest = engineAvailable || required ? test.serial : test.serial.skip;

if (!engineAvailable && !required) {
	console.warn('Docker engine unreachable: integration tests in this file are skipped. Set MOAT_REQUIRE_DOCKER=1 to make that a failure.');
}
