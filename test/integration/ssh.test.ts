import fs from 'node:fs/promises';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import type {RunMetadata} from '../../source/runs/run-metadata.js';
import {dockerTest, farEngine, farEngineTest} from '../helpers/docker.js';
import {auditRecordsOf, createSandbox, createWorkspace, destroyRuns, docker, eventually, listRuns, moat, networkEntriesOf, type AuditRecord} from '../helpers/moat.js';
import {startSshAgent} from '../helpers/ssh-agent.js';
import {createGitRepository, gitReadmeMarker, startSshServer} from '../helpers/ssh-server.js';

/**
 * The filtering SSH agent against real peers: OpenSSH's sshd serving a git
 * repository on 127.0.0.1 (reached through moat's proxy as git.test via
 * MOAT_UPSTREAM_OVERRIDES) and a real ssh-agent holding two keys, one of
 * them granted.
 */

/**
 * One test's world: a sandbox, a workspace owned by uid 1000 (with
 * `files`), a real ssh-agent holding the granted and the other key, and a
 * real sshd, reached as git.test, trusting both. `secondServer` adds
 * another sshd, with its own host key, trusting only the granted key,
 * reached as other.test.
 */
async function createWorld(t: ExecutionContext, options: {files?: Record<string, string>; secondServer?: boolean; engine?: string} = {}) {
	const sandbox = await createSandbox();
	const workspace = await createWorkspace(1000, 1000, {'README.md': '# ssh\n', ...options.files});
	const agent = await startSshAgent();
	const granted = await agent.generateKey('granted-key');
	const other = await agent.generateKey('other-key');
	await agent.addKey(granted.privateKeyFile);
	await agent.addKey(other.privateKeyFile);
	const server = await startSshServer({authorizedKeys: [granted.publicKey, other.publicKey]});
	const secondServer = options.secondServer ? await startSshServer({authorizedKeys: [granted.publicKey]}) : undefined;
	const repository = await createGitRepository(server.directory);
	const env: Record<string, string> = {
		...sandbox.env,
		MOAT_KEYRING_BACKEND: 'file',
		SSH_AUTH_SOCK: agent.socket,
		MOAT_UPSTREAM_OVERRIDES: [`git.test=127.0.0.1:${server.port}`, `other.test=127.0.0.1:${(secondServer ?? server).port}`].join(','),
		...options.engine ? {DOCKER_HOST: options.engine} : {},
	};
	t.teardown(async () => {
		await destroyRuns(env);
		await sandbox.cleanup();
		await server.close();
		await secondServer?.close();
		await agent.close();
		await fs.rm(workspace, {recursive: true, force: true});
	});
	return {
		sandbox, workspace, agent, granted, other, server, secondServer, repository, env,
		cloneUrl: `ssh://${server.user}@git.test/${repository.replace(/^\//, '')}`,
		run: async (args: readonly string[], extra: Record<string, string> = {}) => moat(args, {env: {...env, ...extra}}),
		async grant() {
			const grant = await moat(['grant', 'ssh', '--host', 'git.test', '--key', granted.fingerprint], {env});
			t.is(grant.code, 0, grant.stderr);
		},
		/** The audit entries of the world's latest run. */
		async audit() {
			const runs = await listRuns<RunMetadata>(env);
			const [latest] = runs.sort((one, other) => other.createdAt.localeCompare(one.createdAt));
			return auditRecordsOf(sandbox.moatHome, latest!.id);
		},
	};
}

