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

/**
 * The Docker Desktop topology: a second engine whose networks are not this
 * machine's (.ci/start-far-docker makes it and sets this variable).
 */
export const farEngine = process.env.MOAT_TEST_FAR_DOCKER_HOST;

/**
 * `test.serial` for tests on the far engine: skipped without one, unless
 * Docker tests are required, when its absence fails them.
 */
export const farEngineTest = farEngine
	? test.serial
	: (required
		? ((title: string) => {
			test.serial(title, t => {
				t.fail('MOAT_TEST_FAR_DOCKER_HOST is not set: run .ci/start-far-docker and export it.');
			});
		}) as unknown as typeof test.serial
		: test.serial.skip);
