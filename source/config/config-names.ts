/** POSIX environment variable names: what `-e` and `env:` accept. */
export const environmentNamePattern = /^[A-Za-z_]\w*$/;

/** Run names: safe in container labels, hostnames and file names. */
export const runNamePattern = /^[A-Za-z\d][\w.-]*$/;
