/**
 * Where containers reach moat itself: a name only moat's proxy answers
 * (asked through the proxy with the run token), so the bottle, the agents'
 * hook scripts and the AWS helper all agree on it without depending on the
 * proxy's code.
 */

/** The name agents' hooks post their activity to, through the proxy with the run token. */
export const hooksHost = 'moat.hooks';
/** Where on the hooks host a run with an aws grant gets its credentials (`GET`). */
export const awsCredentialsPath = '/aws/credentials';
/** `CONNECT moat.hooks:22` is the run's SSH agent, for the relay that serves its socket in the bottle. */
export const sshAgentPort = 22;
