#!/usr/bin/env python3
"""plugins/llm/tests/wire.py - reads an LLM response body (stdin) the way
a strict client would, for the curl tests.

    wire.py API  <body     API: chat, responses, messages, gemini,
                           ollama-chat, ollama-generate

Prints two lines: the generated text (JSON-quoted) and the finish reason
(or "none"). Streamed bodies (SSE, NDJSON or Gemini's JSON array, told
apart by their first byte; the array must be one whole JSON array) must be made of whole frames whose data is valid JSON (or [DONE]):
anything else exits 1 with the reason.
"""
import json
import re
import sys

api = sys.argv[1]
raw = sys.stdin.buffer.read().decode()
text, finish = [], None


def out(o):
    global finish
    if api == "chat":
        for c in o.get("choices", []):
            t = (c.get("delta") or c.get("message") or {}).get("content")
            if t:
                text.append(t)
            if c.get("finish_reason"):
                finish = c["finish_reason"]
    elif api == "responses":
        if o.get("type") == "response.output_text.delta":
            text.append(o["delta"])
        elif o.get("object") == "response":
            for it in o.get("output", []):
                for c in it.get("content", []):
                    text.append(c.get("text", ""))
            finish = o.get("status")
        elif o.get("type") in ("response.completed", "response.incomplete"):
            finish = o["response"]["status"]
    elif api == "messages":
        if o.get("type") == "content_block_delta":
            text.append(o["delta"].get("text", ""))
        elif o.get("type") == "message":
            text.extend(b["text"] for b in o["content"] if b["type"] == "text")
            finish = o.get("stop_reason")
        elif o.get("type") == "message_delta":
            finish = o["delta"].get("stop_reason")
    elif api == "gemini":
        for c in o.get("candidates", []):
            for p in c.get("content", {}).get("parts", []):
                text.append(p.get("text", ""))
            if c.get("finishReason"):
                finish = c["finishReason"]
    elif api in ("ollama-chat", "ollama-generate"):
        text.append(o["message"]["content"] if api == "ollama-chat" else o["response"])
        if o.get("done"):
            finish = o.get("done_reason")


def die(msg):
    sys.exit("wire.py: " + msg)


s = raw.lstrip()
if s.startswith("["):
    # Gemini's streamed JSON array: must be one whole JSON array.
    try:
        arr = json.loads(raw)
    except ValueError as e:
        die("not a whole JSON array (%s): %r" % (e, raw[-80:]))
    for o in arr:
        out(o)
elif s.startswith("{"):
    if api.startswith("ollama") and "\n" in raw.strip():
        for line in raw.splitlines(True):
            if not line.endswith("\n"):
                die("NDJSON line without its newline: %r" % line[:80])
            out(json.loads(line))
    else:
        out(json.loads(raw))
else:
    if not re.search(r"(\r\n\r\n|\n\n|\r\r)$", raw):
        die("the stream does not end with a whole event: %r" % raw[-80:])
    for ev in re.split(r"\r\n\r\n|\n\n|\r\r", raw):
        data = [l[5:].lstrip(" ") if l.startswith("data:") else None
                for l in re.split(r"\r\n|\n|\r", ev)]
        data = [d for d in data if d is not None]
        if not data:
            continue
        d = "\n".join(data)
        if d == "[DONE]":
            continue
        try:
            out(json.loads(d))
        except ValueError:
            die("frame data is not JSON: %r" % d[:120])
print(json.dumps("".join(text)))
print(finish or "none")
