import fs from 'node:fs/promises';
import path from 'node:path';
import {writeFileAtomic} from '../files/atomic-write.js';
import {withFileLock} from '../files/file-lock.js';
import {printable} from '../text/printable.js';

/**
 * What each workspace's agent.yaml has been allowed to ask for. The agent
 * can edit agent.yaml, so anything in it that reaches beyond the workspace —
 * a grant, a base image (by its image ID), a mount from outside the
 * workspace, a secret (by its reference), a port of this machine
 * (network.host) — is not used until the user says so (on a terminal, or
 * by passing it on the command line).
 * Answers are remembered per workspace.
 */
export type TrustRequest = {kind: 'grant' | 'base image' | 'mount' | 'secret' | 'host port'; value: string};

/** A workspace as trust knows it: its path and the folder's own identity (device:inode). */
export type TrustedWorkspace = {path: string; identity: string};

export type WorkspaceTrust = {
	unapproved(workspace: TrustedWorkspace, requests: readonly TrustRequest[]): Promise<TrustRequest[]>;
	approve(workspace: TrustedWorkspace, requests: readonly TrustRequest[]): Promise<void>;
};

type TrustEntry = {identity?: string} & Partial<Record<TrustRequest['kind'], string[]>>;
type TrustFile = Record<string, TrustEntry>;

/** Describes requests for a question or an error: "the github grant and the mount /x:/data". */
export function describeRequests(requests: readonly TrustRequest[]): string {
	// agent.yaml is the agent's to write: a control character must not be able to redraw the question.
	return requests.map(request => (request.kind === 'grant' ? `the ${printable(request.value)} grant` : `the ${request.kind} ${printable(request.value)}`)).join(', ');
}

export function createWorkspaceTrust(moatHome: string): WorkspaceTrust {
	const file = path.join(moatHome, 'trust.json');
	const read = async (): Promise<TrustFile> => {
		try {
			return JSON.parse(await fs.readFile(file, 'utf8')) as TrustFile;
		} catch {
			// Missing or unreadable: nothing is trusted, which fails closed.
			return {};
		}
	};

	return {
		async unapproved(workspace, requests) {
			const entry = (await read())[workspace.path];
			// Another folder at the same path (deleted and cloned again) starts
			// with nothing approved.
			const approved: TrustEntry = entry?.identity === workspace.identity ? entry : {};
			return requests.filter(request => !(approved[request.kind] ?? []).includes(request.value));
		},
		async approve(workspace, requests) {
			if (requests.length === 0) {
				return;
			}

			await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
			await withFileLock(`${file}.lock`, async () => {
				const trust = await read();
				const existing = trust[workspace.path];
				const entry: TrustEntry = existing?.identity === workspace.identity ? existing : {identity: workspace.identity};
				for (const request of requests) {
					entry[request.kind] = [...new Set([...(entry[request.kind] ?? []), request.value])].sort();
				}

				trust[workspace.path] = entry;
				await writeFileAtomic(file, JSON.stringify(trust, undefined, 2) + '\n');
			});
		},
	};
}
