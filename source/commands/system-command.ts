import {usageError} from '../errors.js';
import {describeDependency, describeRegistry} from '../images/dependencies.js';
import {imageLabels} from '../images/image-builder.js';
import {formatAge, formatBytes, formatJson, formatTable} from '../output/format.js';
import {containerLabels} from '../runs/labels.js';
import type {Command} from './command.js';
import {printable} from '../text/printable.js';

export const depsCommand: Command = {
	help: `
  Usage
    $ moat deps list [--json]
    $ moat deps info NAME [--json]

  What agent.yaml's dependencies can name and what each becomes in the image:
  runtimes choose the base image; tools come from npm; anything else is a
  package of the base distribution.
`,
	flags: {json: {type: 'boolean'}},
	async run(context) {
		const [action, name, ...extra] = context.input;
		const registry = describeRegistry();
		if (action === 'list' && name === undefined) {
			if (context.flags.json) {
				context.stdout.write(formatJson(registry));
			} else {
				context.stdout.write(formatTable(['NAME', 'KIND', 'PROVIDES'], registry.map(entry => [entry.name, entry.kind, entry.provides])));
			}

			return 0;
		}

		if (action === 'info' && name !== undefined && extra.length === 0) {
			// The same decision agent.yaml's dependencies get: what it refuses, info refuses in the same words.
			const info = describeDependency(name);
			if (context.flags.json) {
				context.stdout.write(formatJson({...info, requested: name}));
			} else {
				context.stdout.write(printable(`${info.name}: ${info.kind}, provides ${info.provides}`) + '\n');
			}

			return 0;
		}

		throw usageError(`moat deps takes list or info NAME, got "${printable(context.input.join(' '))}".`, 'Run moat deps list, or moat deps info node@20.');
	},
};

export const systemCommand: Command = {
	help: `
  Usage
    $ moat system images [--json]
    $ moat system containers [--json]

  Lists only what moat made (label moat.managed=true); nothing else is
  shown or touched.
`,
	flags: {json: {type: 'boolean'}},
	async run(context) {
		const [what, ...extra] = context.input;
		const {engine} = await context.services();
		const now = context.environment.now();
		if (what === 'images' && extra.length === 0) {
			const images = await engine.listImages({[imageLabels.managed]: 'true'});
			if (context.flags.json) {
				context.stdout.write(formatJson(images));
			} else {
				context.stdout.write(formatTable(
					['IMAGE', 'ID', 'BASE', 'SIZE', 'AGE'],
					images.map(image => [image.tags[0] ?? '<untagged>', image.id.replace(/^sha256:/, '').slice(0, 12), image.labels[imageLabels.base] ?? '-', formatBytes(image.sizeBytes), formatAge(image.createdAt, now)]),
				));
			}

			return 0;
		}

		if (what === 'containers' && extra.length === 0) {
			const containers = await engine.listContainers({[containerLabels.managed]: 'true'});
			if (context.flags.json) {
				context.stdout.write(formatJson(containers));
			} else {
				context.stdout.write(formatTable(
					['CONTAINER', 'RUN ID', 'NAME', 'STATE', 'IMAGE'],
					containers.map(container => [container.id.slice(0, 12), container.labels[containerLabels.runId] ?? '-', container.labels[containerLabels.runName] ?? '-', container.status, container.image]),
				));
			}

			return 0;
		}

		throw usageError(`moat system takes images or containers, got "${printable(context.input.join(' '))}".`, 'Run moat system images or moat system containers.');
	},
};
