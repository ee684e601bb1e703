import process from 'node:process';
import {createDockerEngine} from '../../source/engine/docker-engine.js';
import type {EngineEvent} from '../../source/engine/engine.js';
import {dockerTest} from '../helpers/docker.js';
import {eventually} from '../helpers/moat.js';

const engine = createDockerEngine(process.env);

dockerTest('the engine adapter reports container events for its labels only, and lists by label', async t => {
	const label = `moat.test-${process.pid}-${Date.now()}`;
	const events: EngineEvent[] = [];
	const subscription = await engine.events({[label]: 'yes'}, event => {
		events.push(event);
	});
	t.teardown(() => {
		subscription.close();
	});

	// Containers straight from the base image: the adapter, not moat's image, is under test.
	const mine = await engine.createContainer({
		name: `${label}-mine`, image: 'debian:bookworm-slim', command: ['true'], environment: {}, workingDirectory: '/',
		binds: [], labels: {[label]: 'yes'}, tty: false, openStdin: false,
	});
	const other = await engine.createContainer({
		name: `${label}-other`, image: 'debian:bookworm-slim', command: ['true'], environment: {}, workingDirectory: '/',
		binds: [], labels: {[label]: 'no'}, tty: false, openStdin: false,
	});
	t.teardown(async () => {
		await engine.removeContainer(mine, {force: true});
		await engine.removeContainer(other, {force: true});
	});

	await engine.startContainer(mine);
	await engine.startContainer(other);
	t.is(await engine.waitContainer(mine), 0);
	await eventually(async () => events.some(event => event.action === 'die'));
	t.true(events.every(event => event.containerId === mine), 'only the labelled container is reported');
	t.true(events.some(event => event.action === 'start'));

	const listed = await engine.listContainers({[label]: 'yes'});
	t.deepEqual(listed.map(container => container.id), [mine]);
	t.is((await engine.inspectContainer(mine))?.status, 'exited');
	await engine.removeContainer(mine, {force: false});
	t.is(await engine.inspectContainer(mine), undefined, 'a removed container inspects as undefined');
});
