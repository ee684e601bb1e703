/** The OS keychain, as moat uses it: one secret per service and account. */
export type SystemKeychain = {
	get(service: string, account: string): Promise<string | undefined>;
	set(service: string, account: string, secret: string): Promise<void>;
};

type Keytar = {
	getPassword(service: string, account: string): Promise<string | null>;
	setPassword(service: string, account: string, password: string): Promise<void>;
};

/**
 * The only place moat touches keytar. keytar is optional (a native module
 * that needs the platform's keychain libraries): when it cannot be loaded,
 * or loads but reaches no keychain (a headless Linux box without a Secret
 * Service), this returns undefined and moat uses its key file.
 */
export async function loadSystemKeychain(): Promise<SystemKeychain | undefined> {
	let keytar: Keytar;
	try {
		const module = (await import('keytar' as string)) as {default?: Keytar} & Keytar;
		keytar = module.default ?? module;
	} catch {
		return undefined;
	}

	try {
		// A read proves the keychain answers; on Linux without a Secret
		// Service this throws rather than returning null.
		await keytar.getPassword('moat', 'probe');
	} catch {
		return undefined;
	}

	return {
		async get(service, account) {
			return (await keytar.getPassword(service, account)) ?? undefined;
		},
		async set(service, account, secret) {
			await keytar.setPassword(service, account, secret);
		},
	};
}
