/**
 * IP addresses as moat judges them (README: The network). One address has
 * many spellings — `127.0.0.1`, `0x7f.1`, `2130706433`, `0177.0.0.1`,
 * `::ffff:7f00:1`, `::FFFF:127.0.0.1`, `64:ff9b::7f00:1`, `2002:7f00:1::` —
 * and a check that compares text lets every spelling it did not think of
 * through. Here any spelling becomes 16 bytes (an IPv4 address is held
 * IPv4-mapped, as a dual-stack socket dials it), and every decision is made
 * on those bytes: the address's own range, and the IPv4 address an IPv6 one
 * carries inside it. Pure: no sockets, no DNS.
 */

/** 16 bytes in network order; an IPv4 address is `::ffff:a.b.c.d`. */
export type IpAddress = {readonly bytes: readonly number[]};

/** What kind of place an address is. Everything but `public` is never dialled for an agent. */
export type AddressKind = 'loopback' | 'link-local' | 'private' | 'unspecified' | 'reserved' | 'public';

/** A host as a request names it: an address in any spelling, a DNS name, or neither. */
export type ParsedHost =
	| {kind: 'address'; address: IpAddress}
	| {kind: 'name'; name: string}
	| {kind: 'invalid'};

const mappedPrefix = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];

/**
 * One IPv4 part as inet_aton (hence getaddrinfo) and URL parsers read it:
 * `0x` hexadecimal, a leading 0 octal, else decimal.
 */
function ipv4Part(part: string): number | undefined {
	if (/^0x[\da-f]*$/i.test(part)) {
		// `0x` alone is 0 to both inet_aton and the URL standard.
		return part.length === 2 ? 0 : Number.parseInt(part.slice(2), 16);
	}

	if (/^0[0-7]*$/.test(part)) {
		return Number.parseInt(part, 8);
	}

	return /^[1-9]\d*$/.test(part) ? Number(part) : undefined;
}

/**
 * IPv4 in every form resolvers accept (inet_aton): one to four parts, each
 * decimal, octal or hex, the last filling the bytes left (`127.1`,
 * `2130706433`, `0x7f.0.0.1`), with an optional trailing dot.
 */
function parseIpv4(text: string): number[] | undefined {
	const parts = text.split('.');
	if (parts.length > 1 && parts.at(-1) === '') {
		parts.pop();
	}

	const numbers = parts.map(part => ipv4Part(part));
	if (numbers.length === 0 || numbers.length > 4 || numbers.some(number => number === undefined)) {
		return undefined;
	}

	const leading = numbers.slice(0, -1) as number[];
	const last = numbers.at(-1)!;
	if (leading.some(number => number > 0xFF) || last >= 256 ** (4 - leading.length)) {
		return undefined;
	}

	const value = leading.reduce((sum, number, index) => sum + (number * (256 ** (3 - index))), last);
	return [value >>> 24, (value >>> 16) & 0xFF, (value >>> 8) & 0xFF, value & 0xFF];
}

/** The dotted quad that may end an IPv6 address (`::ffff:1.2.3.4`): four decimal parts, as inet_pton wants. */
function parseDottedQuad(text: string): number[] | undefined {
	const parts = text.split('.');
	if (parts.length !== 4 || parts.some(part => !/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 0xFF)) {
		return undefined;
	}

	return parts.map(Number);
}

/** IPv6 in any compression, case and padding, with an optional zone id (`%eth0`, ignored: the bytes decide). */
function parseIpv6(text: string): number[] | undefined {
	let body = text.toLowerCase();
	const percent = body.indexOf('%');
	if (percent !== -1) {
		if (percent === body.length - 1) {
			return undefined;
		}

		body = body.slice(0, percent);
	}

	let tail: number[] = [];
	const lastColon = body.lastIndexOf(':');
	if (body.slice(lastColon + 1).includes('.')) {
		const quad = parseDottedQuad(body.slice(lastColon + 1));
		if (!quad || lastColon === -1) {
			return undefined;
		}

		// The quad takes the place of the last two groups; `::1.2.3.4` keeps its `::`.
		tail = quad;
		body = body.slice(0, lastColon + 1);
		body = body.endsWith('::') ? body : body.slice(0, -1);
	}

	const halves = body.split('::');
	if (halves.length > 2) {
		return undefined;
	}

	const groupsOf = (half: string) => (half === '' ? [] : half.split(':'));
	const left = groupsOf(halves[0]!);
	const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
	if ([...left, ...right].some(group => !/^[\da-f]{1,4}$/.test(group))) {
		return undefined;
	}

	const wanted = 8 - (tail.length / 2);
	const missing = wanted - left.length - right.length;
	// Without `::` the groups must be all there; with it, `::` stands for at least one.
	if (halves.length === 1 ? missing !== 0 : missing < 1) {
		return undefined;
	}

	const groups = [...left, ...Array.from({length: halves.length === 2 ? missing : 0}, () => '0'), ...right].map(group => Number.parseInt(group, 16));
	return [...groups.flatMap(group => [group >> 8, group & 0xFF]), ...tail];
}

