import test from 'ava';
import {fingerprintOf} from '../source/sshagent/agent-client.js';
import {checkSessionBind, decideSign, grantedKeys, type SessionBinding, type SshRule} from '../source/sshagent/agent-policy.js';
import {ecdsaKey, ed25519Key, rsaKey, signSsh, userauthData} from './helpers/ssh-wire.js';

// What the bottle's agent signs (README: SSH), decided without I/O.

const granted = ed25519Key();
const alsoGranted = ecdsaKey();
const other = ed25519Key();
const gitHost = ed25519Key();
const gitHostRsa = rsaKey();
const mirrorHost = ed25519Key();
const impostor = ed25519Key();

const rule = (host: string, key: {blob: Buffer}, hostKeys: Array<{blob: Buffer}>): SshRule => ({host, keyBlob: key.blob, fingerprint: fingerprintOf(key.blob), hostKeys: hostKeys.map(hostKey => hostKey.blob)});
const rules: SshRule[] = [
	rule('git.test', granted, [gitHost, gitHostRsa]),
	rule('mirror.test:2222', alsoGranted, [mirrorHost]),
];

const sessionId = Buffer.alloc(32, 0xA1);
const otherSessionId = Buffer.alloc(32, 0xB2);
const bound = (hostKey: {blob: Buffer}, id = sessionId): SessionBinding => ({hostKey: hostKey.blob, sessionId: id});
const login = (key: {blob: Buffer}, options: {id?: Buffer; hostKey?: {blob: Buffer}} = {}) => userauthData({sessionId: options.id ?? sessionId, keyBlob: key.blob, ...options.hostKey ? {hostKey: options.hostKey.blob} : {}});

type Case = {title: string; keyBlob: Buffer; data: Buffer; bindings: SessionBinding[]; rules?: SshRule[]; allowed: boolean; host?: string; reason?: RegExp};

