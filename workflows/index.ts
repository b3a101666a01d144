/** Workflow entry point for the worker bundle: every workflow type Arbiter registers. */
export { taskLifecycle } from './task-lifecycle';
export { agentConversation } from './agent-conversation';
export { sweepWorkspacesWorkflow, expireWaiversWorkflow, checkpointProvenanceWorkflow } from './maintenance';
