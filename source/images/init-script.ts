/**
 * The container's entrypoint. It starts as root, does the setup only root
 * can do, gives `moatuser` the UID/GID of the workspace owner (so files the
 * agent writes belong to the user), then drops to `moatuser` with gosu. It
 * refuses to run the command as root: if the switch cannot happen, the run
 * fails instead of quietly running privileged.
 *
 * POSIX sh and awk only, so it works on any Debian or Ubuntu base image.
 */
export const initScript = String.raw`#!/bin/sh
set -eu
# The root phase trusts nothing from the workspace: tools come from the
# system's own directories, and the user's environment (which agent.yaml
# controls) only arrives after the drop, through MOAT_USER_ENV.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

fail() {
	echo "moat-init: $1" >&2
	exit 126
}

[ "$#" -gt 0 ] || fail "no command given"
[ "$(id -u)" = 0 ] || fail "the container must start as root so it can set up moatuser; do not set USER in the image"

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

uid="${"$"}{MOAT_UID:-}"
gid="${"$"}{MOAT_GID:-}"
case "$uid" in ''|*[!0-9]*) fail "MOAT_UID is not set; start the container with moat" ;; esac
case "$gid" in ''|*[!0-9]*) fail "MOAT_GID is not set; start the container with moat" ;; esac
# Never hand the agent UID 0: a root-owned workspace gets a fixed unprivileged id.
[ "$uid" != 0 ] || uid=5000
[ "$gid" != 0 ] || gid=5000

# An account that already has this UID (node:20 ships "node" as 1000) would
# make the UID ambiguous: tools would print the other name and HOME would
# point elsewhere. Drop such accounts so moatuser alone owns the UID. A group
# that already has the GID is simply reused as moatuser's primary group.
awk -F: -v uid="$uid" -v gid="$gid" 'BEGIN { OFS = ":" }
	$1 == "moatuser" { $3 = uid; $4 = gid; $6 = "/home/moatuser"; print; next }
	$3 == uid { next }
	{ print }' /etc/passwd >/etc/passwd.moat
cat /etc/passwd.moat >/etc/passwd
rm -f /etc/passwd.moat
if ! awk -F: -v gid="$gid" '$3 == gid { found = 1 } END { exit !found }' /etc/group; then
	awk -F: -v gid="$gid" 'BEGIN { OFS = ":" } $1 == "moatuser" { $3 = gid } { print }' /etc/group >/etc/group.moat
	cat /etc/group.moat >/etc/group
	rm -f /etc/group.moat
fi

mkdir -p /home/moatuser
# Only the home directory's own files: -xdev stops at mount points but still
# lists the mount point itself, so each entry must also be on the home's own
# device — a host path mounted there is never handed to the user by root.
home_device=$(stat -c %d /home/moatuser)
find /home/moatuser -xdev -exec sh -c 'device=$1; owner=$2; shift 2; for entry; do [ "$(stat -c %d "$entry")" = "$device" ] && chown -h "$owner" "$entry"; done; exit 0' moat-chown "$home_device" "$uid:$gid" {} +

# moat's proxy CA: in the system trust store (programs with a built-in path)
# and as /etc/moat/ca-bundle.pem, the full bundle SSL_CERT_FILE names.
if [ -n "${"$"}{MOAT_CA_CERT:-}" ]; then
	mkdir -p /etc/moat /etc/ssl/certs /usr/local/share/ca-certificates
	printf '%s\n' "$MOAT_CA_CERT" >/etc/moat/ca.pem
	# The image's own CAs are kept aside once, so a restarted container does not add moat's twice.
	[ -e /etc/moat/system-ca.pem ] || cat /etc/ssl/certs/ca-certificates.crt >/etc/moat/system-ca.pem 2>/dev/null || : >/etc/moat/system-ca.pem
	cat /etc/moat/system-ca.pem /etc/moat/ca.pem >/etc/moat/ca-bundle.pem
	cat /etc/moat/ca-bundle.pem >/etc/ssl/certs/ca-certificates.crt
	cp /etc/moat/ca.pem /usr/local/share/ca-certificates/moat.crt
	chmod 644 /etc/moat/ca.pem /etc/moat/ca-bundle.pem /etc/ssl/certs/ca-certificates.crt /usr/local/share/ca-certificates/moat.crt
fi

# Root-only setup contributed by later stages (CA trust, socket permissions).
for step in /etc/moat/init.d/*.sh; do
	[ -r "$step" ] || continue
	. "$step"
done

command -v gosu >/dev/null 2>&1 || fail "gosu is missing from the image; rebuild it with --rebuild"
[ "$(gosu moatuser id -u)" = "$uid" ] || fail "could not switch to moatuser (UID $uid); refusing to run as root"

export HOME=/home/moatuser USER=moatuser LOGNAME=moatuser
# As moatuser: apply the user's variables (shell-quoted by moat), then run
# the command in place of this shell so its exit code is the run's.
exec gosu moatuser /bin/sh -c 'eval "$MOAT_USER_ENV"; unset MOAT_USER_ENV; exec "$@"' moat "$@"
`;
