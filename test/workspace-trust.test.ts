import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import {createWorkspaceTrust, describeRequests} from '../source/workspace/workspace-trust.js';

test('approvals are remembered per workspace and per kind, and only what was approved', async t => {
	const home = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-trust-'));
	t.teardown(async () => fs.rm(home, {recursive: true, force: true}));
	const trust = createWorkspaceTrust(home);
	const requests = [{kind: 'grant' as const, value: 'github'}, {kind: 'mount' as const, value: '/x:/data:ro'}];
	const w = {path: '/w', identity: '1:2'};
	t.deepEqual(await trust.unapproved(w, requests), requests);
	await trust.approve(w, [requests[0]!]);
	t.deepEqual(await trust.unapproved(w, requests), [requests[1]]);
	t.deepEqual(await trust.unapproved({path: '/other', identity: '1:3'}, requests), requests, 'another workspace is not approved');
	t.deepEqual(await trust.unapproved(w, [{kind: 'mount', value: '/x:/data'}]), [{kind: 'mount', value: '/x:/data'}], 'read-write is not read-only');
	t.deepEqual(await trust.unapproved({path: '/w', identity: '9:9'}, requests), requests, 'another folder at the same path starts over');
	await trust.approve({path: '/w', identity: '9:9'}, [requests[1]!]);
	t.deepEqual(await trust.unapproved({path: '/w', identity: '9:9'}, requests), [requests[0]], 'the old folder\'s approvals are not carried over');
	t.is((await fs.stat(path.join(home, 'trust.json'))).mode & 0o777, 0o600);
});

test('requests are described for people', t => {
	t.is(describeRequests([{kind: 'grant', value: 'github'}, {kind: 'base image', value: 'a/b:1'}, {kind: 'mount', value: '/x:/d'}, {kind: 'secret', value: 'op://Dev/Item/field'}]), 'the github grant, the base image a/b:1, the mount /x:/d, the secret op://Dev/Item/field');
});
