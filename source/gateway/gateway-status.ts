/**
 * What the daemon says about its gateway (README: The gateway), in `moat
 * status` and `moat proxy status`. Its own file: the daemon's protocol
 * carries it, and the gateway's manager depends on the protocol.
 */

/** Where the engine runs: on this machine, in a VM whose networks are not this machine's, or elsewhere. */
export type GatewayTopology = 'local' | 'vm' | 'remote';

export type GatewayStatus = {
	container: string;
	state: 'starting' | 'ready' | 'failed';
	/** How connections reach the daemon: its Unix socket (shared files) or the Docker API's stream. */
	channel?: 'socket' | 'api';
	topology?: GatewayTopology;
	error?: string;
};
