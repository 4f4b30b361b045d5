#!/usr/bin/env python3
"""End-to-end check of approval gates with the official MCP Python SDK (package `mcp`).

Usage: python mcp_approval_client.py http://127.0.0.1:8080 TOKEN

A production `deploy_plan` needs a person's approval under the shipped policies. On both
protocol generations the SDK shows the server's form to its elicitation callback, which
plays the person: a 2025-11-25 session (`mode="legacy"`) gets `elicitation/create` on the
call's stream; a 2026-07-28 connection gets an input-required result, which the SDK's
`Client.call_tool` answers and retries with the sealed `requestState`. Accepting runs the
plan; declining ends the call with a tool error and nothing runs.

Prints `python mcp sdk approvals: ok` and exits 0 on success; prints the failure to stderr
and exits 1 otherwise.
"""

import sys

import anyio
import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

TOTAL_TIMEOUT_S = 60
HTTP_TIMEOUT_S = 15

PRODUCTION = {
    "name": "shop",
    "port": 8080,
    "image": "registry.example/shop:1.4.2",
    "replicas": 3,
    "environment": "production",
}


def check(condition: object, message: str) -> None:
    # Not `assert`: the checks must still run under `python -O`.
    if not condition:
        raise AssertionError(message)


async def call_with(base_url: str, token: str, mode: str, action: str) -> tuple[types.CallToolResult, list[str]]:
    """Calls a production deploy_plan on a `mode` connection; the person answers `action`."""
    shown: list[str] = []

    async def person(context: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        shown.append(params.message)
        if action == "accept":
            return types.ElicitResult(action="accept", content={"comment": f"python sdk, {mode}"})
        return types.ElicitResult(action=action)

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT_S) as http:
        transport = streamable_http_client(base_url.rstrip("/") + "/mcp", http_client=http)
        async with Client(transport, mode=mode, elicitation_callback=person) as client:
            result = await client.call_tool("deploy_plan", PRODUCTION)
    return result, shown


async def run(base_url: str, token: str) -> None:
    for mode in ("legacy", "2026-07-28"):
        result, shown = await call_with(base_url, token, mode, "accept")
        check(len(shown) == 1, f"{mode}: the person was asked {len(shown)} times")
        for part in ("deploy_plan", '"production"', "registry.example/shop:1.4.2", "tools.deploy"):
            check(part in shown[0], f"{mode}: the form does not show {part}: {shown[0]}")
        check(not result.is_error, f"{mode}: the approved plan failed: {result.content}")
        environment = (result.structured_content or {}).get("environment")
        check(environment == "production", f"{mode}: the plan is for {environment}")

        result, shown = await call_with(base_url, token, mode, "decline")
        check(len(shown) == 1, f"{mode}: the person was asked {len(shown)} times")
        check(result.is_error, f"{mode}: a declined plan ran: {result}")
        text = result.content[0].text if result.content else ""
        check("declined" in text and "Nothing ran" in text, f"{mode}: unexpected refusal: {text}")


def main() -> int:
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} BASE_URL TOKEN", file=sys.stderr)
        return 1

    async def bounded() -> None:
        with anyio.fail_after(TOTAL_TIMEOUT_S):
            await run(sys.argv[1], sys.argv[2])

    try:
        anyio.run(bounded)
    except BaseException as exc:  # noqa: BLE001 - report anything (incl. ExceptionGroup) and fail
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"python mcp sdk approvals: FAILED against {sys.argv[1]}: {exc!r}", file=sys.stderr)
        return 1
    print("python mcp sdk approvals: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