/**
 * The address any spelling names: IPv4 as resolvers read it, IPv6 in any
 * form, in brackets or not, with a zone id or a trailing dot. Undefined for
 * what is not an address (a name, or nonsense).
 */
export function parseIpAddress(text: string): IpAddress | undefined {
	const bare = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
	if (bare.includes(':')) {
		const bytes = parseIpv6(bare);
		return bytes ? {bytes} : undefined;
	}

	const ipv4 = parseIpv4(bare);
	return ipv4 ? ipv4Address(ipv4) : undefined;
}

function ipv4Address(bytes: readonly number[]): IpAddress {
	return {bytes: [...mappedPrefix, ...bytes]};
}

/** The four bytes of an IPv4 address, or undefined for one that is only IPv6. */
export function ipv4Bytes(address: IpAddress): number[] | undefined {
	return mappedPrefix.every((byte, index) => address.bytes[index] === byte) ? address.bytes.slice(12) : undefined;
}

/** The canonical text: dotted for IPv4 (mapped included), RFC 5952 for IPv6 (lower case, longest zero run compressed). */
export function formatIpAddress(address: IpAddress): string {
	const ipv4 = ipv4Bytes(address);
	if (ipv4) {
		return ipv4.join('.');
	}

	const groups = Array.from({length: 8}, (_, index) => (address.bytes[index * 2]! << 8) | address.bytes[(index * 2) + 1]!);
	let best = {start: -1, length: 0};
	for (let start = 0; start < 8; start++) {
		let length = 0;
		while (start + length < 8 && groups[start + length] === 0) {
			length++;
		}

		if (length > best.length) {
			best = {start, length};
		}
	}

	const text = groups.map(group => group.toString(16));
	if (best.length < 2) {
		return text.join(':');
	}

	return `${text.slice(0, best.start).join(':')}::${text.slice(best.start + best.length).join(':')}`;
}

/** Whether two spellings name one address. */
export function sameAddress(a: IpAddress, b: IpAddress): boolean {
	return a.bytes.every((byte, index) => byte === b.bytes[index]);
}

/** A range in CIDR notation, with what lives there. */
type Range = {address: IpAddress; bits: number; kind: AddressKind};

function range(cidr: string, kind: AddressKind): Range {
	const [text = '', bits = ''] = cidr.split('/');
	const address = parseIpAddress(text)!;
	// IPv4 ranges are written as IPv4; held mapped, they sit 96 bits in.
	return {address, bits: Number(bits) + (ipv4Bytes(address) ? 96 : 0), kind};
}

function inRange(address: IpAddress, {address: prefix, bits}: Range): boolean {
	for (let bit = 0; bit < bits; bit += 8) {
		const mask = bits - bit >= 8 ? 0xFF : (0xFF << (8 - (bits - bit))) & 0xFF;
		if ((address.bytes[bit / 8]! & mask) !== (prefix.bytes[bit / 8]! & mask)) {
			return false;
		}
	}

	return true;
}

/**
 * Where no public service lives (IANA's special-purpose registries), most
 * specific first. Documentation and other unrouted IPv6 space is reserved;
 * a machine's own addresses, whatever their range, are judged apart
 * (hostAddressIn).
 */
const ranges: readonly Range[] = [
	range('0.0.0.0/8', 'unspecified'),
	range('10.0.0.0/8', 'private'),
	// Carrier-grade NAT: the provider's side of a home or cloud network.
	range('100.64.0.0/10', 'private'),
	range('127.0.0.0/8', 'loopback'),
	// Cloud metadata (169.254.169.254) lives here.
	range('169.254.0.0/16', 'link-local'),
	range('172.16.0.0/12', 'private'),
	range('192.0.0.0/24', 'reserved'),
	range('192.88.99.0/24', 'reserved'),
	range('192.168.0.0/16', 'private'),
	range('198.18.0.0/15', 'reserved'),
	// Multicast, the reserved block and broadcast.
	range('224.0.0.0/3', 'reserved'),
	// NAT64 local-use (RFC 8215): a translator of one network, whose prefix length (and so where the
	// IPv4 address sits) only that network knows. Judged as a private network, whatever it carries.
	range('64:ff9b:1::/48', 'private'),
	range('::/128', 'unspecified'),
	range('::1/128', 'loopback'),
	range('100::/64', 'reserved'),
	range('2001:2::/48', 'reserved'),
	range('2001:db8::/32', 'reserved'),
	range('3fff::/20', 'reserved'),
	range('fc00::/7', 'private'),
	range('fe80::/10', 'link-local'),
	// Site-local, deprecated but still routed by some networks as private.
	range('fec0::/10', 'private'),
	range('ff00::/8', 'reserved'),
];

