// OpenLLMetry: @traceloop/node-server-sdk traces the openai client (its own OpenAI
// instrumentation) and marks the application's workflow, agents and tools with withWorkflow,
// withAgent and withTool. Its exporter is pointed at the collector; its batch processor is its own
// default (the SDK's BatchSpanProcessor).
'use strict';

const { scenario, prompt, toolFails, sleep, runAll } = require('./scenario');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OpenAI } = require('openai'); // the class: the SDK wraps OpenAI.Chat.Completions.prototype
const traceloop = require('@traceloop/node-server-sdk');

traceloop.initialize({
  appName: scenario.service,
  baseUrl: scenario.otlp.replace(/\/v1\/traces$/, ''),
  apiKey: 'unused',
  exporter: new OTLPTraceExporter({ url: scenario.otlp }),
  disableBatch: false,
  instrumentModules: { openAI: OpenAI },
  traceloopSyncEnabled: false,
  silenceInitializationMessage: true,
  logLevel: 'error',
});

const client = new OpenAI({ baseURL: scenario.openai, apiKey: 'test-key', maxRetries: 0 });

async function executeTool(spec, run, call) {
  return traceloop.withTool({ name: call.function.name }, async () => {
    if (scenario.toolMs) await sleep(scenario.toolMs);
    if (toolFails(spec, run)) throw new Error('order service timed out');
    return JSON.stringify({ status: 'shipped' });
  }).catch((err) => JSON.stringify({ error: err.message })); // the model hears of it and answers anyway
}

async function agentLoop(spec, run) {
  const tools = [{
    type: 'function',
    function: { name: spec.tool, description: 'looks an order up', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
  }];
  const messages = [{ role: 'user', content: prompt(spec, run) }];
  let reply = await client.chat.completions.create({ model: spec.model, messages, tools });
  for (let turn = 0; turn < 4 && reply.choices[0].message.tool_calls; turn++) {
    const msg = reply.choices[0].message;
    messages.push(msg);
    for (const call of msg.tool_calls) {
      messages.push({ role: 'tool', tool_call_id: call.id, content: await executeTool(spec, run, call) });
    }
    if (scenario.thinkMs) await sleep(scenario.thinkMs);
    reply = await client.chat.completions.create({ model: spec.model, messages, tools });
  }
  return reply.choices[0].message.content;
}

async function runOne(spec, run) {
  try {
    if (scenario.workflow) {
      await traceloop.withWorkflow({ name: `${spec.name}_workflow` }, () => traceloop.withAgent({ name: spec.name }, () => agentLoop(spec, run)));
    } else {
      await traceloop.withAgent({ name: spec.name }, () => agentLoop(spec, run));
    }
    return { agent: spec.name, run, ok: true };
  } catch (err) {
    return { agent: spec.name, run, ok: false, error: err.message };
  }
}

(async () => {
  const results = await runAll(runOne);
  await traceloop.forceFlush();
  process.stdout.write(JSON.stringify({ results }) + '\n');
})().catch((err) => { console.error(err); process.exit(1); });
