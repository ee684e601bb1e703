/**
 * The container's entrypoint. The bottle starts as the workspace owner's
 * UID/GID with no capability: moat did the root setup before the start,
 * through the engine (images/root-setup.ts), so nothing here runs as root
 * and no binary of the image is ever trusted with privileges. What is left
 * is the user's own setup: check the mounts, apply the user's variables,
 * run the command.
 *
 * POSIX sh only, so it works on any base image.
 */
export const initScript = String.raw`#!/bin/sh
set -eu

fail() {
	echo "moat-init: $1" >&2
	exit 126
}

# A command the bottle does not have is the bottle's to explain: the
# shell's own "exec: x: not found" reads as moat's error. 127, as a shell's.
missing() {
	echo "moat-init: command not found in the bottle: $1" >&2
	echo "moat-init: install it with dependencies: in agent.yaml, or give its path inside the bottle (the workspace is /workspace)." >&2
	exit 127
}

[ "$#" -gt 0 ] || fail "no command given"

# Each mount must be what moat checked on the host (same device and inode):
# a source swapped for a symlink between the check and the mount is refused.
set -f
for check in ${"$"}{MOAT_MOUNT_CHECKS:-}; do
	# The identity after the last = never contains one; the target may.
	target="${"$"}{check%=*}"
	expected="${"$"}{check##*=}"
	actual="$(stat -c '%d:%i' "$target" 2>/dev/null || echo missing)"
	[ "$actual" = "$expected" ] || fail "the mount at $target is not what moat checked on the host (it changed in between); refusing to start"
done
set +f

# The user's variables arrive shell-quoted in one value (moat wrote it), so
# agent.yaml cannot steer anything before this line.
eval "$MOAT_USER_ENV"
unset MOAT_USER_ENV
# Looked up after the user's variables: they may set PATH.
case "$1" in
*/*) [ -e "$1" ] || missing "$1" ;;
*) command -v "$1" >/dev/null 2>&1 || missing "$1" ;;
esac
exec "$@"
`;
