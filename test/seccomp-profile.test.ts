import test from 'ava';
import {seccompProfile} from '../source/engine/seccomp-profile.js';

const profile = seccompProfile();

/** The bits of argument `index` that refuse `name`, read back from the rules. */
function refusedBits(name: string, index: number): number[] {
	return profile.syscalls
		.filter(rule => rule.names.includes(name))
		.flatMap(rule => rule.args ?? [])
		.filter(argument => argument.index === index && argument.op === 'SCMP_CMP_MASKED_EQ' && argument.value === argument.valueTwo)
		.map(argument => argument.value);
}

function refusedOutright(name: string): boolean {
	return profile.syscalls.some(rule => rule.names.includes(name) && rule.args === undefined);
}

// Every call that sets or creates a mode, with where Linux puts the mode.
const modeCalls: Array<[string, number]> = [
	['chmod', 1], ['fchmod', 1], ['fchmodat', 2], ['fchmodat2', 2],
	['creat', 1], ['open', 2], ['openat', 3],
	['mkdir', 1], ['mkdirat', 2], ['mknod', 1], ['mknodat', 2],
];

for (const [name, index] of modeCalls) {
	test(`${name} is refused with the setuid or the setgid bit in its mode (argument ${index})`, t => {
		const bits = refusedBits(name, index);
		t.true(bits.includes(0o4000), `setuid: ${bits.join(',')}`);
		t.true(bits.includes(0o2000), `setgid: ${bits.join(',')}`);
	});
}

test('calls whose mode or flags the filter cannot read are refused outright', t => {
	for (const name of ['openat2', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'clone3', 'setns', 'keyctl', 'bpf', 'mount', 'open_tree']) {
		t.true(refusedOutright(name), name);
	}
});

test('every namespace flag is refused for clone and unshare, and nothing else of them', t => {
	const namespaces = [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000];
	t.deepEqual(refusedBits('clone', 0).sort(), [...namespaces].sort());
	t.deepEqual(refusedBits('unshare', 0).sort(), [...namespaces, 0x80].sort());
	t.false(refusedOutright('clone'), 'threads and fork still work');
});

test('the compatibility ABIs are filtered with the native one', t => {
	const x86 = profile.archMap.find(entry => entry.architecture === 'SCMP_ARCH_X86_64');
	t.deepEqual(x86?.subArchitectures.sort(), ['SCMP_ARCH_X32', 'SCMP_ARCH_X86']);
	const arm = profile.archMap.find(entry => entry.architecture === 'SCMP_ARCH_AARCH64');
	t.deepEqual(arm?.subArchitectures, ['SCMP_ARCH_ARM']);
});

test('refusals answer an error a program can handle, never kill it', t => {
	for (const rule of profile.syscalls) {
		t.is(rule.action, 'SCMP_ACT_ERRNO');
		t.true(rule.errnoRet === 1 || rule.errnoRet === 38, rule.names.join(','));
	}
});
