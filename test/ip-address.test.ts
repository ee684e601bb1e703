import test from 'ava';
import {addressKind, canonicalHost, embeddedIpv4, formatIpAddress, hostAddressIn, parseHost, parseIpAddress, type AddressKind} from '../source/network/ip-address.js';
import {internalHostKind} from '../source/proxy/network-policy.js';

/**
 * Every spelling of an address is that address: resolvers' IPv4 forms,
 * IPv6 in any compression, case, padding, brackets or zone, and the IPv6
 * forms that carry an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4,
 * Teredo). Each table row is one spelling and what it must be read as.
 */

/** [spelling, canonical text]: every way of writing one address comes out as one text. */
const spellings: Array<[string, string]> = [
	// IPv4 as inet_aton and URL parsers read it.
	['127.0.0.1', '127.0.0.1'],
	['127.1', '127.0.0.1'],
	['127.0.1', '127.0.0.1'],
	['2130706433', '127.0.0.1'],
	['0x7f000001', '127.0.0.1'],
	['0x7f.1', '127.0.0.1'],
	['0X7F.0.0.1', '127.0.0.1'],
	['0177.0.0.1', '127.0.0.1'],
	['0177.0.0.01', '127.0.0.1'],
	['017700000001', '127.0.0.1'],
	['127.000.000.001', '127.0.0.1'],
	['127.0.0.1.', '127.0.0.1'],
	['0x.0.0.0', '0.0.0.0'],
	['0', '0.0.0.0'],
	['3221225986', '192.0.2.2'],
	['0xc0.0.2.2', '192.0.2.2'],
	['0300.0.2.2', '192.0.2.2'],
	['192.0.514', '192.0.2.2'],
	['0xc0000202', '192.0.2.2'],
	['2852039166', '169.254.169.254'],
	['0251.0376.0251.0376', '169.254.169.254'],
	['169.254.43518', '169.254.169.254'],
	// IPv4-mapped IPv6 is the IPv4 address itself (a dual-stack socket dials it so).
	['::ffff:127.0.0.1', '127.0.0.1'],
	['::ffff:7f00:1', '127.0.0.1'],
	['::FFFF:7F00:0001', '127.0.0.1'],
	['0:0:0:0:0:ffff:7f00:1', '127.0.0.1'],
	['0000:0000:0000:0000:0000:FFFF:7F00:0001', '127.0.0.1'],
	['[::ffff:7f00:1]', '127.0.0.1'],
	['::ffff:c000:202', '192.0.2.2'],
	['::ffff:192.0.2.2', '192.0.2.2'],
	['[::FFFF:C000:0202]', '192.0.2.2'],
	['0:0::ffff:192.0.2.2', '192.0.2.2'],
	// IPv6 in any compression, case and padding; a zone id does not change the address.
	['::1', '::1'],
	['0:0:0:0:0:0:0:1', '::1'],
	['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
	['::0:1', '::1'],
	['[::1]', '::1'],
	['::', '::'],
	['0::0', '::'],
	['FE80::1', 'fe80::1'],
	['fe80:0:0:0:0:0:0:1', 'fe80::1'],
	['fe80::1%eth0', 'fe80::1'],
	['fe80::1%25', 'fe80::1'],
	['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
	['2001:db8:0:0:1::1', '2001:db8::1:0:0:1'],
	['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
	['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
	['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
	['::127.0.0.1', '::7f00:1'],
	['64:ff9b::192.0.2.2', '64:ff9b::c000:202'],
	['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
];

for (const [spelling, canonical] of spellings) {
	test(`address spelling ${spelling} is ${canonical}`, t => {
		const address = parseIpAddress(spelling);
		t.truthy(address, 'it parses');
		t.is(formatIpAddress(address!), canonical);
		t.deepEqual(parseIpAddress(canonical), address, 'the canonical text parses back to the same bytes');
	});
}

/** Neither an address nor (for the ones without letters) a name: resolvers disagree, so nothing is dialled. */
const notAddresses = [
	'', '1.2.3.4.5', '256.0.0.1', '1.256.0.1', '0x100.0.0.1', '4294967296', '0x100000000', '1.2.16777216', '09.1', '1..2', '.1.2.3',
	':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2:3:4:5:6:7:8', '12345::', 'g::1', '::ffff:1.2.3', '::ffff:01.2.3.4',
	'::ffff:256.1.1.1', '1.2.3.4::', '1:2:3:4:5:6:7:1.2.3.4', 'fe80::1%', '[::1', 'example.com', 'localhost',
];
for (const text of notAddresses) {
	test(`${JSON.stringify(text)} is not an address`, t => {
		t.is(parseIpAddress(text), undefined);
	});
}

/** [spelling, kind]: the kind follows the address (and any IPv4 address it carries), not its spelling. */
const kinds: Array<[string, AddressKind]> = [
	['127.0.0.1', 'loopback'],
	['127.8.9.10', 'loopback'],
	['0x7f.1', 'loopback'],
	['2130706433', 'loopback'],
	['0177.0.0.1', 'loopback'],
	['127.0.0.1.', 'loopback'],
	['::1', 'loopback'],
	['0:0:0:0:0:0:0:1', 'loopback'],
	['::ffff:127.0.0.1', 'loopback'],
	['::ffff:7f00:1', 'loopback'],
	['0:0:0:0:0:ffff:127.0.0.1', 'loopback'],
	['::127.0.0.1', 'loopback'],
	['::7f00:1', 'loopback'],
	['::ffff:0:7f00:1', 'loopback'],
	['64:ff9b::7f00:1', 'loopback'],
	['64:FF9B::127.0.0.1', 'loopback'],
	['2002:7f00:1::', 'loopback'],
	['2002:7f00:1:abcd::1', 'loopback'],
	['2001:0:7f00:1::', 'loopback'],
	['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'],
	['169.254.169.254', 'link-local'],
	['0xa9fea9fe', 'link-local'],
	['2852039166', 'link-local'],
	['169.254.43518', 'link-local'],
	['::ffff:169.254.169.254', 'link-local'],
	['::ffff:a9fe:a9fe', 'link-local'],
	['64:ff9b::a9fe:a9fe', 'link-local'],
	['2002:a9fe:a9fe::', 'link-local'],
	['fe80::1', 'link-local'],
	['FE80::abcd', 'link-local'],
	['fe80::1%eth0', 'link-local'],
	['febf::1', 'link-local'],
	['10.1.2.3', 'private'],
	['012.1.2.3', 'private'],
	['172.16.0.1', 'private'],
	['172.17.0.1', 'private'],
	['::ffff:ac11:1', 'private'],
	['172.31.255.255', 'private'],
	['192.168.1.1', 'private'],
	['100.64.0.1', 'private'],
	['64:ff9b::10.0.0.1', 'private'],
	['64:ff9b:1::7f00:1', 'private'],
	['64:ff9b:1:7f00:0:100::', 'private'],
	['64:ff9b:1::808:808', 'private'],
	['2002:c0a8:101::', 'private'],
	['fd00::1', 'private'],
	['fd00::2', 'private'],
	['fc00::1', 'private'],
	['fec0::1', 'private'],
	['0.0.0.0', 'unspecified'],
	['0', 'unspecified'],
	['0.1.2.3', 'unspecified'],
	['::', 'unspecified'],
	['::ffff:0.0.0.0', 'unspecified'],
	['::2', 'unspecified'],
	['192.0.0.8', 'reserved'],
	['198.18.0.1', 'reserved'],
	['224.0.0.1', 'reserved'],
	['255.255.255.255', 'reserved'],
	['ff02::1', 'reserved'],
	['2001:db8::1', 'reserved'],
	['100::1', 'reserved'],
	['64:ff9b:2::1', 'reserved'],
	['172.32.0.1', 'public'],
	['8.8.8.8', 'public'],
	['0x8.0x8.0x8.0x8', 'public'],
	['::ffff:8.8.8.8', 'public'],
	['64:ff9b::808:808', 'public'],
	['2002:808:808::1', 'public'],
	['2606:4700::1111', 'public'],
	['2001:0:808:808::f7f7:f7f7', 'public'],
	['192.0.2.2', 'public'],
];

for (const [spelling, kind] of kinds) {
	test(`address ${spelling} is ${kind}`, t => {
		t.is(addressKind(parseIpAddress(spelling)!), kind);
	});
}

test('the IPv4 addresses an IPv6 address leads to: each form, and none for a plain IPv6 address', t => {
	const embedded = (text: string) => embeddedIpv4(parseIpAddress(text)!).map(address => formatIpAddress(address));
	t.deepEqual(embedded('::c000:202'), ['192.0.2.2'], 'compatible');
	t.deepEqual(embedded('::ffff:0:c000:202'), ['192.0.2.2'], 'SIIT-translated');
	t.deepEqual(embedded('64:ff9b::c000:202'), ['192.0.2.2'], 'NAT64 well-known prefix');
	t.deepEqual(embedded('2002:c000:202::1'), ['192.0.2.2'], '6to4');
	t.deepEqual(embedded('2001:0:c000:202::ffff:ffff'), ['192.0.2.2', '0.0.0.0'], 'Teredo server, and its client stored inverted');
	t.deepEqual(embedded('2001:0:808:808:0:0:3fff:fdfd'), ['8.8.8.8', '192.0.2.2'], 'Teredo client 192.0.2.2');
	t.deepEqual(embedded('192.0.2.2'), [], 'an IPv4 address carries none');
	t.deepEqual(embedded('2606:4700::1111'), []);
	t.deepEqual(embedded('::ffff:c000:202'), [], 'a mapped address is the IPv4 address itself');
});

/** The attack of issue 17: the machine's own 192.0.2.2, refused dotted, must be refused in every other spelling too. */
const hostSpellings = [
	'192.0.2.2', '192.0.2.2.', '3221225986', '0xc0.0.2.2', '0300.0.2.2', '192.0.514', '0xc0000202', '0xC0.0x0.0x2.0x2',
	'::ffff:c000:202', '::ffff:192.0.2.2', '[::FFFF:C000:0202]', '0:0:0:0:0:ffff:c000:0202', '0000:0000:0000:0000:0000:ffff:c000:0202',
	'::c000:202', '::192.0.2.2', '::ffff:0:c000:202', '64:ff9b::c000:202', '64:ff9b::192.0.2.2',
	'2002:c000:202::', '2002:c000:0202:1::1', '2001:0:c000:202::', '2001:0:808:808:0:0:3fff:fdfd',
	'fd00::2', 'fd00:0::0:2', 'FD00::0002',
];
const thisMachine = new Set(['127.0.0.1', '::1', '192.0.2.2', 'fd00::2', 'fe80::fc:ff:fe00:1', '172.17.0.1']);
for (const spelling of hostSpellings) {
	test(`${spelling} is an address of a machine whose interfaces hold 192.0.2.2 and fd00::2`, t => {
		t.true(hostAddressIn(parseIpAddress(spelling)!, thisMachine));
		t.not(internalHostKind(spelling, address => hostAddressIn(address, thisMachine)), undefined, 'and the proxy never dials it');
	});
}

for (const spelling of ['192.0.2.3', '::ffff:c000:203', '64:ff9b::c000:203', '8.8.8.8', '2606:4700::1111']) {
	test(`${spelling} is not an address of that machine`, t => {
		t.false(hostAddressIn(parseIpAddress(spelling)!, thisMachine));
	});
}

for (const spelling of ['64:ff9b:1::c000:202', '64:ff9b:1:c000:2:200::']) {
	test(`${spelling}, NAT64 local-use whose layout only its network knows, is refused as private`, t => {
		t.is(internalHostKind(spelling), 'private');
	});
}

test('a public address of the machine is refused as the machine\'s, a loopback one as loopback, an ordinary public one not at all', t => {
	const isHost = (address: Parameters<typeof formatIpAddress>[0]) => hostAddressIn(address, thisMachine);
	t.is(internalHostKind('::ffff:c000:202', isHost), 'host');
	t.is(internalHostKind('0x7f.1', isHost), 'loopback');
	t.is(internalHostKind('8.8.8.8', isHost), undefined);
	t.is(internalHostKind('[::ffff:808:808]', isHost), undefined);
});

/** [host as a request names it, what parseHost makes of it]. */
const hosts: Array<[string, ReturnType<typeof canonicalHost>]> = [
	['Example.COM', 'example.com'],
	['example.com.', 'example.com'],
	['example.com..', 'example.com'],
	['LOCALHOST.', 'localhost'],
	['0x7f.1', '127.0.0.1'],
	['0x7f.1.', '127.0.0.1'],
	['127.0.0.1..', '127.0.0.1'],
	['[::ffff:c000:202]', '192.0.2.2'],
	['::FFFF:C000:202', '192.0.2.2'],
	['[fe80::1%eth0]', 'fe80::1'],
	['1e100.net', '1e100.net'],
	['123.example', '123.example'],
	// A last label that is a number makes the whole an IPv4 address or nothing.
	['1.2.3.4.5', undefined],
	['09.1', undefined],
	['a.b.0x1', undefined],
	['example.123', undefined],
	['host:80', undefined],
	['[not-an-ip]', undefined],
	['', undefined],
	['.', undefined],
];
for (const [host, canonical] of hosts) {
	test(`host ${JSON.stringify(host)} is ${canonical ?? 'invalid'}`, t => {
		t.is(canonicalHost(host), canonical);
		t.is(parseHost(host).kind, canonical === undefined ? 'invalid' : (parseIpAddress(canonical) ? 'address' : 'name'));
	});
}