const nat64 = range('64:ff9b::/96', 'public');
const nat64Block = range('64:ff9b::/32', 'public');
const compatible = range('::/96', 'public');
const translated = range('::ffff:0:0:0/96', 'public');
const sixToFour = range('2002::/16', 'public');
const teredo = range('2001::/32', 'public');

/**
 * The IPv4 addresses an IPv6 address leads to: IPv4-compatible (`::a.b.c.d`),
 * SIIT-translated (`::ffff:0:a.b.c.d`), NAT64's well-known prefix
 * (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::`) and Teredo (the server,
 * and the client's address stored inverted). A network-specific NAT64
 * prefix cannot be recognised from the address alone.
 */
export function embeddedIpv4(address: IpAddress): IpAddress[] {
	const bytes = address.bytes;
	const at = (...indexes: number[]) => ipv4Address(indexes.map(index => bytes[index]!));
	if (ipv4Bytes(address)) {
		return [];
	}

	if (inRange(address, compatible) || inRange(address, translated) || inRange(address, nat64)) {
		return [at(12, 13, 14, 15)];
	}

	if (inRange(address, sixToFour)) {
		return [at(2, 3, 4, 5)];
	}

	if (inRange(address, teredo)) {
		return [at(4, 5, 6, 7), ipv4Address(bytes.slice(12).map(byte => byte ^ 0xFF))];
	}

	return [];
}

function ownKind(address: IpAddress): AddressKind {
	const found = ranges.find(candidate => inRange(address, candidate))?.kind;
	if (found) {
		return found;
	}

	// The rest of 64:ff9b::/32 is set aside for translation and not allocated: nothing public lives there.
	return inRange(address, nat64Block) && !inRange(address, nat64) ? 'reserved' : 'public';
}

/**
 * What kind of place an address is: its own range's kind unless that is
 * public, then the first non-public kind of any IPv4 address it carries (an
 * address leading to a loopback IPv4 is loopback).
 */
export function addressKind(address: IpAddress): AddressKind {
	return [address, ...embeddedIpv4(address)].map(candidate => ownKind(candidate)).find(kind => kind !== 'public') ?? 'public';
}

/**
 * Whether an address is one of `addresses` (canonical texts, see
 * formatIpAddress) or carries one of them inside it.
 */
export function hostAddressIn(address: IpAddress, addresses: ReadonlySet<string>): boolean {
	return [address, ...embeddedIpv4(address)].some(candidate => addresses.has(formatIpAddress(candidate)));
}

/** A name whose last label is a number can only be an IPv4 address: URL parsers and resolvers read it as one. */
function endsInNumber(name: string): boolean {
	const last = name.split('.').at(-1) ?? '';
	return /^(\d+|0x[\da-f]*)$/i.test(last);
}

/**
 * What a request's host is, for the checks that follow: an address (any
 * spelling, brackets, zone id), a lower-case name without trailing dots, or
 * invalid (a name ending in a number that is no IPv4 address, such as
 * `1.2.3.4.5` or `09.1`: resolvers disagree on those, so none is dialled).
 */
export function parseHost(host: string): ParsedHost {
	const text = host.toLowerCase();
	const address = parseIpAddress(text.replace(/(?<=[^.])\.+$/, '.'));
	if (address) {
		return {kind: 'address', address};
	}

	if (text.includes(':') || text.includes('[')) {
		return {kind: 'invalid'};
	}

	const name = text.replace(/\.+$/, '');
	return name === '' || endsInNumber(name) ? {kind: 'invalid'} : {kind: 'name', name};
}

/** One text per host, for comparing and matching: canonical address, or a name as parseHost leaves it. Undefined for an invalid host. */
export function canonicalHost(host: string): string | undefined {
	const parsed = parseHost(host);
	switch (parsed.kind) {
		case 'address': {
			return formatIpAddress(parsed.address);
		}

		case 'name': {
			return parsed.name;
		}

		default: {
			return undefined;
		}
	}
}
