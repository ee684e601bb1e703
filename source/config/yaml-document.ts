import {isAlias, isCollection, isMap, isScalar, LineCounter, parseDocument, visit, type Document, type Node} from 'yaml';

/** A line and column, both counted from 1, as editors show them. */
export type SourcePosition = {line: number; column: number};

/** A parsed YAML file that can say where any value or key came from. */
export type YamlDocument = {
	readonly value: unknown;
	readonly syntaxError?: {message: string; position: SourcePosition};
	/** Where the value at `path` starts (or where its key starts, with `key`). */
	positionOf(path: ReadonlyArray<string | number>, options?: {key?: boolean}): SourcePosition;
	/** The text as written of a number or boolean at `path`; undefined for anything else. */
	sourceText(path: ReadonlyArray<string | number>): string | undefined;
};

/** The only place moat touches the `yaml` library. */
export function parseYaml(text: string): YamlDocument {
	const lineCounter = new LineCounter();
	const document = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true});
	const toPosition = (offset: number): SourcePosition => {
		const {line, col} = lineCounter.linePos(offset);
		return {line, column: col};
	};

	const firstError = document.errors[0];
	const describe = (error: NonNullable<typeof firstError>) => {
		if (error.code === 'DUPLICATE_KEY') {
			const key = /^[^:\n]*/.exec(text.slice(error.pos[0]))?.[0].trim();
			return `duplicate key "${key ?? ''}"`;
		}

		return error.message.split('\n')[0] ?? 'invalid YAML';
	};

	let syntaxError = firstError ? {message: describe(firstError), position: toPosition(firstError.pos[0])} : undefined;
	let value: unknown;
	if (!syntaxError) {
		try {
			value = document.toJS({maxAliasCount});
		} catch (error) {
			// Only aliases fail here (one to an anchor not yet set, or too many
			// copies: a billion-laughs file); the library does not say where.
			const {message, offset} = aliasProblem(document) ?? {message: (error as Error).message, offset: 0};
			syntaxError = {message, position: toPosition(offset)};
		}
	}

	return {
		value,
		syntaxError,
		positionOf(path, options = {}) {
			// Walk as far down the path as the document goes: a missing item
			// is reported at its parent, which is where the fix goes.
			let node: unknown = document.contents;
			let keyNode: Node | undefined;
			for (const segment of path) {
				if (isMap(node)) {
					const pair = node.items.find(item => isScalar(item.key) && String(item.key.value) === String(segment));
					if (!pair) {
						break;
					}

					keyNode = pair.key as Node;
					node = pair.value;
				} else if (node && typeof node === 'object' && 'items' in node && Array.isArray(node.items)) {
					const item: unknown = node.items[Number(segment)];
					if (!item) {
						break;
					}

					keyNode = undefined;
					node = item;
				} else {
					break;
				}
			}

			const target = options.key && keyNode ? keyNode : (node as Node | undefined);
			return toPosition(target?.range?.[0] ?? 0);
		},
		sourceText(path) {
			const node = document.getIn(path, true);
			if (isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean') && typeof node.source === 'string') {
				return node.source;
			}

			return undefined;
		},
	};
}

/**
 * How many copies aliases may make while the file is read. A config needs
 * few; a file whose aliases nest (each anchor a list of the previous one)
 * grows exponentially and would exhaust memory.
 */
const maxAliasCount = 100;

/** The alias that cannot be read: one to an anchor not set before it, else the first whose anchor holds aliases itself (what makes copies multiply). */
function aliasProblem(document: Document): {message: string; offset: number} | undefined {
	const anchored = new Map<string, Node>();
	let unresolved: {message: string; offset: number} | undefined;
	let nested: {message: string; offset: number} | undefined;
	let first: {message: string; offset: number} | undefined;
	const tooMany = 'aliases expand to too many copies (a YAML alias bomb); write the values out instead of nesting aliases';
	visit(document, {
		Node(_key, node) {
			if (isAlias(node)) {
				const offset = node.range?.[0] ?? 0;
				const target = anchored.get(node.source);
				if (!target) {
					unresolved ??= {message: `alias *${node.source} has no anchor &${node.source} before it`, offset};
					return;
				}

				first ??= {message: tooMany, offset};
				if (isCollection(target) && containsAlias(target)) {
					nested ??= {message: tooMany, offset};
				}
			} else if (node.anchor) {
				anchored.set(node.anchor, node);
			}
		},
	});
	return unresolved ?? nested ?? first;
}

function containsAlias(node: Node): boolean {
	let found = false;
	visit(node, {
		Alias() {
			found = true;
			return visit.BREAK;
		},
	});
	return found;
}
