import fs from 'node:fs/promises';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest} from '../helpers/docker.js';
import {auditRecordsOf, createSandbox, createWorkspace, destroyRuns, listRuns, moat} from '../helpers/moat.js';
import {startSshAgent} from '../helpers/ssh-agent.js';
import {createGitRepository, gitReadmeMarker, startSshServer} from '../helpers/ssh-server.js';

/**
 * The filtering SSH agent against real peers: OpenSSH's sshd serving a git
 * repository on 127.0.0.1 (reached through moat's proxy as git.test via
 * MOAT_UPSTREAM_OVERRIDES) and a real ssh-agent holding two keys, one of
 * them granted.
 */

async function createWorld(t: ExecutionContext) {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'README.md': '# ssh\n'});
	const agent = await startSshAgent();
	const granted = await agent.generateKey('granted-key');
	const other = await agent.generateKey('other-key');
	await agent.addKey(granted.privateKeyFile);
	await agent.addKey(other.privateKeyFile);
	const server = await startSshServer({authorizedKeys: [granted.publicKey, other.publicKey]});
	const repository = await createGitRepository(server.directory);
	const env: Record<string, string> = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		SSH_AUTH_SOCK: agent.socket,
		MOAT_UPSTREAM_OVERRIDES: `git.test=127.0.0.1:${server.port}`,
	};
	t.teardown(async () => {
		await destroyRuns(env);
		await sandbox.cleanup();
		await server.close();
		await agent.close();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {sandbox, workspace, agent, granted, other, server, repository, env, run: async (args: readonly string[], extra: Record<string, string> = {}) => moat(args, {env: {...env, ...extra}})};
}

dockerTest('with ssh:git.test granted for one key, the bottle\'s agent lists only that key, git clone over SSH through the proxy works, the signature is audited, and the private key is nowhere in the container', async t => {
	const world = await createWorld(t);
	const grant = await world.run(['grant', 'ssh', '--host', 'git.test', '--key', world.granted.fingerprint]);
	t.is(grant.code, 0, grant.stderr);

	const url = `ssh://${world.server.user}@git.test/${world.repository.replace(/^\//, '')}`;
	const result = await world.run(['run', world.workspace, '--grant', 'ssh:git.test', '--', 'sh', '-c', [
		'ssh-add -l',
		`git clone -q ${url} /tmp/clone`,
		'cat /tmp/clone/README.md',
		'grep -rl "PRIVATE KEY" / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head -3; true',
	].join(' && ')]);
	t.is(result.code, 0, result.stderr);
	t.true(result.stdout.includes(world.granted.fingerprint), result.stdout + result.stderr);
	t.false(result.stdout.includes(world.other.fingerprint), 'the other key is not listed');
	t.true(result.stdout.includes(gitReadmeMarker), 'the clone worked');
	t.false(result.stdout.includes('PRIVATE KEY'));

	const [run] = await listRuns<RunMetadata>(world.env);
	const audit = await auditRecordsOf(world.sandbox.moatHome, run!.id);
	t.true(audit.some(record => record.type === 'ssh.signed' && record.data.fingerprint === world.granted.fingerprint && record.data.host === 'git.test'));
	t.true((await world.server.log()).includes(world.granted.fingerprint), 'sshd accepted the granted key');
	t.false(await fs.stat(path.join(world.sandbox.moatHome, 'ssh', run!.id)).then(() => true, () => false), 'the run\'s agent folder is gone with the run');
});
