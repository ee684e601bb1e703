import {fingerprintOf} from './agent-client.js';
import {parseUserauthRequest, verifySignature} from './agent-protocol.js';

/**
 * What a run's agent may do (README: SSH), decided without I/O: list only the
 * granted keys, and sign only an SSH login, with a granted key, for a
 * session the client has bound (session-bind@openssh.com) to a server whose
 * host key belongs to a host that key is granted for.
 */

/** One `ssh:HOST` grant of a run: the key it maps, and the host keys HOST is known by. */
export type SshRule = {host: string; keyBlob: Buffer; fingerprint: string; hostKeys: readonly Buffer[]};

/** A session the client said it is in, proven by the server's signature over its id. */
export type SessionBinding = {hostKey: Buffer; sessionId: Buffer};

/** The session-bind a client sends, if the host key really signed that session id. */
export function checkSessionBind(request: {hostKey: Buffer; sessionId: Buffer; signature: Buffer; forwarding: boolean}, rules?: readonly SshRule[]): SessionBinding | undefined {
	// A forwarded hop binds a session of another machine; moat signs only for the bottle's own connections.
	// Only the granted hosts' keys are worth a signature check (which costs CPU the bottle would choose).
	if (request.forwarding || request.sessionId.length > 128
		|| (rules && !rules.some(rule => rule.hostKeys.some(hostKey => hostKey.equals(request.hostKey))))
		|| !verifySignature(request.hostKey, request.signature, request.sessionId)) {
		return undefined;
	}

	return {hostKey: request.hostKey, sessionId: request.sessionId};
}

/** The real agent's keys that the run's grants name, and only those. */
export function grantedKeys<T extends {blob: Buffer}>(keys: readonly T[], rules: readonly SshRule[]): T[] {
	return keys.filter(key => rules.some(rule => rule.keyBlob.equals(key.blob)));
}

export type SignDecision =
	| {allowed: true; host: string; fingerprint: string}
	| {allowed: false; reason: string};

export function decideSign(request: {keyBlob: Buffer; data: Buffer}, bindings: readonly SessionBinding[], rules: readonly SshRule[]): SignDecision {
	const forKey = rules.filter(rule => rule.keyBlob.equals(request.keyBlob));
	if (forKey.length === 0) {
		return {allowed: false, reason: `key ${fingerprintOf(request.keyBlob)} is not granted to this run`};
	}

	const login = parseUserauthRequest(request.data);
	if (!login?.keyBlob.equals(request.keyBlob)) {
		return {allowed: false, reason: 'only SSH logins with the requested key are signed'};
	}

	const binding = bindings.find(candidate => candidate.sessionId.equals(login.sessionId));
	if (!binding) {
		return {allowed: false, reason: 'the session was not bound to a server (session-bind@openssh.com; OpenSSH 8.9 or newer)'};
	}

	if (login.hostKey && !login.hostKey.equals(binding.hostKey)) {
		return {allowed: false, reason: 'the login names another server than the session was bound to'};
	}

	const rule = forKey.find(candidate => candidate.hostKeys.some(hostKey => hostKey.equals(binding.hostKey)));
	if (!rule) {
		return {allowed: false, reason: `the server's host key ${fingerprintOf(binding.hostKey)} is not one of ${forKey.map(candidate => candidate.host).join(', ')}'s`};
	}

	return {allowed: true, host: rule.host, fingerprint: rule.fingerprint};
}