/** sshd's log lines that let a key in (not the pre-signature "Accepted key" of a query). */
function acceptedLogins(log: string): string[] {
	return log.split('\n').filter(line => line.includes('Accepted publickey'));
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

/**
 * Asks the bottle's agent (SSH_AUTH_SOCK) to sign an SSH login with the
 * public key in ARGV[0], bypassing any client's own checks: OpenSSH's
 * ssh and ssh-keygen ask the agent only for keys it lists. Prints the
 * answer's message type (5: failure, 14: signature). Perl, because the
 * image has it.
 */
const rawSignScript = String.raw`use strict; use IO::Socket::UNIX; use MIME::Base64;
open(my $file, '<', $ARGV[0]) or die "open: $!"; my (undef, $base64) = split(' ', <$file>); my $blob = decode_base64($base64);
sub wire { return pack('N', length($_[0])) . $_[0]; }
my $login = wire('s' x 32) . chr(50) . wire('root') . wire('ssh-connection') . wire('publickey') . chr(1) . wire('ssh-ed25519') . wire($blob);
my $request = chr(13) . wire($blob) . wire($login) . pack('N', 0);
my $agent = IO::Socket::UNIX->new(Peer => $ENV{SSH_AUTH_SOCK}) or die "connect: $!";
print $agent pack('N', length($request)) . $request;
read($agent, my $length, 4) == 4 or die "no answer"; read($agent, my $answer, unpack('N', $length));
print "agent answered ", ord($answer), "\n";
`;

dockerTest('the key that is not granted is neither listed nor usable: ssh with its public key fails, sshd never accepts it, and a direct sign request is refused and audited', async t => {
	const world = await createWorld(t, {files: {'raw-sign.pl': rawSignScript}});
	await fs.copyFile(world.other.publicKeyFile, path.join(world.workspace, 'other.pub'));
	await world.grant();

	// OpenSSH's ssh asks the agent only for keys it lists, so with the other
	// key unlisted it tries (and fails) to load a private key from the .pub
	// file; the raw requests then ask the agent for it regardless.
	const result = await world.run(['run', world.workspace, '--grant', 'ssh:git.test', '--', 'sh', '-c', [
		'ssh-add -l',
		`ssh -o IdentitiesOnly=yes -o BatchMode=yes -i /workspace/other.pub ${world.server.user}@git.test true; echo "ssh exited $?"`,
		'perl /workspace/raw-sign.pl /workspace/other.pub',
		'perl /workspace/raw-sign.pl /workspace/other.pub',
	].join('; ')]);
	t.is(result.code, 0, result.stderr);
	t.true(result.stdout.includes(world.granted.fingerprint), result.stdout + result.stderr);
	t.false(result.stdout.includes(world.other.fingerprint), 'ssh-add -l does not list the other key');
	t.regex(result.stdout, /ssh exited 255/, result.stderr);
	t.regex(result.stdout, /(agent answered 5\n){2}/, 'each direct request is an agent failure');
	t.false(result.stdout.includes('agent answered 14'));

	const log = await world.server.log();
	t.deepEqual(acceptedLogins(log), [], log);
	const audit = await world.audit();
	const refusals = audit.filter(record => record.type === 'request.blocked' && record.data.host === 'ssh-agent');
	t.true(refusals.length >= 2, JSON.stringify(audit));
	t.true(refusals.every(record => String(record.data.reason).includes(`key ${world.other.fingerprint} is not granted`)), JSON.stringify(refusals));
	t.false(audit.some(record => record.type === 'ssh.signed'));
	const daemonLog = await fs.readFile(path.join(world.sandbox.moatHome, 'daemon.log'), 'utf8');
	t.true(daemonLog.includes(`SSH agent refused: key ${world.other.fingerprint} is not granted to this run`), daemonLog);
});

/** ssh options that trust any server: only the agent's own check is left. */
const noHostKeyChecking = '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes';

function agentRefusals(audit: AuditRecord[]): string[] {
	return audit.filter(record => record.type === 'request.blocked' && record.data.host === 'ssh-agent').map(record => String(record.data.reason));
}

dockerTest('a server whose host key is not the granted host\'s gets no signature, even when it trusts the key: neither another host nor an impostor answering as git.test', async t => {
	const world = await createWorld(t, {secondServer: true});
	const second = world.secondServer!;
	await world.grant();

	// Another host, reached with host key checking off: only the agent stands in the way.
	const toOther = await world.run(['run', world.workspace, '--grant', 'ssh:git.test', '--', 'sh', '-c', `ssh ${noHostKeyChecking} ${second.user}@other.test true; echo "ssh exited $?"`]);
	t.is(toOther.code, 0, toOther.stderr);
	t.regex(toOther.stdout, /ssh exited 255/, toOther.stderr);
	t.regex(await second.log(), /Connection from 127\.0\.0\.1/, 'ssh reached the second server');
	t.deepEqual(acceptedLogins(await second.log()), []);
	const otherRefusals = agentRefusals(await world.audit());
	// Refused when the client binds its session to that server (not a granted host), before any signature is asked.
	t.true(otherRefusals.some(reason => reason.includes('session-bind for a server that is not a granted host') || reason.includes('is not one of git.test\'s')), otherRefusals.join('\n'));
	t.false((await world.audit()).some(record => record.type === 'ssh.signed'));

	// The impostor: git.test itself now leads to the second server.
	const impostorEnvironment = {MOAT_UPSTREAM_OVERRIDES: `git.test=127.0.0.1:${second.port}`};
	const impostor = await world.run(['run', world.workspace, '--grant', 'ssh:git.test', '--', 'sh', '-c', [
		`ssh -o BatchMode=yes ${second.user}@git.test true; echo "checked ssh exited $?"`,
		`ssh ${noHostKeyChecking} ${second.user}@git.test true; echo "unchecked ssh exited $?"`,
	].join('; ')], impostorEnvironment);
	t.is(impostor.code, 0, impostor.stderr);
	t.regex(impostor.stdout, /checked ssh exited 255/);
	t.regex(impostor.stdout, /unchecked ssh exited 255/);
	t.regex(impostor.stdout + impostor.stderr, /Host key verification failed/, 'moat\'s known_hosts does not know the impostor');
	t.deepEqual(acceptedLogins(await second.log()), [], await second.log());
	const impostorAudit = await world.audit();
	const impostorRefusals = agentRefusals(impostorAudit);
	t.true(impostorRefusals.some(reason => reason.includes('session-bind for a server that is not a granted host') || reason.includes('is not one of git.test\'s')), impostorRefusals.join('\n'));
	t.false(impostorAudit.some(record => record.type === 'ssh.signed'));
	t.deepEqual(acceptedLogins(await world.server.log()), [], 'the real git.test was never involved');
});

dockerTest('a run without an ssh grant has no agent: SSH_AUTH_SOCK is unset and /etc/moat/ssh and moat\'s ssh config are absent', async t => {
	const world = await createWorld(t);
	await world.grant();
	const result = await world.run(['run', world.workspace, '--', 'sh', '-c', [
		'echo "socket=${SSH_AUTH_SOCK-unset}"',
		'test -e /etc/moat/ssh && echo "folder present" || echo "folder absent"',
		'test -e /etc/moat/ssh-agent && echo "agent folder present" || echo "agent folder absent"',
		'test -e /etc/ssh/ssh_config.d/moat.conf && echo "config present" || echo "config absent"',
		'ssh-add -l; echo "ssh-add exited $?"',
		// Asking the proxy for an agent directly, as the relay does: refused.
		'curl -sS -p -o /dev/null http://moat.hooks:22/ 2>&1; echo "agent tunnel exited $?"',
	].join('; ')]);
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /^socket=unset$/m);
	t.regex(result.stdout, /^folder absent$/m);
	t.regex(result.stdout, /^agent folder absent$/m);
	t.regex(result.stdout, /CONNECT tunnel failed, response 403\nagent tunnel exited 56$/m);
	t.regex(result.stdout, /^config absent$/m);
	// 2: "Could not open a connection to your authentication agent."
	t.regex(result.stdout, /^ssh-add exited 2$/m);
	t.false(await fs.stat(path.join(world.sandbox.moatHome, 'ssh')).then(async () => (await fs.readdir(path.join(world.sandbox.moatHome, 'ssh'))).length > 0, () => false), 'the daemon made no agent folder');
});

