#!/usr/bin/env python3
"""plugins/llm/tests/double.py - a local stand-in for LLM providers.

Speaks, on one loopback port, the wire formats the llm plugin knows, as the
providers send them (streamed and not): OpenAI chat completions and
Responses (SSE, `data: [DONE]` for chat), Anthropic messages (typed SSE
events with a ping), Gemini generateContent and streamGenerateContent
(alt=sse, CRLF-separated, no terminator), Ollama /api/chat and
/api/generate (NDJSON ending with "done": true). Chunked transfer encoding,
one frame per write, no compression.

Every answer says the same text, cut into the tokens of TOKENS (so a
client's text can be compared with TEXT); "Par" and "is" are separate
tokens so that a pattern can span two frames. A request header
`X-Double-Gap-Ms: N` spaces frames N ms apart; `X-Double-Split: N` writes
each frame in chunks of N bytes (frames cut anywhere); `X-Double-Repeat: N`
streams the tokens N times over (long streams, for bench.sh);
`X-Double-Unterminated: 1` sends
the last frame of a stream without its terminator (the blank line of SSE,
NDJSON's newline); `X-Double-Pad: N` adds a field of N bytes to every OpenAI chat chunk (large
frames); `X-Double-Stamp: 1` adds "x_sent", the wall-clock time (seconds,
a float) when the chunk was written, so a reader on this host can tell how
long each frame took to reach it; `X-Double-OpenRouter: 1` adds OpenRouter's `: OPENROUTER PROCESSING`
comment keep-alives to an OpenAI chat stream (before the first frame and
after the third token).

A request with "tools" (streamed OpenAI chat or Anthropic messages) is
answered with one tool call, get_weather, whose JSON arguments ARGS arrive
in the pieces of ARG_PIECES (OpenAI tool_calls deltas, Anthropic
input_json_delta events).

Test hooks: GET /_stats gives {"count": requests so far, "last": the last
request's path, "body": its JSON body}; POST /_reset zeroes them.

Usage: double.py PORTFILE  (writes the port once it listens)
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKENS = ["The", " capital", " of", " France", " is", " Par", "is", ".",
          " Par", "is", " is", " lovely", " in", " spring", "."]
TEXT = "".join(TOKENS)
# A tool call's arguments, streamed in these pieces (requests with "tools").
ARG_PIECES = ['{"city', '": "Par', 'is", "un', 'it": "cel', 'sius"}']
ARGS = "".join(ARG_PIECES)
CREATED = 1700000000
LOCK = threading.Lock()
STATS = {"count": 0, "last": None, "body": None}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle
        # and the client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ---- plumbing ----
    def send_json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.frames_sent = 0
        self.last = None

    def frame(self, data, paused=False):
        if isinstance(data, str):
            data = data.encode()
        if not paused:
            self.pause()
        self.frames_sent += 1
        if self.headers.get("X-Double-Unterminated") == "1":
            # Held back: end_stream() sends the last one cut.
            if self.last:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(self.last), self.last))
            self.last = data
            return
        step = self.split or len(data)
        for i in range(0, len(data), step):
            piece = data[i:i + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()

    def end_stream(self):
        if self.headers.get("X-Double-Unterminated") == "1" and self.last:
            # The last frame without its terminator, as from a provider
            # cut off in the middle of its last write.
            piece = self.last.rstrip(b"\r\n")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def pause(self):
        if self.frames_sent and self.gap:
            time.sleep(self.gap)

    def sse(self, obj, event=None, sep="\n\n"):
        self.pause()
        if "x_sent" in obj:
            obj["x_sent"] = time.time()
        head = "event: %s\n" % event if event else ""
        self.frame(head + "data: " + json.dumps(obj, separators=(",", ":")) + sep, paused=True)

    # ---- routes ----
    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                self.send_json(dict(STATS))
            return
        self.send_json({"error": "not found"}, 404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/_reset":
            with LOCK:
                STATS.update(count=0, last=None, body=None)
            self.send_json({})
            return
        try:
            req = json.loads(raw) if raw else {}
        except ValueError:
            req = None
        with LOCK:
            STATS["count"] += 1
            STATS["last"] = self.path
            STATS["body"] = req
        self.gap = int(self.headers.get("X-Double-Gap-Ms") or 0) / 1000.0
        self.split = int(self.headers.get("X-Double-Split") or 0)
        self.repeat = int(self.headers.get("X-Double-Repeat") or 1)
        path = self.path.split("?")[0]
        model = (req or {}).get("model", "double-model")
        if path.endswith("/chat/completions"):
            return self.openai_chat(req, model)
        if path.endswith("/responses"):
            return self.openai_responses(req, model)
        if path.endswith("/messages"):
            return self.anthropic(req, model)
        if ":generateContent" in path or ":streamGenerateContent" in path:
            return self.gemini(path, model)
        if path.endswith("/api/chat") or path.endswith("/api/generate"):
            return self.ollama(req, model, path.endswith("/api/chat"))
        self.send_json({"error": "not found"}, 404)

    def openai_chat(self, req, model):
        usage = {"prompt_tokens": 9, "completion_tokens": len(TOKENS),
                 "total_tokens": 9 + len(TOKENS)}
        base = {"id": "chatcmpl-double", "created": CREATED, "model": model,
                "system_fingerprint": "fp_double"}
        if not req.get("stream"):
            self.send_json(dict(base, object="chat.completion", choices=[{
                "index": 0, "message": {"role": "assistant", "content": TEXT, "refusal": None},
                "logprobs": None, "finish_reason": "stop"}], usage=usage))
            return
        self.start_stream("text/event-stream; charset=utf-8")
        chunk = dict(base, object="chat.completion.chunk")

        pad = "x" * int(self.headers.get("X-Double-Pad") or 0)
        stamp = self.headers.get("X-Double-Stamp") == "1"

        def choice(delta, finish=None):
            c = dict(chunk, choices=[{"index": 0, "delta": delta, "logprobs": None,
                                      "finish_reason": finish}])
            if pad:
                c["x_pad"] = pad
            if stamp:
                c["x_sent"] = time.time()
            return c
        if req.get("tools"):
            self.sse(choice({"role": "assistant", "content": None, "tool_calls": [{
                "index": 0, "id": "call_double", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]}))
            for a in ARG_PIECES:
                self.sse(choice({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}))
            self.sse(choice({}, "tool_calls"))
            self.frame("data: [DONE]\n\n")
            self.end_stream()
            return
        openrouter = self.headers.get("X-Double-OpenRouter") == "1"
        if openrouter:
            self.frame(": OPENROUTER PROCESSING\n\n")
        self.sse(choice({"role": "assistant", "content": "", "refusal": None}))
        for i, t in enumerate(TOKENS * self.repeat):
            self.sse(choice({"content": t}))
            if openrouter and i == 2:
                self.frame(": OPENROUTER PROCESSING\n\n")
        self.sse(choice({}, "stop"))
        if (req.get("stream_options") or {}).get("include_usage"):
            self.sse(dict(chunk, choices=[], usage=usage))
        self.frame("data: [DONE]\n\n")
        self.end_stream()

    def openai_responses(self, req, model):
        item = {"id": "msg_double", "type": "message", "status": "completed",
                "role": "assistant", "content": [{"type": "output_text", "text": TEXT,
                                                  "annotations": []}]}
        resp = {"id": "resp_double", "object": "response", "created_at": CREATED,
                "status": "completed", "model": model, "output": [item],
                "usage": {"input_tokens": 9, "output_tokens": len(TOKENS), "total_tokens": 9 + len(TOKENS)}}
        if not req.get("stream"):
            self.send_json(resp)
            return
        self.start_stream("text/event-stream; charset=utf-8")
        seq = [0]

        def ev(obj):
            obj["sequence_number"] = seq[0]
            seq[0] += 1
            self.sse(obj, obj["type"])
        pending = dict(resp, status="in_progress", output=[])
        ev({"type": "response.created", "response": pending})
        ev({"type": "response.in_progress", "response": pending})
        ev({"type": "response.output_item.added", "output_index": 0,
            "item": dict(item, status="in_progress", content=[])})
        ev({"type": "response.content_part.added", "item_id": "msg_double", "output_index": 0,
            "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})
        for t in TOKENS * self.repeat:
            ev({"type": "response.output_text.delta", "item_id": "msg_double",
                "output_index": 0, "content_index": 0, "delta": t})
        ev({"type": "response.output_text.done", "item_id": "msg_double", "output_index": 0,
            "content_index": 0, "text": TEXT})
        ev({"type": "response.content_part.done", "item_id": "msg_double", "output_index": 0,
            "content_index": 0, "part": item["content"][0]})
        ev({"type": "response.output_item.done", "output_index": 0, "item": item})
        ev({"type": "response.completed", "response": resp})
        self.end_stream()

    def anthropic(self, req, model):
        msg = {"id": "msg_double", "type": "message", "role": "assistant", "model": model,
               "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn",
               "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": len(TOKENS)}}
        if not req.get("stream"):
            self.send_json(msg)
            return
        self.start_stream("text/event-stream; charset=utf-8")
        start = dict(msg, content=[], stop_reason=None,
                     usage={"input_tokens": 9, "output_tokens": 1})
        self.sse({"type": "message_start", "message": start}, "message_start")
        if req.get("tools"):
            self.sse({"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_double", "name": "get_weather", "input": {}}},
                "content_block_start")
            for a in ARG_PIECES:
                self.sse({"type": "content_block_delta", "index": 0,
                          "delta": {"type": "input_json_delta", "partial_json": a}},
                         "content_block_delta")
            self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            self.sse({"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                         "stop_sequence": None},
                      "usage": {"output_tokens": 12}}, "message_delta")
            self.sse({"type": "message_stop"}, "message_stop")
            self.end_stream()
            return
        self.sse({"type": "content_block_start", "index": 0,
                  "content_block": {"type": "text", "text": ""}}, "content_block_start")
        self.sse({"type": "ping"}, "ping")
        for t in TOKENS * self.repeat:
            self.sse({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": t}}, "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                     "stop_sequence": None},
                  "usage": {"output_tokens": len(TOKENS)}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")
        self.end_stream()

    def gemini(self, path, model):
        usage = {"promptTokenCount": 9, "candidatesTokenCount": len(TOKENS),
                 "totalTokenCount": 9 + len(TOKENS)}

        def chunk(text, finish=None):
            cand = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
            if finish:
                cand["finishReason"] = finish
            return {"candidates": [cand], "usageMetadata": usage,
                    "modelVersion": "gemini-double", "responseId": "double"}
        if ":streamGenerateContent" not in path:
            self.send_json(chunk(TEXT, "STOP"))
            return
        if "alt=sse" not in self.path:
            # The streamed JSON array (no alt=sse).
            self.start_stream("application/json; charset=UTF-8")
            for i, t in enumerate(TOKENS):
                last = i == len(TOKENS) - 1
                self.frame(("[" if i == 0 else ",\r\n") +
                           json.dumps(chunk(t, "STOP" if last else None)) + ("]" if last else ""))
            self.end_stream()
            return
        self.start_stream("text/event-stream")
        for i, t in enumerate(TOKENS):
            last = i == len(TOKENS) - 1
            self.sse(chunk(t, "STOP" if last else None), sep="\r\n\r\n")
        self.end_stream()

    def ollama(self, req, model, chat):
        def line(text, done):
            o = {"model": model, "created_at": "2026-01-01T00:00:00.000000Z"}
            if chat:
                o["message"] = {"role": "assistant", "content": text}
            else:
                o["response"] = text
            o["done"] = done
            if done:
                o.update(done_reason="stop", total_duration=1000, load_duration=10,
                         prompt_eval_count=9, prompt_eval_duration=100,
                         eval_count=len(TOKENS), eval_duration=800)
            return o
        if req.get("stream") is False:
            self.send_json(line(TEXT, True))
            return
        self.start_stream("application/x-ndjson")
        for t in TOKENS * self.repeat:
            self.frame(json.dumps(line(t, False)) + "\n")
        self.frame(json.dumps(line("", True)) + "\n")
        self.end_stream()


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
