const { bundleWorkflowCode } = require('@temporalio/worker');
const { ReusableVMWorkflowCreator } = require('@temporalio/worker/lib/workflow/reusable-vm');
const path = require('path');
async function main() {
  const preload = process.argv[3] ? process.argv[3].split(',') : undefined;
  const bundle = await bundleWorkflowCode({ workflowsPath: process.argv[2], logger: { log(){}, trace(){}, debug(){}, info(){}, warn(){}, error(){} }, preloadModules: preload });
  console.log('bundle KB', Math.round(bundle.code.length/1024));
  const parsed = require('@temporalio/worker/lib/worker').parseWorkflowCode(bundle.code); const creator = await ReusableVMWorkflowCreator.create(parsed, 5000, new Set(), undefined);
  gc(); const base = process.memoryUsage().heapUsed;
  const wfs = [];
  const N = 200;
  for (let i = 0; i < N; i++) {
    wfs.push(await creator.createWorkflow({ info: { workflowType: process.argv[4] || 'taskLifecycle', runId: 'r' + i, workflowId: 'w' + i, namespace: 'default', taskQueue: 'q', attempt: 1, firstExecutionRunId: 'r'+i, unsafe: { isReplaying: false, now: Date.now }, searchAttributes: {}, typedSearchAttributes: [], memo: {}, historyLength: 0, historySize: 0, continueAsNewSuggested: false, startTime: new Date(), runStartTime: new Date(), currentBuildId: '', currentDeploymentVersion: undefined, priority: {} , lastResult: undefined}, randomnessSeed: [1,2], now: Date.now(), showStackTraceSources: false }));
  }
  gc(); console.log('per workflow KB', Math.round((process.memoryUsage().heapUsed - base) / N / 1024));
}
main().catch(e => { console.error(e); process.exit(1); });