dockerTest('with no reachable SSH agent, a run with an ssh grant fails before it starts, saying what is wrong and what to do', async t => {
	const world = await createWorld(t);
	await world.grant();
	const attempt = async (title: string, message: RegExp, extra: Record<string, string> = {}) => {
		const result = await world.run(['run', world.workspace, '--grant', 'ssh:git.test', '--', 'true'], extra);
		// MoatError's default exit code, exitCodes.failure.
		t.is(result.code, 1, `${title}: ${result.stderr}`);
		t.regex(result.stderr, message, title);
		t.regex(result.stderr, /Start ssh-agent, add the key with ssh-add, and run again from that shell \(the run has ssh:git\.test\)\./, title);
	};

	await attempt('SSH_AUTH_SOCK unset', /SSH_AUTH_SOCK is not set: there is no SSH agent to sign with\./, {SSH_AUTH_SOCK: ''});
	// SIGKILL leaves the socket file behind (ECONNREFUSED); then it is gone too (ENOENT).
	await world.agent.stop('SIGKILL');
	await attempt('a dead agent\'s socket', new RegExp(`The SSH agent at ${world.agent.socket.replaceAll('.', String.raw`\.`)} cannot be reached \\(ECONNREFUSED\\)`));
	await fs.rm(world.agent.socket, {force: true});
	await attempt('no socket', /The SSH agent at \S+ cannot be reached \(ENOENT\)/);
	t.deepEqual(await listRuns(world.env), [], 'no run was started');
});

