/** POSIX environment variable names: what `-e` and `env:` accept. */
export const environmentNamePattern = /^[A-Za-z_]\w*$/;

/** Run names: safe in container labels, hostnames and file names. */
export const runNamePattern = /^[A-Za-z\d][\w.-]*$/;

/** A run name is one label of a host name (web.<run-name>.localhost), which DNS caps at 63 characters. */
export const maxRunNameLength = 63;

/**
 * Image references as the engine accepts them: registry/name[:tag][@digest].
 * Strict on purpose: the value goes into a Dockerfile's FROM line, and the
 * agent can edit agent.yaml, so nothing else may ride along.
 */
export const imageReferencePattern = /^[a-z\d]+(?:[._-][a-z\d]+)*(?::\d+)?(?:\/[a-z\d]+(?:(?:[._]|__|-+)[a-z\d]+)*)*(?::\w[\w.-]{0,127})?(?:@sha256:[a-f\d]{64})?$/;

/** An amount of memory: bytes, or a number with k, m, g or t (and an optional b). */
export const memoryPattern = /^\s*\d+(\.\d+)?\s*([kmgt]b?|b)?\s*$/i;
