import {z} from 'zod';
import {environmentNamePattern, imageReferencePattern, maxRunNameLength, memoryPattern, runNamePattern} from './config-names.js';


const scalarString = z
	.union([z.string(), z.number(), z.boolean()], {error: 'must be a string'})
	.transform(value => String(value));

const environmentName = z.string().regex(environmentNamePattern, {
	error: 'is not a valid environment variable name (letters, digits and _, not starting with a digit)',
});

const secretReference = z
	.string({error: 'must be a string'})
	.regex(/^(op:\/\/[^/]+\/[^/]+\/.+|ssm:\/\/[^/]*\/.+|env:\/\/[A-Za-z_]\w*)$/, {
		error: 'is not a secret reference (op://vault/item/field, ssm:///path, ssm://region/path or env://NAME)',
	});

const portNumber = z
	.number({error: 'must be a port number'})
	.int({error: 'must be a whole port number'})
	.min(1, {error: 'must be between 1 and 65535'})
	.max(65_535, {error: 'must be between 1 and 65535'});

/** The shape of `agent.yaml` (README: agent.yaml). Unknown keys are errors. */
export const configSchema = z.strictObject({
	name: z
		.string({error: 'must be a string'})
		.max(maxRunNameLength, {error: `must be at most ${maxRunNameLength} characters (it becomes a host name label)`, abort: true})
		.regex(runNamePattern, {error: 'may hold only letters, digits, ".", "_" and "-", starting with a letter or digit'})
		.optional(),
	version: scalarString.optional(),
	agent: z.enum(['claude', 'codex'], {error: 'must be "claude" or "codex"'}).optional(),
	dependencies: z
		.array(z.string({error: 'must be a string'}).min(1, {error: 'must not be empty'}), {error: 'must be a list'})
		.optional(),
	base_image: z
		.string({error: 'must be a string'})
		.regex(imageReferencePattern, {error: 'is not an image reference such as ubuntu:22.04 or registry.example.com/team/image:tag'})
		.optional(),
	grants: z
		.array(z.string({error: 'must be a string'}).min(1, {error: 'must not be empty'}), {error: 'must be a list'})
		.optional(),
	env: z.record(environmentName, scalarString, {error: 'must be a map of NAME: value'}).optional(),
	secrets: z.record(environmentName, secretReference, {error: 'must be a map of NAME: reference'}).optional(),
	network: z
		.strictObject(
			{
				policy: z.enum(['permissive', 'strict'], {error: 'must be "permissive" or "strict"'}).optional(),
				allow: z
					.array(z.string({error: 'must be a string'}).min(1, {error: 'must not be empty'}), {error: 'must be a list'})
					.optional(),
				// Ports of this machine the bottle may reach, as host.moat.internal:PORT, through the proxy.
				host: z.array(portNumber, {error: 'must be a list of port numbers'}).optional(),
			},
			{error: 'must be a map with policy, allow and host'},
		)
		.optional(),
	mounts: z
		.array(z.string({error: 'must be a string'}), {error: 'must be a list'})
		.optional(),
	ports: z
		.record(
			z.string().regex(/^[a-z\d][a-z\d-]*$/, {error: 'is not a valid service name (lowercase letters, digits and -)'}),
			portNumber,
			{error: 'must be a map of name: port'},
		)
		.optional(),
	command: z
		.array(z.string({error: 'must be a string'}), {error: 'must be a list'})
		.min(1, {error: 'must not be empty'})
		.refine(command => command.length === 0 || (command[0] ?? '').trim() !== '', {error: 'must start with a program name', path: [0]})
		.optional(),
	interactive: z.boolean({error: 'must be true or false'}).optional(),
	// What the bottle may use; moat checks the values (runs/resources.ts), the schema only their shape.
	resources: z
		.strictObject(
			{
				memory: z
					.union([z.string(), z.number()], {error: 'must be an amount such as 4g or 512m'})
					.refine(value => memoryPattern.test(String(value)), {error: 'must be an amount such as 4g or 512m'})
					.optional(),
				cpus: z.number({error: 'must be a number of CPUs such as 2 or 0.5'}).positive({error: 'must be more than 0'}).optional(),
				pids: z.number({error: 'must be a whole number of processes'}).int({error: 'must be a whole number of processes'}).min(16, {error: 'must be at least 16'}).optional(),
			},
			{error: 'must be a map with memory, cpus and pids'},
		)
		.optional(),
});

export type MoatConfig = z.infer<typeof configSchema>;




/** How to fix a bad value, by top-level key. */
export const configFixes: Record<string, string> = {
	name: 'Use a short name such as name: my-agent.',
	version: 'Use a version string such as version: 1.0.0.',
	agent: 'Set agent: claude or agent: codex, or leave it out for a plain command.',
	dependencies: 'List dependencies such as - node@20, - python@3.11 or - git.',
	base_image: 'Name an image such as base_image: ubuntu:22.04.',
	grants: 'List grant names such as - github or - ssh:github.com.',
	env: 'Write env as a map, e.g. env: {NODE_ENV: development}.',
	secrets: 'Write secrets as NAME: op://vault/item/field, ssm:///path or env://NAME.',
	network: 'Write network: {policy: strict, allow: ["api.example.com", "*.example.org"], host: [5432]}.',
	mounts: 'Write mounts as a list of "source:destination" or "source:destination:ro".',
	ports: 'Write ports as a map of name to container port, e.g. ports: {web: 3000}.',
	command: 'Write command as a list whose first item is the program, e.g. command: ["npm", "test"].',
	interactive: 'Write interactive: true or interactive: false.',
	resources: 'Write resources: {memory: 4g, cpus: 2, pids: 1024}.',
};
