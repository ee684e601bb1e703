import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {startSshAgent} from './helpers/ssh-agent.js';
import {createGitRepository, gitReadmeMarker, startSshServer} from './helpers/ssh-server.js';
import {sshTest} from './helpers/ssh-test.js';
import {runCommand} from './helpers/ssh-tools.js';

// These prove the fixtures that the SSH agent proxy's integration tests
// stand on: if one of these fails, those failures are about the fixture,
// not about moat.

sshTest('a key held by the real ssh-agent logs in to the real sshd, which the client verifies by its fresh host key', async t => {
	const agent = await startSshAgent();
	t.teardown(agent.close);
	const trusted = await agent.generateKey('trusted');
	await agent.generateKey('untrusted');
	await agent.addKey(trusted.privateKeyFile);
	t.deepEqual(await agent.listFingerprints(), [trusted.fingerprint]);

	const server = await startSshServer({authorizedKeys: [trusted.publicKey]});
	t.teardown(server.close);
	t.regex(server.hostKeys[0]!, /^ssh-ed25519 AAAA\S+$/);
	t.is(server.knownHosts, `[127.0.0.1]:${server.port} ${server.hostKeys[0]!}\n`);

	const result = await runCommand('ssh', [...server.clientOptions, '-p', String(server.port), server.destination, 'echo', 'ok'], {env: agent.environment()});
	t.is(result.exitCode, 0, result.stderr + await server.log());
	t.is(result.stdout, 'ok\n');
	t.regex(await server.log(), new RegExp(`Accepted publickey for ${server.user} .* ED25519 ${escapeRegExp(trusted.fingerprint)}`));
});

sshTest('git clones the bare repository over the real sshd with the agent\'s key', async t => {
	const agent = await startSshAgent();
	t.teardown(agent.close);
	const key = await agent.generateKey('git');
	await agent.addKey(key.privateKeyFile);
	const server = await startSshServer({authorizedKeys: [key.publicKey]});
	t.teardown(server.close);
	const repository = await createGitRepository(server.directory);
	const clone = await fs.mkdtemp(path.join(os.tmpdir(), 'moat-clone-'));
	t.teardown(async () => fs.rm(clone, {recursive: true, force: true}));

	// The session's PATH is sshd's compiled-in default, not ours: git-upload-pack must be found there.
	const which = await runCommand('ssh', [...server.clientOptions, '-p', String(server.port), server.destination, 'command -v git-upload-pack'], {env: agent.environment()});
	t.is(which.exitCode, 0, which.stderr);

	const result = await runCommand('git', ['clone', '--quiet', server.repositoryUrl(repository), path.join(clone, 'work')], {
		env: {...agent.environment(), GIT_SSH_COMMAND: server.gitSshCommand, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null'},
	});
	t.is(result.exitCode, 0, result.stderr + await server.log());
	t.true((await fs.readFile(path.join(clone, 'work', 'README.md'), 'utf8')).includes(gitReadmeMarker));
});

sshTest('the real sshd refuses a login when the agent holds only a key it does not trust', async t => {
	const agent = await startSshAgent();
	t.teardown(agent.close);
	const trusted = await agent.generateKey('trusted');
	const untrusted = await agent.generateKey('untrusted');
	await agent.addKey(untrusted.privateKeyFile);
	const server = await startSshServer({authorizedKeys: [trusted.publicKey]});
	t.teardown(server.close);

	const result = await runCommand('ssh', [...server.clientOptions, '-p', String(server.port), server.destination, 'echo', 'ok'], {env: agent.environment()});
	t.is(result.exitCode, 255);
	t.is(result.stdout, '');
	t.regex(result.stderr, /Permission denied \(publickey\)/);
	// The untrusted key really was offered (so the refusal is sshd's decision, not a missing agent).
	t.regex(await server.log(), new RegExp(`Failed publickey for ${server.user} .* ED25519 ${escapeRegExp(untrusted.fingerprint)}`));

	// Swapping in the trusted key proves the refusal was about the key alone.
	await agent.removeAllKeys();
	await agent.addKey(trusted.privateKeyFile);
	const retry = await runCommand('ssh', [...server.clientOptions, '-p', String(server.port), server.destination, 'echo', 'ok'], {env: agent.environment()});
	t.is(retry.stdout, 'ok\n', retry.stderr);

	// authorized_keys is reread per login: dropping the key locks it out without a restart.
	await server.setAuthorizedKeys([untrusted.publicKey]);
	const revoked = await runCommand('ssh', [...server.clientOptions, '-p', String(server.port), server.destination, 'echo', 'ok'], {env: agent.environment()});
	t.is(revoked.exitCode, 255);
});

sshTest('the client refuses a server whose host key is not the one in known_hosts', async t => {
	const agent = await startSshAgent();
	t.teardown(agent.close);
	const key = await agent.generateKey('key');
	await agent.addKey(key.privateKeyFile);
	const first = await startSshServer({authorizedKeys: [key.publicKey]});
	t.teardown(first.close);
	const second = await startSshServer({authorizedKeys: [key.publicKey], hostKeyTypes: ['ed25519', 'ecdsa']});
	t.teardown(second.close);
	t.is(second.hostKeys.length, 2);
	t.regex(second.hostKeys[1]!, /^ecdsa-sha2-nistp256 AAAA/);

	// The second server's address with the first server's host keys: what a man in the middle looks like.
	const wrongKnownHosts = path.join(first.directory, 'wrong_known_hosts');
	await fs.writeFile(wrongKnownHosts, first.hostKeys.map(hostKey => `[127.0.0.1]:${second.port} ${hostKey}\n`).join(''));
	const options = second.clientOptions.map(option => option.replace(second.knownHostsFile, wrongKnownHosts));
	const result = await runCommand('ssh', [...options, '-p', String(second.port), second.destination, 'echo', 'ok'], {env: agent.environment()});
	t.is(result.exitCode, 255);
	t.regex(result.stderr, /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
});

sshTest('stopping the agent removes its socket (SIGTERM) or leaves a dead one (SIGKILL), keeping the keys', async t => {
	const graceful = await startSshAgent();
	t.teardown(graceful.close);
	const key = await graceful.generateKey('kept');
	await graceful.stop();
	await t.throwsAsync(fs.stat(graceful.socket), {code: 'ENOENT'});
	t.truthy(await fs.stat(key.privateKeyFile));

	const killed = await startSshAgent();
	t.teardown(killed.close);
	await killed.stop('SIGKILL');
	t.true((await fs.stat(killed.socket)).isSocket());
	const list = await runCommand('ssh-add', ['-l'], {env: killed.environment()});
	t.is(list.exitCode, 2, list.stderr);
});

function escapeRegExp(text: string): string {
	return text.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`);
}
