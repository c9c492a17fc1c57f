// OpenAI Agents SDK + OpenInference: @arizeai/openinference-instrumentation-openai traces the
// Responses API calls the SDK makes (LLM spans); the application marks its agent runs and tools
// with OpenInference's own helpers (traceAgent, traceTool from @arizeai/openinference-core), as
// OpenInference documents for code it does not instrument. The SDK's own tracing (its
// "Agent workflow" traces, exported to the vendor's platform) is switched off: no package on npm
// bridges it to OpenTelemetry for JavaScript at these versions.
'use strict';

const { scenario, prompt, toolFails, sleep, runAll, batchOptions } = require('./scenario');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { OpenAIInstrumentation } = require('@arizeai/openinference-instrumentation-openai');
const { traceAgent, traceTool } = require('@arizeai/openinference-core');
const { SemanticConventions } = require('@arizeai/openinference-semantic-conventions');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': scenario.service }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: scenario.otlp }), batchOptions())],
});
provider.register();
registerInstrumentations({ instrumentations: [new OpenAIInstrumentation()] });

// After the instrumentation, which patches openai on require. The SDK depends on its own openai
// major version: build its client from that copy, without retries so every HTTP 500 is one failure.
const agents = require('@openai/agents');
const OpenAI = require(require.resolve('openai', { paths: [require.resolve('@openai/agents-openai')] }));
agents.setDefaultOpenAIClient(new OpenAI({ baseURL: scenario.openai, apiKey: 'test-key', maxRetries: 0 }));
agents.setOpenAIAPI(scenario.api === 'chat' ? 'chat_completions' : 'responses');
agents.setTracingDisabled(true);
const { z } = require('zod');

function makeAgent(spec, state) {
  const lookup = agents.tool({
    name: spec.tool,
    description: 'looks an order up',
    parameters: z.object({ query: z.string() }),
    execute: traceTool(async ({ query }) => {
      if (scenario.toolMs) await sleep(scenario.toolMs);
      if (toolFails(spec, state.run)) throw new Error('order service timed out');
      return JSON.stringify({ query, status: 'shipped' });
    }, { name: spec.tool, attributes: { [SemanticConventions.TOOL_NAME]: spec.tool } }),
  });
  return new agents.Agent({ name: spec.name, model: spec.model, instructions: 'Answer order questions.', tools: [lookup] });
}

async function runOne(spec, run) {
  const state = { run };
  const agent = makeAgent(spec, state);
  const invoke = traceAgent(async (input) => {
    const result = await agents.run(agent, input, { maxTurns: 4 });
    if (scenario.thinkMs) await sleep(scenario.thinkMs);
    return result.finalOutput;
  }, { name: spec.name, attributes: { [SemanticConventions.AGENT_NAME]: spec.name } });
  try {
    await invoke(prompt(spec, run));
    return { agent: spec.name, run, ok: true };
  } catch (err) {
    return { agent: spec.name, run, ok: false, error: err.message };
  }
}

(async () => {
  const results = await runAll(runOne);
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ results }) + '\n');
})().catch((err) => { console.error(err); process.exit(1); });
