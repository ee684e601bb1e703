import test from 'ava';
import {logRing} from '../source/engine/docker-engine.js';
import {exitCodes, MoatError} from '../source/errors.js';

test('the engine keeps three files of 100m of a bottle\'s output unless MOAT_ENGINE_LOG_SIZE says otherwise', t => {
	t.deepEqual(logRing({}), {'max-size': '100m', 'max-file': '3'});
	t.deepEqual(logRing({MOAT_ENGINE_LOG_SIZE: ''}), {'max-size': '100m', 'max-file': '3'});
	t.deepEqual(logRing({MOAT_ENGINE_LOG_SIZE: '1g'}), {'max-size': '1g', 'max-file': '3'});
});

test('a MOAT_ENGINE_LOG_SIZE that is not a size is a usage error naming it', t => {
	for (const size of ['0m', '100', '10 m', '1t', '-5m', '\u001B[31m5m']) {
		const error = t.throws(() => logRing({MOAT_ENGINE_LOG_SIZE: size}), {instanceOf: MoatError}, size);
		t.is(error?.exitCode, exitCodes.usage);
		t.regex(error?.message ?? '', /^MOAT_ENGINE_LOG_SIZE is ".*", not a size\.$/);
		t.false(error?.message.includes('\u001B'));
	}
});
