import fs from 'node:fs/promises';
import path from 'node:path';
import type {SshRule} from './agent-policy.js';
import {blobFromText} from './agent-protocol.js';
import {startFilteringAgent, type FilteringAgent} from './filtering-agent.js';
import {knownHostsText, pinnedHostKeys, sshClientConfig, sshProxyScript} from './ssh-client-files.js';

/**
 * A run's SSH setup, kept by the daemon: a folder (mounted read-only into
 * the container) with the filtering agent's socket, the known hosts of the
 * granted hosts, the client config and the proxy command.
 */
export type RunSsh = {directory: string; close(): Promise<void>};

/** What the agent reads of a stored `ssh:HOST` grant (a Grant is one): the host, its key and host keys. */
export type SshGrantRecord = {details: Readonly<Record<string, string>>; secret: Readonly<Record<string, string>>};

/** The rule an `ssh:HOST` grant makes: its key, and the host keys the host is known by. */
export function sshRuleOf(grant: SshGrantRecord): (SshRule & {hostKeyTexts: string[]}) | undefined {
	const host = grant.details.host;
	const keyBlob = blobFromText(grant.secret.publicKey ?? '');
	if (!host || !keyBlob) {
		return undefined;
	}

	const hostKeyTexts = [...Object.hasOwn(pinnedHostKeys, host) ? pinnedHostKeys[host]! : (grant.details.hostKeys ?? '').split('\n').filter(Boolean)];
	return {
		host,
		keyBlob,
		fingerprint: grant.details.fingerprint ?? '',
		hostKeys: hostKeyTexts.map(text => blobFromText(text)).filter((blob): blob is Buffer => blob !== undefined),
		hostKeyTexts,
	};
}

export async function startRunSsh(options: {
	directory: string;
	upstream: string | undefined;
	owner: {uid: number; gid: number};
	rules(): Promise<Array<SshRule & {hostKeyTexts: string[]}>>;
	signed(fingerprint: string, host: string): void;
	refused(reason: string): void;
}): Promise<RunSsh> {
	const {directory} = options;
	// A restarted daemon finds the folder still mounted in running containers:
	// it is kept, its files rewritten in place (a file mounted on its own keeps
	// its inode), and only the socket made anew.
	await fs.mkdir(directory, {recursive: true, mode: 0o755});
	const rules = await options.rules();
	await fs.writeFile(path.join(directory, 'known_hosts'), knownHostsText(rules.map(rule => ({host: rule.host, hostKeys: rule.hostKeyTexts}))), {mode: 0o644});
	await fs.writeFile(path.join(directory, 'config'), sshClientConfig(), {mode: 0o644});
	await fs.writeFile(path.join(directory, 'proxy'), sshProxyScript(), {mode: 0o755});
	const agent: FilteringAgent = await startFilteringAgent({
		socketPath: path.join(directory, 'agent.sock'),
		upstream: options.upstream,
		rules: options.rules,
		owner: options.owner,
		signed: options.signed,
		refused: options.refused,
	});
	return {
		directory,
		async close() {
			await agent.close();
			await fs.rm(directory, {recursive: true, force: true});
		},
	};
}
