/**
 * What the bottle's ssh needs besides the agent socket, as text: known host
 * keys for the granted hosts, a client config that sends every connection
 * through moat's proxy (so it is policy-checked, logged, and follows
 * MOAT_UPSTREAM_OVERRIDES), and the proxy command itself. Pure.
 */

/** Where the folder with these files appears in the container. */
export const containerSshDirectory = '/etc/moat/ssh';
/** Where the volume with the agent relay's socket appears in the container. */
export const containerAgentDirectory = '/etc/moat/ssh-agent';
export const containerAgentSocket = `${containerAgentDirectory}/agent.sock`;
/** Debian and Ubuntu's ssh_config includes this folder first, so these settings win over the defaults. */
export const containerSshConfig = '/etc/ssh/ssh_config.d/moat.conf';

/**
 * Published host keys of the big forges, pinned so a grant for them never
 * trusts whatever answered at grant time. (GitHub's three keys, GitLab's and
 * Bitbucket's Ed25519 keys, as their documentation lists them; checked
 * against the published SHA-256 fingerprints in the tests.)
 */
export const pinnedHostKeys: Readonly<Record<string, readonly string[]>> = {
	'github.com': [
		'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
		'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=',
		'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=',
	],
	'gitlab.com': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfuCHKVTjquxvt6CM6tdG4SLp1Btn/nOeHHE5UOzRdf'],
	'bitbucket.org': ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIazEu89wgQZ4bqs3d63QSMzYVa0MuJ2e2gKTKqu+UUO'],
};

/** `host` of an `ssh:host[:port]` grant, as known_hosts names it (`[host]:port` off port 22). */
export function knownHostsName(host: string): string {
	const [name, port] = host.split(':');
	return port && port !== '22' ? `[${name}]:${port}` : name!;
}

/** One known_hosts line per host key of each granted host. */
export function knownHostsText(hosts: ReadonlyArray<{host: string; hostKeys: readonly string[]}>): string {
	return hosts.flatMap(({host, hostKeys}) => hostKeys.map(key => `${knownHostsName(host)} ${key.trim().split(/\s+/).slice(0, 2).join(' ')}`)).join('\n') + '\n';
}

/**
 * The client config: only moat's known hosts, strict checking, and the
 * proxy command for every host. A user's own ~/.ssh/config is still read
 * first, but in a bottle there is no way out except the proxy anyway.
 */
export function sshClientConfig(): string {
	return [
		'# Written by moat: ssh in this bottle goes through moat\'s proxy, to the hosts granted with moat grant ssh.',
		'Host *',
		`\tProxyCommand /bin/bash ${containerSshDirectory}/proxy %h %p`,
		`\tGlobalKnownHostsFile ${containerSshDirectory}/known_hosts`,
		'\tUserKnownHostsFile /dev/null',
		'\tStrictHostKeyChecking yes',
		`\tIdentityAgent ${containerAgentSocket}`,
		'',
	].join('\n');
}

/**
 * The proxy command: a CONNECT to host:port through the proxy named in
 * HTTPS_PROXY (with the run's token), then bytes both ways. Bash, for its
 * /dev/tcp; read is unbuffered on a socket, so nothing after the proxy's
 * answer is swallowed.
 */
export function sshProxyScript(): string {
	return String.raw`#!/bin/bash
# Written by moat: ssh's ProxyCommand, a CONNECT through moat's proxy.
set -u
host="$1" port="$2"
proxy="${"$"}{HTTPS_PROXY:-${"$"}{HTTP_PROXY:-}}"
[ -n "$proxy" ] || { echo "moat: no proxy in this bottle (HTTPS_PROXY is not set)" >&2; exit 1; }
rest="${"$"}{proxy#*://}"
credentials="${"$"}{rest%@*}"
address="${"$"}{rest##*@}"
address="${"$"}{address%/}"
exec 3<>"/dev/tcp/${"$"}{address%:*}/${"$"}{address##*:}" || { echo "moat: cannot reach moat's proxy at $address" >&2; exit 1; }
# X-Moat-Refusal: a refusal comes as this CONNECT's answer, which is read below (ssh could not read one inside the tunnel).
printf 'CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\nProxy-Authorization: Basic %s\r\nX-Moat-Refusal: status\r\n\r\n' "$host" "$port" "$host" "$port" "$(printf '%s' "$credentials" | base64 -w0)" >&3
IFS= read -r status <&3
case "$status" in
	"HTTP/1."?" 200"*) ;;
	*)
		body=""
		while IFS= read -r line <&3; do body="$body${"$"}{line%$'\r'} "; done
		echo "moat: the proxy refused ssh to $host:$port: ${"$"}{status%$'\r'} $body" >&2
		exit 1
		;;
esac
while IFS= read -r line <&3; do
	[ -z "${"$"}{line%$'\r'}" ] && break
done
# ssh's input ends when the server's side does: the copy to ssh is the
# script's last word, and the copy from ssh goes with it.
# (A background job's stdin would be /dev/null: ssh's input goes by fd 4.)
exec 4<&0
cat <&4 >&3 &
writer=$!
cat <&3
kill "$writer" 2>/dev/null || :
`;
}
