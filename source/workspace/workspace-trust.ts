import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * What each workspace's agent.yaml has been allowed to ask for. The agent
 * can edit agent.yaml, so a grant it names for the first time is not used
 * until the user says so (on a terminal, or with --grant on the command
 * line); the answer is remembered per workspace.
 */
export type WorkspaceTrust = {
	/** The grants agent.yaml asks for that this workspace has not been allowed. */
	unapprovedGrants(workspace: string, configGrants: readonly string[], commandLineGrants: readonly string[]): Promise<string[]>;
	approve(workspace: string, grants: readonly string[]): Promise<void>;
};

type TrustFile = Record<string, {grants: string[]}>;

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
		async unapprovedGrants(workspace, configGrants, commandLineGrants) {
			const approved = new Set([...(await read())[workspace]?.grants ?? [], ...commandLineGrants]);
			return configGrants.filter(grant => !approved.has(grant));
		},
		async approve(workspace, grants) {
			if (grants.length === 0) {
				return;
			}

			const trust = await read();
			trust[workspace] = {grants: [...new Set([...(trust[workspace]?.grants ?? []), ...grants])].sort()};
			await fs.mkdir(moatHome, {recursive: true, mode: 0o700});
			const temporary = `${file}.${process.pid}.tmp`;
			await fs.writeFile(temporary, JSON.stringify(trust, undefined, 2) + '\n', {mode: 0o600});
			await fs.rename(temporary, file);
		},
	};
}
