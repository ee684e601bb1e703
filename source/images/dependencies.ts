import {imageReferencePattern} from '../config/config-names.js';
import {usageError} from '../errors.js';
import {nearest} from '../text/nearest.js';
import {printable} from '../text/printable.js';

/**
 * What a `dependencies:` entry means for the image. Runtimes choose the base
 * image; everything else is installed on top of it.
 */
export type DependencyPlan = {
	baseImage: string;
	/** Packages from the base distribution (apt). */
	systemPackages: string[];
	/** Global npm packages (need a Node runtime in the image). */
	npmPackages: string[];
};

type Runtime = {name: string; image: (version: string) => string; versionPattern: RegExp};

/** Language runtimes and the official images that carry them. */
const runtimes: readonly Runtime[] = [
	{name: 'node', image: version => `node:${version}`, versionPattern: /^\d+(\.\d+){0,2}$/},
	{name: 'python', image: version => `python:${version}`, versionPattern: /^\d+(\.\d+){0,2}$/},
	{name: 'go', image: version => `golang:${version}`, versionPattern: /^\d+(\.\d+){0,2}$/},
];

/** Named tools that are not simply a Debian package of the same name. */
const tools: Readonly<Record<string, {npm?: string; system?: string; needsNode?: boolean}>> = {
	'claude-code': {npm: '@anthropic-ai/claude-code', needsNode: true},
	codex: {npm: '@openai/codex', needsNode: true},
};

export const defaultBaseImage = 'ubuntu:22.04';

/** Debian package names: lowercase, digits, + - . (policy manual §5.6.1). */
const debianPackagePattern = /^[a-z\d][a-z\d+.-]+$/;

/** The dependency registry as `moat deps list` shows it. */
export function describeRegistry(): Array<{name: string; kind: string; provides: string}> {
	return [
		...runtimes.map(runtime => ({name: `${runtime.name}@VERSION`, kind: 'runtime', provides: `base image ${runtime.image('VERSION')}`})),
		...Object.entries(tools).map(([name, tool]) => ({
			name,
			kind: tool.npm ? 'npm' : 'system',
			provides: tool.npm ?? tool.system ?? name,
		})),
		{name: 'PACKAGE', kind: 'system', provides: 'the base distribution\'s package of that name'},
	];
}

/** What one `dependencies:` entry is. */
type DependencyKind =
	| {kind: 'runtime'; runtime: Runtime; image: string}
	| {kind: 'tool'; npm?: string; system?: string}
	| {kind: 'system'; package: string};

/**
 * Classifies one entry, or refuses it with a usage error naming it: the one
 * decision both an image plan and `moat deps info` read, so they agree.
 */
function classify(entry: string): DependencyKind {
	const [name = '', version] = entry.split('@');
	const runtime = runtimes.find(candidate => candidate.name === name);
	if (runtime) {
		if (!version || !runtime.versionPattern.test(version)) {
			throw usageError(
				`Dependency "${printable(entry)}" needs a version.`,
				`Write it as ${runtime.name}@VERSION, e.g. ${runtime.name}@${runtime.name === 'go' ? '1.22' : runtime.name === 'node' ? '20' : '3.11'}.`,
			);
		}

		return {kind: 'runtime', runtime, image: runtime.image(version)};
	}

	const tool = tools[entry];
	if (tool) {
		return {kind: 'tool', ...tool};
	}

	if (version !== undefined || !debianPackagePattern.test(entry)) {
		// nodejs@20 is a runtime by another name; say which.
		const likely = version === undefined ? undefined : nearest(name, runtimes.map(candidate => candidate.name));
		throw usageError(
			`Unknown dependency "${printable(entry)}".`,
			`${likely ? `Did you mean ${likely}@${printable(version!)}? ` : ''}Use a runtime (node@20, python@3.11, go@1.22), a known tool (claude-code, codex) or a Debian package name. See moat deps list.`,
		);
	}

	return {kind: 'system', package: entry};
}

/**
 * What one `dependencies:` entry becomes, as `moat deps info` says it; an
 * entry agent.yaml would refuse is refused with the same error.
 */
export function describeDependency(entry: string): {name: string; kind: string; provides: string} {
	const found = classify(entry);
	switch (found.kind) {
		case 'runtime': {
			return {name: entry, kind: 'runtime', provides: `base image ${found.image}`};
		}

		case 'tool': {
			return {name: entry, kind: found.npm ? 'npm' : 'system', provides: found.npm ? `${found.npm} (needs node@VERSION)` : found.system ?? entry};
		}

		default: {
			return {name: entry, kind: 'system', provides: 'the base distribution\'s package of that name'};
		}
	}
}

/**
 * Resolves `dependencies:` and `base_image:` into an image plan. Pure: every
 * problem is a usage error naming the entry.
 */
export function planDependencies(dependencies: readonly string[], baseImage?: string): DependencyPlan {
	const systemPackages = new Set<string>();
	const npmPackages = new Set<string>();
	let runtimeImage: string | undefined;
	let runtimeEntry: string | undefined;
	let hasNode = false;

	for (const entry of dependencies) {
		const found = classify(entry);
		if (found.kind === 'runtime') {
			if (runtimeEntry) {
				throw usageError(
					`Dependencies name two runtimes (${printable(runtimeEntry)} and ${printable(entry)}); the base image comes from one.`,
					'Keep one runtime and add the other as a system package (for example python3), or set base_image.',
				);
			}

			runtimeEntry = entry;
			runtimeImage = found.image;
			hasNode ||= found.runtime.name === 'node';
			continue;
		}

		if (found.kind === 'tool') {
			if (found.npm) {
				npmPackages.add(found.npm);
			}

			if (found.system) {
				systemPackages.add(found.system);
			}

			continue;
		}

		systemPackages.add(found.package);
	}

	if (baseImage !== undefined && !imageReferencePattern.test(baseImage)) {
		throw usageError(`base_image "${printable(baseImage)}" is not an image reference.`, 'Use a reference such as ubuntu:22.04 or registry.example.com/team/image:tag.');
	}

	if (npmPackages.size > 0 && !hasNode && !baseImage) {
		throw usageError(
			`Dependencies ${[...npmPackages].join(', ')} are npm packages and need Node.js.`,
			'Add node@20 to dependencies.',
		);
	}

	return {
		baseImage: baseImage ?? runtimeImage ?? defaultBaseImage,
		systemPackages: [...systemPackages].sort(),
		npmPackages: [...npmPackages].sort(),
	};
}