const cases: Case[] = [
	{title: 'a login with the granted key, in a session bound to the granted host, is signed', keyBlob: granted.blob, data: login(granted), bindings: [bound(gitHost)], allowed: true, host: 'git.test'},
	{title: 'a host-bound login naming the bound host key is signed', keyBlob: granted.blob, data: login(granted, {hostKey: gitHost}), bindings: [bound(gitHost)], allowed: true, host: 'git.test'},
	{title: 'any of the host\'s known keys will do', keyBlob: granted.blob, data: login(granted, {hostKey: gitHostRsa}), bindings: [bound(gitHostRsa)], allowed: true, host: 'git.test'},
	{title: 'the binding is found among several on the connection', keyBlob: granted.blob, data: login(granted), bindings: [bound(impostor, otherSessionId), bound(gitHost)], allowed: true, host: 'git.test'},
	{title: 'a second grant\'s key signs for its own host', keyBlob: alsoGranted.blob, data: login(alsoGranted), bindings: [bound(mirrorHost)], allowed: true, host: 'mirror.test:2222'},
	{title: 'a key granted for two hosts signs for whichever the session is bound to', keyBlob: granted.blob, data: login(granted), bindings: [bound(mirrorHost)], rules: [...rules, rule('mirror.test:2222', granted, [mirrorHost])], allowed: true, host: 'mirror.test:2222'},
	{title: 'a key not granted is refused', keyBlob: other.blob, data: login(other), bindings: [bound(gitHost)], allowed: false, reason: /is not granted to this run/},
	{title: 'nothing is signed without grants', keyBlob: granted.blob, data: login(granted), bindings: [bound(gitHost)], rules: [], allowed: false, reason: /is not granted/},
	{title: 'data that is not a login is refused', keyBlob: granted.blob, data: Buffer.from('git commit to sign'), bindings: [bound(gitHost)], allowed: false, reason: /only SSH logins/},
	{title: 'a login without a signature (a query) is refused', keyBlob: granted.blob, data: userauthData({sessionId, keyBlob: granted.blob, hasSignature: false}), bindings: [bound(gitHost)], allowed: false, reason: /only SSH logins/},
	{title: 'a login with another key than the one asked to sign with is refused', keyBlob: granted.blob, data: login(other), bindings: [bound(gitHost)], allowed: false, reason: /with the requested key/},
	{title: 'a login with the granted key, asked of another granted key, is refused', keyBlob: alsoGranted.blob, data: login(granted), bindings: [bound(gitHost)], allowed: false, reason: /with the requested key/},
	{title: 'a login in a session never bound is refused', keyBlob: granted.blob, data: login(granted), bindings: [], allowed: false, reason: /not bound to a server/},
	{title: 'a login in another session than the bound one is refused', keyBlob: granted.blob, data: login(granted, {id: otherSessionId}), bindings: [bound(gitHost)], allowed: false, reason: /not bound to a server/},
	{title: 'a session bound to a server whose host key is not the granted host\'s is refused', keyBlob: granted.blob, data: login(granted), bindings: [bound(impostor)], allowed: false, reason: new RegExp(`host key ${fingerprintOf(impostor.blob).replaceAll('+', String.raw`\+`)} is not one of git\\.test's`)},
	{title: 'a session bound to another granted host is refused for a key granted only to git.test', keyBlob: granted.blob, data: login(granted), bindings: [bound(mirrorHost)], allowed: false, reason: /is not one of git\.test's/},
	{title: 'a host-bound login naming another host key than the binding is refused', keyBlob: granted.blob, data: login(granted, {hostKey: impostor}), bindings: [bound(gitHost)], allowed: false, reason: /names another server/},
	{title: 'a host-bound login naming the granted host while bound to an impostor is refused', keyBlob: granted.blob, data: login(granted, {hostKey: gitHost}), bindings: [bound(impostor)], allowed: false, reason: /names another server/},
];

for (const item of cases) {
	test(`decideSign: ${item.title}`, t => {
		const decision = decideSign({keyBlob: item.keyBlob, data: item.data}, item.bindings, item.rules ?? rules);
		t.is(decision.allowed, item.allowed, JSON.stringify(decision));
		if (decision.allowed) {
			t.deepEqual(decision, {allowed: true, host: item.host!, fingerprint: fingerprintOf(item.keyBlob)});
		} else {
			t.regex(decision.reason, item.reason!);
		}
	});
}

test('checkSessionBind accepts a session id signed by the host key it names', t => {
	for (const hostKey of [gitHost, gitHostRsa, ecdsaKey()]) {
		t.deepEqual(checkSessionBind({hostKey: hostKey.blob, sessionId, signature: signSsh(hostKey, sessionId), forwarding: false}), bound(hostKey));
	}
});

const badBinds: Array<[string, {hostKey: Buffer; sessionId: Buffer; signature: Buffer; forwarding: boolean}]> = [
	['a signature by another key than the one named', {hostKey: gitHost.blob, sessionId, signature: signSsh(impostor, sessionId), forwarding: false}],
	['a signature over another session id', {hostKey: gitHost.blob, sessionId, signature: signSsh(gitHost, otherSessionId), forwarding: false}],
	['an empty signature', {hostKey: gitHost.blob, sessionId, signature: Buffer.alloc(0), forwarding: false}],
	['an unreadable host key', {hostKey: Buffer.from('not a key'), sessionId, signature: signSsh(gitHost, sessionId), forwarding: false}],
	['a valid signature on a forwarded hop (forwarding=true)', {hostKey: gitHost.blob, sessionId, signature: signSsh(gitHost, sessionId), forwarding: true}],
];
for (const [title, request] of badBinds) {
	test(`checkSessionBind refuses ${title}`, t => {
		t.is(checkSessionBind(request), undefined);
	});
}

test('grantedKeys keeps only the real agent\'s keys that a grant names, in the agent\'s order, with their comments', t => {
	const agentKeys = [
		{blob: other.blob, comment: 'other-key'},
		{blob: alsoGranted.blob, comment: 'second'},
		{blob: granted.blob, comment: 'granted-key'},
	];
	t.deepEqual(grantedKeys(agentKeys, rules), [agentKeys[1], agentKeys[2]]);
	t.deepEqual(grantedKeys(agentKeys, []), []);
	t.deepEqual(grantedKeys([], rules), []);
	t.deepEqual(grantedKeys([{blob: other.blob, comment: 'other-key'}], rules), []);
});
