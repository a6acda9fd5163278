#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Loopback HTTP forwarder in front of a test docker-registry.

It lets tests misbehave on purpose: drop a blob response after N bytes,
corrupt a byte, ignore Range, lie about digests / content types, answer a
redirect to a second "CDN" listener on another loopback address, and emulate
the registry token flow (401 + Bearer challenge + token endpoint) or Basic.
Every request is logged (method, path, Range, Authorization, status, bytes).

Control endpoints on the main listener:
  POST /_proxy/config   JSON: replaces the behaviour and clears the log
  GET  /_proxy/log      JSON list of records
"""
import base64
import http.client
import http.server
import json
import socket
import threading
import urllib.parse

DEFAULT_CONFIG = {
    "auth": "none",          # none | bearer | basic
    "user": None,            # basic credentials (registry in basic mode, token endpoint in bearer mode)
    "password": None,
    "drop": {},              # digest -> bytes to send before closing (once)
    "corrupt": {},           # digest -> offset of a byte to flip
    "ignore_range": False,
    "redirect_blobs": False,  # blob GETs answer 307 to the CDN listener
    "redirect_url": None,     # ...or to this URL prefix (e.g. a non-loopback http host)
    "bad_digest_header": False,
    "content_type": None,     # override manifest Content-Type
    "canned": {},             # URL path -> {"status", "content_type", "body"}: answered as is
    "token_body": None,       # replaces the token endpoint's reply body
}


class State:
    def __init__(self, upstream):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.config = dict(DEFAULT_CONFIG)
        self.log = []
        self.tokens = set()
        self.counter = 0
        self.main_addr = None
        self.cdn_addr = None

    def record(self, **rec):
        with self.lock:
            self.log.append(rec)


def _split_blob_path(path):
    # /v2/<repo>/blobs/<digest>
    if "/blobs/" not in path:
        return None, None
    head, digest = path.rsplit("/blobs/", 1)
    return head[len("/v2/"):], digest


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "registry-proxy"
    role = "main"

    def log_message(self, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self._rec(status, len(body))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _rec(self, status, nbytes, **extra):
        self.state.record(server=self.role, method=self.command, path=self.path,
                          range=self.headers.get("Range"),
                          auth=self.headers.get("Authorization"),
                          status=status, bytes=nbytes, **extra)

    # ---- auth ----
    def _basic_ok(self, cfg):
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (cfg["user"], cfg["password"])).encode()).decode()
        return self.headers.get("Authorization") == want

    def _check_auth(self, cfg, repo):
        mode = cfg["auth"]
        if mode == "none":
            return True
        if mode == "basic":
            if self._basic_ok(cfg):
                return True
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"basic"}]}',
                       {"WWW-Authenticate": 'Basic realm="test"',
                        "Content-Type": "application/json"})
            return False
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.state.tokens:
            return True
        host, port = self.state.main_addr
        scope = "repository:%s:pull" % repo if repo else ""
        challenge = 'Bearer realm="http://%s:%d/token",service="test-registry"' % (host, port)
        if scope:
            challenge += ',scope="%s"' % scope
        self._send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token"}]}',
                   {"WWW-Authenticate": challenge, "Content-Type": "application/json"})
        return False

    def _token(self, cfg):
        if cfg["token_body"] is not None:
            return self._send(200, cfg["token_body"].encode(), {"Content-Type": "application/json"})
        if cfg["user"] is not None and not self._basic_ok(cfg):
            self._send(401, b"{}", {"Content-Type": "application/json"})
            return
        with self.state.lock:
            self.state.counter += 1
            tok = "tok-%d" % self.state.counter
            self.state.tokens.add(tok)
        self._send(200, json.dumps({"token": tok, "expires_in": 300}).encode(),
                   {"Content-Type": "application/json"})

    # ---- forwarding ----
    def _upstream(self, path, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.state.upstream, timeout=30)
        conn.request(self.command, path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp, body

    def _forward(self, cfg, path, digest):
        fwd = {}
        for k in ("Accept", "Range"):
            if self.headers.get(k) is not None:
                fwd[k] = self.headers[k]
        if cfg["ignore_range"]:
            fwd.pop("Range", None)
        resp, body = self._upstream(path, fwd)
        out = {}
        for k, v in resp.getheaders():
            if k.lower() in ("connection", "transfer-encoding", "keep-alive", "content-length"):
                continue
            out[k] = v
        is_manifest = "/manifests/" in path
        if is_manifest and cfg["bad_digest_header"] and "Docker-Content-Digest" in out:
            out["Docker-Content-Digest"] = "sha256:" + "0" * 64
        if is_manifest and cfg["content_type"]:
            out["Content-Type"] = cfg["content_type"]
        start = 0
        cr = resp.getheader("Content-Range")
        if resp.status == 206 and cr:
            start = int(cr.split()[1].split("-")[0])
        if digest and digest in cfg["corrupt"] and self.command == "GET":
            off = cfg["corrupt"][digest] - start
            if 0 <= off < len(body):
                body = body[:off] + bytes([body[off] ^ 0xFF]) + body[off + 1:]
        drop = None
        if digest and self.command == "GET":
            with self.state.lock:
                drop = self.state.config["drop"].pop(digest, None)
        # Record before the client can see the answer: tests read the log
        # right after their request returns.
        if self.command == "HEAD":
            self._rec(resp.status, 0)
        elif drop is not None and drop < len(body):
            self._rec(resp.status, drop, dropped=True)
        else:
            self._rec(resp.status, len(body))
        self.send_response(resp.status)
        for k, v in out.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if drop is not None and drop < len(body):
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)

    def _handle(self):
        cfg = self.state.config
        url = urllib.parse.urlsplit(self.path)
        if self.role == "cdn":
            # /cdn/<repo>/blobs/<digest>: no auth needed, records what arrived.
            repo, digest = _split_blob_path(url.path.replace("/cdn/", "/v2/", 1))
            return self._forward(cfg, url.path.replace("/cdn/", "/v2/", 1), digest)
        if url.path == "/_proxy/log":
            with self.state.lock:
                body = json.dumps(self.state.log).encode()
            return self._send(200, body, {"Content-Type": "application/json"})
        if url.path == "/token":
            return self._token(cfg)
        if not url.path.startswith("/v2/"):
            return self._send(404)
        repo = None
        if "/manifests/" in url.path:
            repo = url.path[len("/v2/"):].rsplit("/manifests/", 1)[0]
        blob_repo, digest = _split_blob_path(url.path)
        repo = repo or blob_repo
        if not self._check_auth(cfg, repo):
            return
        canned = cfg["canned"].get(url.path)
        if canned is not None:
            return self._send(canned.get("status", 200), canned.get("body", "").encode(),
                              {"Content-Type": canned.get("content_type", "application/json")})
        if digest and self.command == "GET" and (cfg["redirect_blobs"] or cfg["redirect_url"]):
            if cfg["redirect_url"]:
                loc = cfg["redirect_url"].rstrip("/") + "/cdn/%s/blobs/%s" % (blob_repo, digest)
            else:
                host, port = self.state.cdn_addr
                loc = "http://%s:%d/cdn/%s/blobs/%s" % (host, port, blob_repo, digest)
            return self._send(307, b"", {"Location": loc})
        self._forward(cfg, url.path, digest)

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_POST(self):
        if self.path == "/_proxy/config":
            n = int(self.headers.get("Content-Length", "0"))
            cfg = dict(DEFAULT_CONFIG)
            cfg.update(json.loads(self.rfile.read(n) or b"{}"))
            with self.state.lock:
                self.state.config = cfg
                self.state.log = []
            return self._send(200, b"{}", {"Content-Type": "application/json"})
        self._send(405)


class CdnHandler(Handler):
    role = "cdn"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _bind(handler, host, state):
    srv = Server((host, 0), handler)
    srv.state = state
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def start(upstream_port):
    """Start main + CDN listeners; returns (state, main_server, cdn_server)."""
    state = State(upstream_port)
    main = _bind(Handler, "127.0.0.1", state)
    try:
        cdn = _bind(CdnHandler, "127.0.0.2", state)   # another loopback host
    except OSError:
        cdn = _bind(CdnHandler, "127.0.0.1", state)
    state.main_addr = main.server_address[:2]
    state.cdn_addr = cdn.server_address[:2]
    return state, main, cdn


if __name__ == "__main__":
    import sys
    st, m, c = start(int(sys.argv[1]))
    print(json.dumps({"proxy": "%s:%d" % st.main_addr, "cdn": "%s:%d" % st.cdn_addr}), flush=True)
    threading.Event().wait()