dockerTest('the bottle\'s agent socket is the gateway\'s relay in a read-only volume of the engine: no host socket is mounted into the bottle, and both go with the run', async t => {
	const world = await createWorld(t);
	await world.grant();
	const started = await world.run(['run', world.workspace, '-d', '--grant', 'ssh:git.test', '--', 'sh', '-c', [
		'echo "socket=$SSH_AUTH_SOCK"',
		'stat -c "%F %a" /etc/moat/ssh-agent/agent.sock',
		'touch /etc/moat/ssh-agent/x 2>/dev/null && echo "folder writable" || echo "folder read-only"',
		'test -e /etc/moat/ssh/agent.sock && echo "host socket present" || echo "no host socket"',
		'ssh-add -l >/dev/null && echo "agent usable"',
		'while [ ! -e /workspace/stop ]; do sleep 0.2; done',
	].join('; ')]);
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	await eventually(async () => (await world.run(['logs', runId])).stdout.includes('agent usable'));
	const logs = await world.run(['logs', runId]);
	t.is(logs.stdout, 'socket=/etc/moat/ssh-agent/agent.sock\nsocket 666\nfolder read-only\nno host socket\nagent usable\n');

	// What the engine was asked to mount: a volume for the agent, and no bind whose source is a socket.
	const [container] = JSON.parse(await docker('inspect', `moat-${runId}`)) as Array<{Mounts: Array<{Type: string; Source: string; Name?: string; Destination: string}>}>;
	t.deepEqual(container!.Mounts.filter(mount => mount.Type === 'volume').map(mount => [mount.Name, mount.Destination]), [[`moat-ssh-${runId}`, '/etc/moat/ssh-agent']]);
	for (const mount of container!.Mounts.filter(mount => mount.Type === 'bind')) {
		const stat = await fs.stat(mount.Source);
		t.false(stat.isSocket(), `${mount.Source} is a socket`);
		if (stat.isDirectory()) {
			const entries = await fs.readdir(mount.Source, {recursive: true, withFileTypes: true});
			t.false(entries.some(entry => entry.isSocket()), `${mount.Source} holds a socket`);
		}
	}

	// The run ends: its relay and volume go with it.
	await fs.writeFile(path.join(world.workspace, 'stop'), '');
	await eventually(async () => (await docker('ps', '-aq', '--filter', `label=moat.run-relay=${runId}`)) === '');
	await eventually(async () => (await docker('volume', 'ls', '-q', '--filter', `name=moat-ssh-${runId}`)) === '');
});

