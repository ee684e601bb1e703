/**
 * What the last seal check of a gateway found (gateway.ts): from moat's
 * network, none of this machine's addresses answered. The probe waits out
 * an unanswered ARP for every address (three seconds on Linux), and a
 * daemon that stopped idle finds the same gateway again. What decides the
 * answer is the gateway container as started, the network it probes from
 * and this machine's addresses: while all three are the same, the answer
 * is too, and the probe is not repeated. Any of them changed (a gateway
 * started again, a network made again, an address added) checks again.
 */
export type SealRecord = {
	/** The gateway container's id and when it started. */
	container: string;
	startedAt: string;
	/** The id of the network the gateway probes from. */
	network: string;
	/** This machine's addresses the probe found unreachable. */
	addresses: string[];
};

/** Whether a record read from disk vouches for the gateway as it is now. Pure. */
export function sealStillHolds(recorded: unknown, now: SealRecord): boolean {
	if (typeof recorded !== 'object' || recorded === null) {
		return false;
	}

	const record = recorded as Partial<SealRecord>;
	const addresses = Array.isArray(record.addresses) ? record.addresses : undefined;
	return record.container === now.container
		&& record.startedAt === now.startedAt
		&& record.network === now.network
		&& addresses !== undefined
		// Every address now was probed then; one added since was not.
		&& now.addresses.every(address => addresses.includes(address));
}
