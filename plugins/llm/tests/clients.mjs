// plugins/llm/tests/clients.mjs - the official npm clients as applications,
// pointed at a base URL (fault's mapping, or the provider double directly).
//
//   node clients.mjs CLIENT BASE [OPTIONS_JSON]
//
// CLIENT: openai-chat, openai-chat-stream, openai-responses-stream,
// anthropic, anthropic-stream, gemini, gemini-stream, ollama-chat-stream,
// ollama-generate; openai-tools-stream and anthropic-tools-stream ask for a
// tool call (streamed) and print its arguments as the client assembled
// them (args: the string; argsValid: whether JSON.parse takes it; input:
// what @anthropic-ai/sdk's MessageStream made of them). OPTIONS_JSON:
// {"maxRetries": n, "gapHeader": ms}.
// Prints one JSON line: {ok, text, finish, attempts (HTTP requests the
// client made, counted in its fetch), firstMs and totalMs (from the call
// to the first text and to the end), gapsMs (between text pieces); or on
// an error ok false with status, type, code and message}.
// Each SDK is imported when its client is called: node starts faster.

const [client, base, optsJson] = process.argv.slice(2);
const opts = JSON.parse(optsJson || "{}");
let attempts = 0;
const countingFetch = (...args) => {
  attempts++;
  return fetch(...args);
};
const headers = opts.gapHeader ? { "X-Double-Gap-Ms": String(opts.gapHeader) } : {};
const maxRetries = opts.maxRetries ?? 0;
const messages = [{ role: "user", content: "What is the capital of France? Answer in python style." }];

let t0 = performance.now(); // reset once the client's SDK is loaded
let text = "";
let finish = null;
let tool = null;
const stamps = [];
const tools = {
  openai: [{ type: "function", function: { name: "get_weather", parameters: { type: "object",
    properties: { city: { type: "string" }, unit: { type: "string" } } } } }],
  anthropic: [{ name: "get_weather", input_schema: { type: "object",
    properties: { city: { type: "string" }, unit: { type: "string" } } } }],
};
function toolResult(name, args, input) {
  let argsValid = true;
  try { JSON.parse(args); } catch { argsValid = false; }
  tool = { name, args, argsValid, input };
}
function piece(s) {
  if (!s) return;
  text += s;
  stamps.push(performance.now() - t0);
}

async function run() {
  switch (client) {
    case "openai-chat":
    case "openai-chat-stream":
    case "openai-tools-stream":
    case "openai-responses-stream": {
      const { default: OpenAI } = await import("openai");
      t0 = performance.now();
      const oa = new OpenAI({ baseURL: base + "/v1", apiKey: "sk-test", maxRetries,
                              fetch: countingFetch, defaultHeaders: headers });
      if (client === "openai-tools-stream") {
        const s = await oa.chat.completions.create({ model: "gpt-test", messages, stream: true,
                                                     tools: tools.openai });
        let name = null, args = "";
        for await (const c of s) {
          for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
            if (tc.function?.name) name = tc.function.name;
            args += tc.function?.arguments ?? "";
          }
          if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
        }
        toolResult(name, args, null);
      } else if (client === "openai-chat") {
        const r = await oa.chat.completions.create({ model: "gpt-test", messages });
        piece(r.choices[0].message.content);
        finish = r.choices[0].finish_reason;
      } else if (client === "openai-chat-stream") {
        const s = await oa.chat.completions.create({ model: "gpt-test", messages, stream: true });
        for await (const c of s) {
          if (c.choices[0]?.delta?.content) piece(c.choices[0].delta.content);
          if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
        }
      } else {
        const s = await oa.responses.create({ model: "gpt-test", input: messages[0].content, stream: true });
        for await (const ev of s) {
          if (ev.type === "response.output_text.delta") piece(ev.delta);
          if (ev.type === "response.completed" || ev.type === "response.incomplete")
            finish = ev.response.status;
        }
      }
      break;
    }
    case "anthropic":
    case "anthropic-stream":
    case "anthropic-tools-stream": {
      const { default: Anthropic } = await import("@anthropic-ai/sdk");
      t0 = performance.now();
      const an = new Anthropic({ baseURL: base, apiKey: "sk-ant-test", maxRetries,
                                 fetch: countingFetch, defaultHeaders: headers });
      const req = { model: "claude-test", max_tokens: 100, messages };
      if (client === "anthropic-tools-stream") {
        const s = an.messages.stream({ ...req, tools: tools.anthropic });
        let args = "";
        for await (const ev of s)
          if (ev.type === "content_block_delta" && ev.delta.type === "input_json_delta")
            args += ev.delta.partial_json;
        const m = await s.finalMessage();
        const use = m.content.find((b) => b.type === "tool_use");
        finish = m.stop_reason;
        toolResult(use?.name ?? null, args, use?.input ?? null);
      } else if (client === "anthropic") {
        const m = await an.messages.create(req);
        for (const b of m.content) if (b.type === "text") piece(b.text);
        finish = m.stop_reason;
      } else {
        const s = await an.messages.create({ ...req, stream: true });
        for await (const ev of s) {
          if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") piece(ev.delta.text);
          if (ev.type === "message_delta") finish = ev.delta.stop_reason;
        }
      }
      break;
    }
    case "gemini":
    case "gemini-stream": {
      const { GoogleGenAI } = await import("@google/genai");
      t0 = performance.now();
      const ai = new GoogleGenAI({ apiKey: "g-test",
                                   httpOptions: { baseUrl: base, headers,
                                                  retryOptions: { attempts: maxRetries + 1 } } });
      // This client takes no fetch option: count through the global one.
      const realFetch = globalThis.fetch;
      globalThis.fetch = (...a) => { attempts++; return realFetch(...a); };
      const req = { model: "gemini-test", contents: messages[0].content };
      if (client === "gemini") {
        const r = await ai.models.generateContent(req);
        piece(r.text);
        finish = r.candidates?.[0]?.finishReason ?? null;
      } else {
        for await (const c of await ai.models.generateContentStream(req)) {
          piece(c.text);
          if (c.candidates?.[0]?.finishReason) finish = c.candidates[0].finishReason;
        }
      }
      break;
    }
    case "ollama-chat-stream":
    case "ollama-generate": {
      const { Ollama } = await import("ollama");
      t0 = performance.now();
      const ol = new Ollama({ host: base, fetch: countingFetch, headers });
      if (client === "ollama-chat-stream") {
        for await (const p of await ol.chat({ model: "llama-test", messages, stream: true })) {
          piece(p.message.content);
          if (p.done) finish = p.done_reason;
        }
      } else {
        const r = await ol.generate({ model: "llama-test", prompt: messages[0].content, stream: false });
        piece(r.response);
        finish = r.done_reason;
      }
      break;
    }
    default:
      throw new Error("unknown client " + client);
  }
}

try {
  await run();
  const gaps = stamps.slice(1).map((t, i) => Math.round(t - stamps[i]));
  console.log(JSON.stringify({ ok: true, text, finish, tool, attempts,
                               firstMs: stamps.length ? Math.round(stamps[0]) : null,
                               totalMs: Math.round(performance.now() - t0), gapsMs: gaps }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, attempts, status: e.status ?? null,
                               type: e.type ?? e.error?.type ?? e.error?.error?.type ?? null,
                               code: e.code ?? null, name: e.constructor?.name,
                               message: String(e.message).slice(0, 300) }));
}
