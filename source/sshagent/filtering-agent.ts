import net from 'node:net';
import type {Duplex} from 'node:stream';
import {decideSign, checkSessionBind, grantedKeys, type SessionBinding, type SshRule} from './agent-policy.js';
import {failureMessage, frame, identitiesAnswer, messageTypes, parseIdentitiesAnswer, parseRequest, splitMessages, successMessage} from './agent-protocol.js';

/**
 * A run's SSH agent. It answers from the user's real agent but lists only
 * the run's granted keys and signs only what agent-policy.ts allows; every
 * refusal is a plain agent failure, at once. It has no socket of its own:
 * the bottle's connections reach it through the gateway and the proxy
 * (README: The gateway), which hand each one to `serve`.
 */
export type FilteringAgent = {
	/** Speaks the agent protocol on one connection from the run's bottle. */
	serve(socket: Duplex): void;
	close(): Promise<void>;
};

export type FilteringAgentOptions = {
	/** The user's agent (its SSH_AUTH_SOCK when the run started). */
	upstream: string | undefined;
	/** The run's ssh: grants, read when needed (a revoked grant stops signing). */
	rules(): Promise<SshRule[]>;
	signed(fingerprint: string, host: string): void;
	refused(reason: string): void;
};

/** OpenSSH's own limits, near enough: no honest client comes close. */
const maximumBindings = 16;
const maximumMessageBytes = 16 * 1024;
const maximumWaiting = 8;
const maximumConnections = 32;
const maximumRefusalsReported = 5;

/** How long the user's agent gets to answer (it may be asking the user to touch a key). */
const upstreamMilliseconds = 60_000;

/** One request to the user's agent, on its own connection; resolves with the answer (without its length). */
export async function askAgent(socketPath: string, message: Buffer): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const socket = net.createConnection(socketPath);
		let pending: Buffer = Buffer.alloc(0);
		const timer = setTimeout(() => {
			socket.destroy(new Error('the SSH agent did not answer'));
		}, upstreamMilliseconds);
		socket.on('connect', () => socket.write(message));
		socket.on('data', (chunk: Buffer) => {
			pending = Buffer.concat([pending, chunk]);
			try {
				const {messages} = splitMessages(pending);
				if (messages.length > 0) {
					clearTimeout(timer);
					socket.end();
					resolve(messages[0]!);
				}
			} catch (error) {
				socket.destroy(error as Error);
			}
		});
		socket.on('error', error => {
			clearTimeout(timer);
			reject(error);
		});
		socket.on('close', () => {
			clearTimeout(timer);
			reject(new Error('the SSH agent closed the connection'));
		});
	});
}

export function createFilteringAgent(options: FilteringAgentOptions): FilteringAgent {
	const upstreamMissing = () => `the SSH agent moat uses (${options.upstream ?? 'no SSH_AUTH_SOCK'}) cannot be reached; start ssh-agent and add your key, then start the run again`;

	async function answer(message: Buffer, bindings: SessionBinding[], refuse: (reason: string) => void): Promise<Buffer> {
		const request = parseRequest(message);
		switch (request.kind) {
			case 'identities': {
				if (!options.upstream) {
					options.refused(upstreamMissing());
					return failureMessage();
				}

				const keys = parseIdentitiesAnswer(await askAgent(options.upstream, frame(messageTypes.requestIdentities)));
				return identitiesAnswer(grantedKeys(keys, await options.rules()));
			}

			case 'session-bind': {
				const binding = bindings.length < maximumBindings ? checkSessionBind(request, await options.rules()) : undefined;
				if (!binding) {
					refuse('a session-bind for a server that is not a granted host, or whose signature does not verify');
					return failureMessage();
				}

				bindings.push(binding);
				return successMessage();
			}

			case 'sign': {
				const decision = decideSign(request, bindings, await options.rules());
				if (!decision.allowed) {
					refuse(decision.reason);
					return failureMessage();
				}

				if (!options.upstream) {
					options.refused(upstreamMissing());
					return failureMessage();
				}

				const response = await askAgent(options.upstream, frame(messageTypes.signRequest, message.subarray(1)));
				if (response[0] === messageTypes.signResponse) {
					options.signed(decision.fingerprint, decision.host);
				}

				return withLength(response);
			}

			default: {
				// Adding, removing or locking keys, other extensions: not through a bottle.
				return failureMessage();
			}
		}
	}

	const connections = new Set<Duplex>();
	const serve = (socket: Duplex) => {
		if (connections.size >= maximumConnections) {
			socket.destroy();
			return;
		}

		connections.add(socket);
		socket.once('close', () => connections.delete(socket));
		const bindings: SessionBinding[] = [];
		let pending: Buffer = Buffer.alloc(0);
		// Refusals are audited, but a bottle asking in a loop must not flood the log.
		let refusals = 0;
		const refuse = (reason: string) => {
			if (++refusals <= maximumRefusalsReported) {
				options.refused(reason);
			}
		};

		// One request at a time, in order, as the protocol expects; the socket
		// is paused while requests wait, so a flood cannot pile up in memory.
		let queue: Promise<unknown> = Promise.resolve();
		let waiting = 0;
		socket.on('data', (chunk: Buffer) => {
			pending = Buffer.concat([pending, chunk]);
			let messages: Buffer[];
			try {
				({messages, rest: pending} = splitMessages(pending, maximumMessageBytes));
			} catch {
				socket.destroy();
				return;
			}

			for (const message of messages) {
				waiting++;
				if (waiting > maximumWaiting) {
					socket.pause();
				}

				queue = queue.then(async () => {
					const reply = await answer(message, bindings, refuse).catch((error: unknown) => {
						refuse(error instanceof Error && /ENOENT|ECONNREFUSED|closed/.test(error.message) ? upstreamMissing() : `the request failed: ${(error as Error).message}`);
						return failureMessage();
					});
					waiting--;
					if (!socket.destroyed) {
						socket.write(reply);
						if (waiting <= maximumWaiting) {
							socket.resume();
						}
					}
				});
			}
		});
		socket.on('error', () => undefined);
	};

	return {
		serve,
		async close() {
			// Open connections end with the run: close never waits on a client.
			for (const socket of connections) {
				socket.destroy();
			}
		},
	};
}

function withLength(message: Buffer): Buffer {
	const length = Buffer.alloc(4);
	length.writeUInt32BE(message.length);
	return Buffer.concat([length, message]);
}
