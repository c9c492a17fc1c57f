// GenAI conventions: the official @opentelemetry/instrumentation-openai traces the openai
// client's chat completions; the agent loop writes invoke_agent and execute_tool spans by hand,
// as the OpenTelemetry GenAI agent conventions describe them.
'use strict';

const { scenario, prompt, toolFails, sleep, runAll, batchOptions } = require('./scenario');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { OpenAIInstrumentation } = require('@opentelemetry/instrumentation-openai');
const api = require('@opentelemetry/api');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': scenario.service }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: scenario.otlp }), batchOptions())],
});
provider.register();
registerInstrumentations({ instrumentations: [new OpenAIInstrumentation()] });

const OpenAI = require('openai'); // after the instrumentation, which patches it on require
const client = new OpenAI({ baseURL: scenario.openai, apiKey: 'test-key', maxRetries: 0 });
const tracer = api.trace.getTracer('amas-e2e-agent');

async function runOne(agent, run) {
  return tracer.startActiveSpan(`invoke_agent ${agent.name}`, {
    kind: api.SpanKind.INTERNAL,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': agent.name,
      'gen_ai.system': 'openai', 'gen_ai.request.model': agent.model,
    },
  }, async (root) => {
    try {
      const tools = [{
        type: 'function',
        function: { name: agent.tool, description: 'looks an order up', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
      }];
      const messages = [{ role: 'user', content: prompt(agent, run) }];
      let reply = await client.chat.completions.create({ model: agent.model, messages, tools });
      for (let turn = 0; turn < 4 && reply.choices[0].message.tool_calls; turn++) {
        const msg = reply.choices[0].message;
        messages.push(msg);
        for (const call of msg.tool_calls) {
          messages.push({ role: 'tool', tool_call_id: call.id, content: await executeTool(agent, run, call) });
        }
        if (scenario.thinkMs) await sleep(scenario.thinkMs);
        reply = await client.chat.completions.create({ model: agent.model, messages, tools });
      }
      return { agent: agent.name, run, ok: true };
    } catch (err) {
      root.recordException(err);
      root.setAttribute('error.type', err.constructor.name);
      root.setStatus({ code: api.SpanStatusCode.ERROR, message: err.message });
      return { agent: agent.name, run, ok: false, error: err.message };
    } finally {
      root.end();
    }
  });
}

async function executeTool(agent, run, call) {
  return tracer.startActiveSpan(`execute_tool ${call.function.name}`, {
    kind: api.SpanKind.INTERNAL,
    attributes: {
      'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': call.function.name,
      'gen_ai.tool.call.id': call.id, 'gen_ai.tool.type': 'function',
    },
  }, async (span) => {
    try {
      if (scenario.toolMs) await sleep(scenario.toolMs);
      if (toolFails(agent, run)) throw new Error('order service timed out');
      return JSON.stringify({ status: 'shipped' });
    } catch (err) {
      span.recordException(err);
      span.setAttribute('error.type', 'TimeoutError');
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: err.message });
      return JSON.stringify({ error: err.message }); // the model hears of it and answers anyway
    } finally {
      span.end();
    }
  });
}

(async () => {
  const results = await runAll(runOne);
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ results }) + '\n');
})().catch((err) => { console.error(err); process.exit(1); });
