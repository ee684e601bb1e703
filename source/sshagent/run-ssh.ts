import fs from 'node:fs/promises';
import path from 'node:path';
import type {Duplex} from 'node:stream';
import type {SshRule} from './agent-policy.js';
import {blobFromText} from './agent-protocol.js';
import {createFilteringAgent, type FilteringAgent} from './filtering-agent.js';
import {knownHostsText, pinnedHostKeys, sshClientConfig, sshProxyScript} from './ssh-client-files.js';

/**
 * A run's SSH setup, kept by the daemon: the filtering agent, and a folder
 * (mounted read-only into the container) with the known hosts of the
 * granted hosts, the client config and the proxy command. The agent's
 * socket in the bottle is the gateway's relay (gateway.ts), never a host
 * socket.
 */
export type RunSsh = {directory: string; serve(socket: Duplex): void; close(): Promise<void>};

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
	// A socket an older moat left here would still answer nothing; it goes.
	await fs.rm(path.join(directory, 'agent.sock'), {force: true});
	const agent: FilteringAgent = createFilteringAgent({
		upstream: options.upstream,
		rules: options.rules,
		signed: options.signed,
		refused: options.refused,
	});
	return {
		directory,
		serve: agent.serve,
		async close() {
			await agent.close();
			await fs.rm(directory, {recursive: true, force: true});
		},
	};
}
