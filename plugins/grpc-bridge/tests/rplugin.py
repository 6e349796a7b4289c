#!/usr/bin/python3
"""plugins/grpc-bridge/tests/rplugin.py - a remote plugin for the
grpc-bridge tests, written as plugin authors write them: a grpcio server
on Python stubs generated from proto/plugin.proto.

Usage: rplugin.py --stubs DIR --log FILE [--port N] [--port-file F]
                  [--mode MODE] [--name NAME] [--caps tunnel,http,pg]
                  [--slow-info MS]

Every call is appended to FILE as one line, flushed at once:
  info | caps | health
  tunnel ID SIDE DIRECTION LEN          (SIDE/DIRECTION are enum names)
  http_req METHOD PATH HEADER-NAMES     (names comma-separated, lower case)
  http_resp STATUS
  http_req_body LEN SHA256              (mode body only)
  http_resp_body LEN                    (mode body only)

MODE says what the plugin does with traffic:
  echo      passes everything (CONTINUE with the message it got, PassThrough)
  replace   egress tunnel chunks: b"hello" -> b"HOWDY" (Replace)
  chain     egress tunnel chunks: b"HOWDY" -> b"BONJOUR" (PassThrough with
            the new bytes)
  buffer    egress tunnel chunks: Buffer 200 ms
  close     a chunk containing b"close-me": Close("asked to close")
  hang      ProcessTunnelData and ProcessHttpRequest never answer in time
  http      /teapot* -> ABORT 418 "I'm a teapot"; every request gets the
            header X-Plugin-Req: 1; responses 404 -> CONTINUE with status
            200 and body "rewritten by plugin\n"; other responses -> status
            203 and header X-Plugin: seen
  body      requests: logs the body it got; /rewrite* -> CONTINUE as PUT
            /echo with body "body from plugin"; responses: CONTINUE with the
            body in upper case
  uuid      tunnel ids must parse as UUID version 4 (logged "badid" if not)
  raise     ProcessTunnelData raises (the call fails with UNKNOWN), as a
            plugin with a bug does
"""
import argparse
import hashlib
import sys
import threading
import time
import uuid
from concurrent import futures

