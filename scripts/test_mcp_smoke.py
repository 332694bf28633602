#!/usr/bin/env python3
"""Smoke test of a running Invoke's MCP endpoint, as the product documents describe it.

    export INVOKE_BASE_URL="https://invoke.example.com"
    export INVOKE_API_KEY="inv_live_..."
    python3 scripts/test_mcp_smoke.py

Calls, in order: GET /v1/mcp, initialize, tools/list, tools/call invoke.policy.simulate (a
"drop table invoices" that must be denied). It mutates nothing. Python 3 standard library only.
Exit code 0 when every step passed, 1 when one failed, 2 when the environment is incomplete.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 10
PROTOCOL_VERSION = "2025-11-25"


def endpoint_of(base):
    return base.rstrip("/") + "/v1/mcp"


def get_discovery(endpoint):
    request = urllib.request.Request(endpoint, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        discovery = json.load(response)
    if not isinstance(discovery.get("protocol_versions"), list):
        raise RuntimeError("no protocol_versions in the discovery document")
    return "%s %s, protocols %s" % (discovery.get("name"), discovery.get("version"), ", ".join(discovery["protocol_versions"]))


def rpc(endpoint, key, request_id, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
    request = urllib.request.Request(
        endpoint,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", "X-API-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", "replace")[:300]
        raise RuntimeError("HTTP %d: %s" % (error.code, detail)) from None
    if "error" in answer:
        raise RuntimeError("JSON-RPC error %s: %s" % (answer["error"].get("code"), answer["error"].get("message")))
    return answer["result"]


def main():
    base = os.environ.get("INVOKE_BASE_URL")
    key = os.environ.get("INVOKE_API_KEY")
    if not base or not key:
        print("set INVOKE_BASE_URL (e.g. http://127.0.0.1:8787) and INVOKE_API_KEY", file=sys.stderr)
        return 2
    endpoint = endpoint_of(base)

    def initialize():
        result = rpc(endpoint, key, 1, "initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "invoke-smoke-py", "version": "1"}})
        server = result.get("serverInfo", {})
        return "protocol %s, server %s %s" % (result.get("protocolVersion"), server.get("name"), server.get("version"))

    def tools_list():
        names = [tool["name"] for tool in rpc(endpoint, key, 2, "tools/list", {})["tools"]]
        if "invoke.policy.simulate" not in names:
            raise RuntimeError("invoke.policy.simulate is not listed for this key (listed: %s)" % (", ".join(names) or "none"))
        return "%d tools" % len(names)

    def simulate():
        result = rpc(endpoint, key, 3, "tools/call", {
            "name": "invoke.policy.simulate",
            "arguments": {"agent_id": "finance_agent", "action": "database.execute", "params": {"sql": "drop table invoices"}},
        })
        if result.get("isError"):
            raise RuntimeError(result.get("content", [{}])[0].get("text", "the tool failed"))
        decision = result.get("structuredContent", {}).get("decision")
        if decision != "deny":
            raise RuntimeError('expected "drop table invoices" to be denied, got %s' % decision)
        rules = ", ".join(rule["id"] for rule in result["structuredContent"].get("matched_rules", []))
        return "drop table invoices -> %s (%s)" % (decision, rules)

    steps = [("GET /v1/mcp", lambda: get_discovery(endpoint)), ("initialize", initialize), ("tools/list", tools_list), ("tools/call invoke.policy.simulate", simulate)]
    failed = 0
    for name, run in steps:
        started = time.monotonic()
        try:
            detail = run()
            print("ok    %s (%d ms): %s" % (name, (time.monotonic() - started) * 1000, detail))
        except Exception as error:  # every failure is reported as a failed step, never a traceback
            failed += 1
            print("FAIL  %s (%d ms): %s" % (name, (time.monotonic() - started) * 1000, error))
    if failed:
        print("%d of %d smoke steps failed against %s" % (failed, len(steps), endpoint), file=sys.stderr)
        return 1
    print("All %d smoke steps passed against %s." % (len(steps), endpoint))
    return 0


if __name__ == "__main__":
    sys.exit(main())
