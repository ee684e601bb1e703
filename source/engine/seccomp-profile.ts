/**
 * The seccomp profile every container of moat's runs under, in Docker's
 * profile format.
 *
 * Why moat has its own: with no capability a bottle cannot make a file
 * setuid *root*, but the kernel still lets it set the setuid and setgid
 * bits on files it owns, and those files outlive the bottle in the
 * workspace, where another user of this machine could run them as the
 * workspace's owner. Only a system call filter can refuse that bit.
 *
 * Docker cannot layer a profile on its default: one given replaces it. So
 * this profile allows by default and refuses, by name, (1) every way to
 * put the setuid or setgid bit on a file, and (2) what Docker's default
 * refuses to a container without capabilities that the kernel would still
 * allow an unprivileged process: new namespaces (the way to regain
 * capabilities), the kernel keyring, BPF, perf, userfaultfd, io_uring and
 * the mount API. Everything else a capability gates stays refused by
 * `CapDrop: ALL` and the empty bounding set; a few of those are named here
 * too, so a future capability slip does not reopen them.
 *
 * The filter is only as new as the engine's libseccomp: a name it does not
 * know is skipped, and a system call newer than the engine is allowed.
 * fchmodat2 (Linux 6.6) is the one that matters; engines of 2023 on know it.
 */

const eperm = 1;
const enosys = 38;

// The two mode bits no file a bottle leaves may carry.
const setUserId = 0o4000;
const setGroupId = 0o2000;

// Namespace flags of clone/unshare. CLONE_NEWTIME shares its bit with the
// exit signal in clone's flags, so it is refused for unshare only (clone3,
// the only other way in, is ENOSYS below).
const namespaceFlags = [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000];
const newTimeNamespace = 0x80;

/** Which argument holds the mode, per system call that sets or creates one. */
const modeArgument: Record<string, number> = {
	chmod: 1,
	fchmod: 1,
	creat: 1,
	mkdir: 1,
	mknod: 1,
	open: 2,
	fchmodat: 2,
	fchmodat2: 2,
	mkdirat: 2,
	mknodat: 2,
	openat: 3,
};

type SeccompRule = {
	names: string[];
	action: 'SCMP_ACT_ERRNO';
	errnoRet: number;
	args?: Array<{index: number; value: number; valueTwo: number; op: 'SCMP_CMP_MASKED_EQ'}>;
};

export type SeccompProfile = {
	defaultAction: 'SCMP_ACT_ALLOW';
	archMap: Array<{architecture: string; subArchitectures: string[]}>;
	syscalls: SeccompRule[];
};

/** Refuse `names` when any of `bits` is set in argument `index` (one rule per bit: the filter can only AND). */
function whenAnyBit(names: string[], index: number, bits: number[], errno = eperm): SeccompRule[] {
	return bits.map(bit => ({names, action: 'SCMP_ACT_ERRNO', errnoRet: errno, args: [{index, value: bit, valueTwo: bit, op: 'SCMP_CMP_MASKED_EQ'}]}));
}

function always(names: string[], errno = eperm): SeccompRule {
	return {names, action: 'SCMP_ACT_ERRNO', errnoRet: errno};
}

export function seccompProfile(): SeccompProfile {
	const byModeArgument = new Map<number, string[]>();
	for (const [name, index] of Object.entries(modeArgument)) {
		byModeArgument.set(index, [...(byModeArgument.get(index) ?? []), name]);
	}

	return {
		defaultAction: 'SCMP_ACT_ALLOW',
		// The compatibility ABIs are listed with their native one: a filter
		// that knew only x86_64 would let a 32-bit chmod through.
		archMap: [
			{architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32']},
			{architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM']},
		],
		syscalls: [
			...[...byModeArgument].flatMap(([index, names]) => whenAnyBit(names, index, [setUserId, setGroupId])),
			// openat2 carries its mode in a struct the filter cannot read; C
			// libraries fall back to openat when it is missing.
			always(['openat2'], enosys),
			// io_uring opens files with modes the filter never sees.
			always(['io_uring_setup', 'io_uring_enter', 'io_uring_register'], enosys),
			...whenAnyBit(['clone'], 0, namespaceFlags),
			...whenAnyBit(['unshare'], 0, [...namespaceFlags, newTimeNamespace]),
			// clone3 takes its flags in a struct; C libraries fall back to clone.
			always(['clone3'], enosys),
			always(['setns']),
			always(['mount', 'umount', 'umount2', 'pivot_root', 'chroot', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr']),
			always(['add_key', 'keyctl', 'request_key']),
			always(['bpf', 'perf_event_open', 'userfaultfd', 'syslog']),
			always(['kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon', 'swapoff', 'acct', 'quotactl', 'quotactl_fd']),
			always(['open_by_handle_at', 'lookup_dcookie', 'uselib', '_sysctl', 'vm86', 'vm86old', 'ioperm', 'iopl', 'settimeofday', 'stime', 'clock_settime']),
		],
	};
}
