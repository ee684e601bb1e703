import {environmentVariables} from '../../environment.js';
import {parseUpstreamOverrides} from '../../network/upstream-overrides.js';
import {scanHostKeys} from '../../sshagent/host-key-scan.js';
import {pinnedHostKeys} from '../../sshagent/ssh-client-files.js';
import type {SshKeyProvider} from './provider.js';

/**
 * SSH: one key of the user's agent for one host (grant name ssh:HOST),
 * granted with moat grant ssh --host H. Nothing goes into headers and there
 * is no placeholder: the bottle gets a filtering agent that signs only for
 * granted hosts, and strict mode opens each grant's host on its SSH port.
 */
export const ssh: SshKeyProvider = {
	name: 'ssh',
	title: 'SSH key',
	aliases: [],
	help: {usage: 'ssh --host H [--key FINGERPRINT|COMMENT]', sources: 'a key from your SSH agent, for host H'},
	grantWith: 'ssh-agent-key',
	async detect(context) {
		// Loaded when asked: every command loads this list, and only this needs ssh2.
		const {listAgentIdentities} = await import('../../sshagent/agent-client.js');
		return listAgentIdentities(context.variables[environmentVariables.sshAuthSocket]);
	},
	async validate(host, context) {
		// The forges' keys are pinned; any other host's are recorded now, and only they will get signatures.
		const name = host.toLowerCase();
		return Object.hasOwn(pinnedHostKeys, name)
			? undefined
			: scanHostKeys(name, parseUpstreamOverrides(context.variables[environmentVariables.upstreamOverrides]));
	},
	injection: [],
	answered: [],
	placeholders: {},
	// Every ssh goes through moat's proxy and the run's filtering agent: the image needs the client.
	containerPackages: ['openssh-client'],
};