dockerTest('in strict network mode git clone over SSH to the granted host still works, and ssh to another host is refused by the proxy with moat\'s reason', async t => {
	const world = await createWorld(t, {files: {'agent.yaml': 'network:\n  policy: strict\n'}});
	await world.grant();
	const result = await world.run(['run', world.workspace, '--grant', 'ssh:git.test', '--', 'sh', '-c', [
		`git clone -q ${world.cloneUrl} /tmp/clone && cat /tmp/clone/README.md`,
		`ssh -o BatchMode=yes ${world.server.user}@other.test true; echo "ssh exited $?"`,
	].join('; ')]);
	t.is(result.code, 0, result.stderr);
	t.true(result.stdout.includes(gitReadmeMarker), result.stdout + result.stderr);
	t.regex(result.stdout, /ssh exited 255/);
	t.regex(result.stderr, /moat: the proxy refused ssh to other\.test:22: HTTP\/1\.1 403 Forbidden .*Moat: request blocked by network policy\. Host "other\.test" is not in the allow list\./);
	const network = await networkEntriesOf<{url: string; status: number; blocked: boolean}>(world.sandbox.moatHome, (await listRuns<RunMetadata>(world.env))[0]!.id);
	t.true(network.some(entry => entry.url === 'other.test:22' && entry.status === 403 && entry.blocked), JSON.stringify(network));
	t.true(network.some(entry => entry.url === 'git.test:22' && entry.status === 200), JSON.stringify(network));
	t.true((await world.audit()).some(record => record.type === 'ssh.signed' && record.data.host === 'git.test'));
});

dockerTest('after moat proxy restart, a running bottle\'s SSH agent and client files still work (the files are kept, the relay reaches the new daemon)', async t => {
	const world = await createWorld(t);
	t.is((await world.run(['grant', 'ssh', '--host', 'git.test', '--key', world.granted.fingerprint])).code, 0);
	const started = await world.run(['run', world.workspace, '-d', '--grant', 'ssh:git.test', '--', 'sleep', '300']);
	t.is(started.code, 0, started.stderr);
	const runId = started.stdout.trim();
	const listKeys = async () => docker('exec', '-u', '1000', `moat-${runId}`, 'ssh-add', '-l').catch((error: unknown) => String(error));
	t.true((await listKeys()).includes(world.granted.fingerprint));
	const restarted = await world.run(['proxy', 'restart']);
	t.is(restarted.code, 0, restarted.stderr);
	t.true((await listKeys()).includes(world.granted.fingerprint), 'the agent answers again after the restart');
	const url = `ssh://${world.server.user}@git.test/${world.repository.replace(/^\//, '')}`;
	const cloned = await docker('exec', '-u', '1000', '-w', '/tmp', `moat-${runId}`, 'sh', '-c', `git clone -q ${url} clone && cat clone/README.md`).catch((error: unknown) => String(error));
	t.true(cloned.includes(gitReadmeMarker), cloned);
});

farEngineTest('on an engine whose networks and sockets are not this machine\'s, git clone over SSH works with the filtering agent through the gateway\'s relay, and the signature is audited', async t => {
	const world = await createWorld(t, {engine: farEngine});
	await world.grant();
	const result = await world.run(['run', world.workspace, '--grant', 'ssh:git.test', '--', 'sh', '-c', `ssh-add -l; git clone -q ${world.cloneUrl} /tmp/clone && cat /tmp/clone/README.md`]);
	t.is(result.code, 0, result.stderr);
	t.true(result.stdout.includes(world.granted.fingerprint), result.stdout);
	t.false(result.stdout.includes(world.other.fingerprint), 'only the granted key is listed');
	t.true(result.stdout.includes(gitReadmeMarker), result.stdout + result.stderr);
	t.true((await world.audit()).some(record => record.type === 'ssh.signed' && record.data.host === 'git.test'));
});
