import {createHash} from 'node:crypto';
import ssh2 from 'ssh2';
import {MoatError} from '../errors.js';
import {printable} from '../text/printable.js';

/** A public key the user's agent holds. The private half never leaves the agent. */
export type AgentIdentity = {
	type: string;
	comment: string;
	/** `SHA256:…`, as ssh-add -l prints it. */
	fingerprint: string;
	/** The key in authorized_keys form (`ssh-ed25519 AAAA… comment`). */
	publicKey: string;
};

export function fingerprintOf(publicKeyBlob: Buffer): string {
	return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The only place (for now) moat speaks the SSH agent protocol, through ssh2. */
export async function listAgentIdentities(socketPath: string | undefined): Promise<AgentIdentity[]> {
	if (!socketPath) {
		throw new MoatError('No SSH agent: SSH_AUTH_SOCK is not set.', 'Start ssh-agent, add your key with ssh-add, and try again.');
	}

	const agent = new ssh2.OpenSSHAgent(socketPath);
	const keys = await new Promise<ssh2.ParsedKey[]>((resolve, reject) => {
		agent.getIdentities((error, identities) => {
			if (error) {
				reject(new MoatError(`Cannot talk to the SSH agent at ${printable(socketPath)}: ${printable(error.message)}.`, 'Check that ssh-agent is running (ssh-add -l), or set SSH_AUTH_SOCK to its socket.', 1, {cause: error}));
			} else {
				resolve((identities ?? []) as ssh2.ParsedKey[]);
			}
		});
	});

	return keys.map(key => {
		const blob = key.getPublicSSH();
		return {
			type: key.type,
			comment: key.comment,
			fingerprint: fingerprintOf(blob),
			publicKey: `${key.type} ${blob.toString('base64')}${key.comment ? ` ${key.comment}` : ''}`,
		};
	});
}
