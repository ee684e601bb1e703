/** Labels on everything moat creates; nothing without them is touched. */
export const containerLabels = {
	managed: 'moat.managed',
	runId: 'moat.run-id',
	runName: 'moat.run-name',
	/** Which MOAT_HOME the run belongs to: several can share one engine. */
	home: 'moat.home',
} as const;
