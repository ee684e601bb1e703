import {isMap, isScalar, LineCounter, parseDocument, type Node} from 'yaml';

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

	const syntaxError = firstError ? {message: describe(firstError), position: toPosition(firstError.pos[0])} : undefined;

	return {
		value: syntaxError ? undefined : document.toJS(),
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
