/**
 * Where runs' networks live (README: The gateway). Each run gets a small
 * subnet of its own from one pool: the gateway at its second address, the
 * SSH agent relay at its fourth, the bottle wherever the engine puts it. Pure: the gateway manager does the engine calls.
 *
 * The bridges have no address on the host, so a pool that shadows a network
 * the user has elsewhere changes nothing outside the bottles.
 */

export const defaultNetworkPool = '10.231.0.0/16';
/** Eight addresses: network, (unused) bridge, gateway, bottle, relay, spare, broadcast. */
export const runSubnetBits = 29;

export type NetworkPool = {base: number; slots: number};

export function parseNetworkPool(text: string | undefined): NetworkPool | {error: string} {
	const value = text?.trim() || defaultNetworkPool;
	const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
	const parts = match?.slice(1, 5).map(Number) ?? [];
	const bits = Number(match?.[5]);
	if (!match || parts.some(part => part > 255) || bits < 8 || bits > runSubnetBits) {
		return {error: `MOAT_NETWORK_POOL=${value} is not an IPv4 range like ${defaultNetworkPool} (a prefix of 8 to ${runSubnetBits} bits)`};
	}

	const mask = bits === 0 ? 0 : (0xFF_FF_FF_FF << (32 - bits)) >>> 0;
	const base = (ipv4ToNumber(parts.join('.')) & mask) >>> 0;
	return {base, slots: 2 ** (runSubnetBits - bits)};
}

export function ipv4ToNumber(address: string): number {
	return address.split('.').reduce((sum, part) => ((sum * 256) + Number(part)), 0) >>> 0;
}

export function numberToIpv4(value: number): string {
	return [24, 16, 8, 0].map(shift => (value >>> shift) & 0xFF).join('.');
}

/** A run's /29: the engine's own .1 (on no interface), the gateway at .2, the SSH agent relay at .4; the bottle takes what is left. */
export type RunSubnet = {subnet: string; gateway: string; relay: string};

export function runSubnet(pool: NetworkPool, slot: number): RunSubnet {
	const start = pool.base + (slot * (2 ** (32 - runSubnetBits)));
	return {subnet: `${numberToIpv4(start)}/${runSubnetBits}`, gateway: numberToIpv4(start + 2), relay: numberToIpv4(start + 4)};
}

/** The slot a subnet is in, if it is one of the pool's. */
export function slotOf(pool: NetworkPool, subnet: string): number | undefined {
	const [address, bits] = subnet.split('/');
	if (Number(bits) !== runSubnetBits || !address) {
		return undefined;
	}

	const offset = ipv4ToNumber(address) - pool.base;
	const size = 2 ** (32 - runSubnetBits);
	return offset >= 0 && offset % size === 0 && offset / size < pool.slots ? offset / size : undefined;
}

/**
 * The slots to try, in order: from a place that depends on the name (two
 * daemons starting runs at once rarely pick the same), skipping used ones.
 */
export function candidateSlots(pool: NetworkPool, name: string, used: ReadonlySet<number>, count: number): number[] {
	let hash = 2_166_136_261;
	for (const character of name) {
		hash = Math.imul(hash ^ character.charCodeAt(0), 16_777_619) >>> 0;
	}

	const slots: number[] = [];
	for (let step = 0; step < pool.slots && slots.length < count; step++) {
		const slot = (hash + step) % pool.slots;
		if (!used.has(slot)) {
			slots.push(slot);
		}
	}

	return slots;
}
