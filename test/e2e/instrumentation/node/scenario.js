// Shared by the drivers: the scenario the Go test passes in AMAS_SCENARIO (JSON), the prompt
// markers the mock OpenAI server reads, and a tracer provider that exports OTLP/HTTP protobuf.
'use strict';

const scenario = JSON.parse(process.env.AMAS_SCENARIO || '{}');

// prompt is the user message of one agent run: the mock server charges the run's tokens to the
// agent named in it and answers HTTP 500 to any request carrying the fail marker.
function prompt(agent, run) {
  const fail = (agent.failChat || []).includes(run) ? ' [fail:500]' : '';
  return `[agent:${agent.name}] [run:${run}]${fail} What is the status of order ${run}?`;
}

function toolFails(agent, run) {
  return (agent.failTool || []).includes(run);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// runAll runs every agent's runs; agents run concurrently, an agent's runs one after another
// unless scenario.concurrentRuns, so a long scenario still takes about one run's time.
async function runAll(runOne) {
  const results = [];
  await Promise.all((scenario.agents || []).map(async (agent) => {
    const runs = [...Array(agent.runs).keys()];
    if (scenario.concurrentRuns) {
      await Promise.all(runs.map(async (i) => results.push(await runOne(agent, i))));
    } else {
      for (const i of runs) results.push(await runOne(agent, i));
    }
  }));
  return results;
}

// batchOptions: the SDK's defaults (5 s schedule, 512 spans per export) when scenario.defaultBatch,
// else one export at shutdown, so a short scenario's runs each reach the collector whole.
function batchOptions() {
  if (scenario.defaultBatch) return {};
  return { scheduledDelayMillis: 600000, maxExportBatchSize: 8192, maxQueueSize: 8192 };
}

module.exports = { scenario, prompt, toolFails, sleep, runAll, batchOptions };