ap = argparse.ArgumentParser()
ap.add_argument("--stubs", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file")
ap.add_argument("--mode", default="echo")
ap.add_argument("--name", default="TestPlugin")
ap.add_argument("--caps", default="tunnel,http")
ap.add_argument("--slow-info", type=int, default=0, help="ms GetPluginInfo takes")
args = ap.parse_args()
sys.path.insert(0, args.stubs)

import grpc  # noqa: E402
import plugin_pb2  # noqa: E402
import plugin_pb2_grpc  # noqa: E402

caps = set(c for c in args.caps.split(",") if c)
lock = threading.Lock()
log = open(args.log, "a", buffering=1)
stop = threading.Event()


def note(line):
    with lock:
        log.write(line + "\n")
        log.flush()


class Plugin(plugin_pb2_grpc.PluginServiceServicer):
    def HealthCheck(self, request, context):
        note("health")
        return plugin_pb2.HealthCheckResponse(healthy=True, message="")

    def GetPluginInfo(self, request, context):
        note("info")
        if args.slow_info:
            time.sleep(args.slow_info / 1000.0)
        return plugin_pb2.GetPluginInfoResponse(
            name=args.name, version="1.2.3", author="Test Author",
            url="https://example.invalid/plugin", platform="python")

    def GetPluginCapabilities(self, request, context):
        note("caps")
        protocols = []
        if "pg" in caps:
            protocols.append(plugin_pb2.GetPluginCapabilitiesResponse.SupportedProtocol.POSTGRESQL)
        return plugin_pb2.GetPluginCapabilitiesResponse(
            can_handle_http_forward="http" in caps,
            can_handle_tunnel="tunnel" in caps,
            protocols=protocols)

    def ProcessHttpRequest(self, request, context):
        r = request.request
        names = ",".join(h.name.lower() for h in r.headers)
        note("http_req %s %s %s" % (r.method, r.path, names))
        if args.mode == "hang":
            stop.wait(30)
        if args.mode == "body":
            note("http_req_body %d %s" % (len(r.body), hashlib.sha256(r.body).hexdigest()))
            m = plugin_pb2.HttpRequest()
            m.CopyFrom(r)
            if r.path.startswith("/rewrite"):
                m.method = "PUT"
                m.path = "/echo"
                m.body = b"body from plugin"
            return plugin_pb2.ProcessHttpRequestResponse(
                action=plugin_pb2.ProcessHttpRequestResponse.Action.CONTINUE,
                modified_request=m)
        if args.mode == "http":
            if r.path.startswith("/teapot"):
                return plugin_pb2.ProcessHttpRequestResponse(
                    action=plugin_pb2.ProcessHttpRequestResponse.Action.ABORT,
                    abort_response=plugin_pb2.HttpResponse(
                        status_code=418,
                        headers=[plugin_pb2.HttpHeader(name="Content-Type", value="text/plain"),
                                 plugin_pb2.HttpHeader(name="X-Teapot", value="short and stout")],
                        body=b"I'm a teapot\n"))
            m = plugin_pb2.HttpRequest()
            m.CopyFrom(r)
            m.headers.append(plugin_pb2.HttpHeader(name="X-Plugin-Req", value="1"))
            return plugin_pb2.ProcessHttpRequestResponse(
                action=plugin_pb2.ProcessHttpRequestResponse.Action.CONTINUE,
                modified_request=m)
        return plugin_pb2.ProcessHttpRequestResponse(
            action=plugin_pb2.ProcessHttpRequestResponse.Action.CONTINUE,
            modified_request=r)

    def ProcessHttpResponse(self, request, context):
        r = request.response
        note("http_resp %d" % r.status_code)
        if args.mode == "body":
            note("http_resp_body %d" % len(r.body))
            m = plugin_pb2.HttpResponse()
            m.CopyFrom(r)
            m.body = r.body.upper()
            return plugin_pb2.ProcessHttpResponseResponse(
                action=plugin_pb2.ProcessHttpResponseResponse.Action.CONTINUE,
                modified_response=m)
        if args.mode == "http":
            m = plugin_pb2.HttpResponse()
            m.CopyFrom(r)
            if r.status_code == 404:
                m.status_code = 200
                del m.headers[:]
                m.headers.append(plugin_pb2.HttpHeader(name="Content-Type", value="text/plain"))
                m.body = b"rewritten by plugin\n"
            else:
                m.status_code = 203
                m.headers.append(plugin_pb2.HttpHeader(name="X-Plugin", value="seen"))
            return plugin_pb2.ProcessHttpResponseResponse(
                action=plugin_pb2.ProcessHttpResponseResponse.Action.CONTINUE,
                modified_response=m)
        return plugin_pb2.ProcessHttpResponseResponse(
            action=plugin_pb2.ProcessHttpResponseResponse.Action.CONTINUE,
            modified_response=r)

    def ProcessTunnelData(self, request, context):
        side = plugin_pb2.ProcessTunnelDataRequest.Side.Name(request.side)
        direction = plugin_pb2.ProcessTunnelDataRequest.Direction.Name(request.direction)
        note("tunnel %s %s %s %d" % (request.id, side, direction, len(request.chunk)))
        egress = request.direction == plugin_pb2.ProcessTunnelDataRequest.Direction.EGRESS
        chunk = request.chunk
        if args.mode == "uuid":
            try:
                uuid.UUID(request.id, version=4)
            except ValueError:
                note("badid %s" % request.id)
        if args.mode == "hang":
            stop.wait(30)
        if args.mode == "raise":
            raise RuntimeError("a bug in the plugin")
        if args.mode == "replace" and egress and b"hello" in chunk:
            return plugin_pb2.ProcessTunnelDataResponse(
                replace=plugin_pb2.Replace(modified_chunk=chunk.replace(b"hello", b"HOWDY")))
        if args.mode == "chain" and egress and b"HOWDY" in chunk:
            return plugin_pb2.ProcessTunnelDataResponse(
                pass_through=plugin_pb2.PassThrough(chunk=chunk.replace(b"HOWDY", b"BONJOUR")))
        if args.mode == "buffer" and egress:
            return plugin_pb2.ProcessTunnelDataResponse(
                buffer=plugin_pb2.Buffer(estimated_time_to_release_ms=200))
        if args.mode == "close" and b"close-me" in chunk:
            return plugin_pb2.ProcessTunnelDataResponse(
                close=plugin_pb2.Close(reason="asked to close"))
        return plugin_pb2.ProcessTunnelDataResponse(
            pass_through=plugin_pb2.PassThrough(chunk=chunk))


server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
plugin_pb2_grpc.add_PluginServiceServicer_to_server(Plugin(), server)
port = server.add_insecure_port("127.0.0.1:%d" % args.port)
if port == 0:
    sys.exit("cannot bind 127.0.0.1:%d" % args.port)
server.start()
if args.port_file:
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
note("listening %d" % port)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
finally:
    stop.set()
    server.stop(0)
