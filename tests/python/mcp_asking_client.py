#!/usr/bin/env python3
"""End-to-end check of tools that ask their client, with the official MCP Python SDK.

Usage: python mcp_asking_client.py http://127.0.0.1:8080 TOKEN

On both protocol generations (a 2025-11-25 session, `mode="legacy"`, and a 2026-07-28
connection) the SDK's callbacks play the user and the model:

- `deploy_plan` without a port asks the user for it through elicitation;
- `generate_application` without a template asks for one, and asks for the client's
  roots to propose where the project goes;
- `architect` asks the client's model for a second opinion (sampling), which the
  output labels as the model's; the rule-based design stays the answer.

Prints `python mcp sdk asking: ok` and exits 0 on success; prints the failure to stderr
and exits 1 otherwise.
"""

import sys

import anyio
import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

TOTAL_TIMEOUT_S = 90
HTTP_TIMEOUT_S = 15


def check(condition: object, message: str) -> None:
    # Not `assert`: the checks must still run under `python -O`.
    if not condition:
        raise AssertionError(message)


class Callbacks:
    """The user, the model and the workspace, as the SDK's callbacks."""

    def __init__(self) -> None:
        self.forms: list[str] = []
        self.samples: list[str] = []
        self.roots_listed = 0

    async def elicit(self, context: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.forms.append(params.message)
        fields = params.requested_schema.get("properties", {})
        if "port" in fields:
            return types.ElicitResult(action="accept", content={"port": 3000})
        if "template" in fields:
            return types.ElicitResult(action="accept", content={"template": "python-fastapi"})
        return types.ElicitResult(action="decline")

    async def sample(self, context: object, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.samples.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="Put the payment service behind a queue."),
            model="test-model",
            stop_reason="endTurn",
        )

    async def roots(self, context: object) -> types.ListRootsResult:
        self.roots_listed += 1
        return types.ListRootsResult(roots=[types.Root(uri="file:///home/dev/src", name="src")])


async def run_on(base_url: str, token: str, mode: str) -> None:
    you = Callbacks()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT_S) as http:
        transport = streamable_http_client(base_url.rstrip("/") + "/mcp", http_client=http)
        async with Client(
            transport,
            mode=mode,
            elicitation_callback=you.elicit,
            sampling_callback=you.sample,
            list_roots_callback=you.roots,
        ) as client:
            plan = await client.call_tool("deploy_plan", {"name": "orders-api"})
            check(not plan.is_error, f"{mode}: deploy_plan failed: {plan.content}")
            service = (plan.structured_content or {}).get("service", "")
            check("targetPort: 3000" in service, f"{mode}: the port asked for is not in the plan: {service}")

            project = await client.call_tool("generate_application", {"name": "orders-api"})
            check(not project.is_error, f"{mode}: generate_application failed: {project.content}")
            output = project.structured_content or {}
            check(output.get("template") == "python-fastapi", f"{mode}: template {output.get('template')}")
            check(output.get("directory") == "/home/dev/src/orders-api", f"{mode}: directory {output.get('directory')}")
            check(you.roots_listed >= 1, f"{mode}: the roots were never asked for")

            brief = {"description": "an online shop with user accounts, card payments and order emails"}
            design = await client.call_tool("architect", brief)
            check(not design.is_error, f"{mode}: architect failed: {design.content}")
            refinement = (design.structured_content or {}).get("refinement") or {}
            check(refinement.get("text") == "Put the payment service behind a queue.", f"{mode}: refinement {refinement}")
            check("client's model" in refinement.get("source", ""), f"{mode}: unlabelled refinement {refinement}")
            check(len(you.samples) == 1 and "card payments" in you.samples[0], f"{mode}: samples {you.samples}")
    check(len(you.forms) == 2, f"{mode}: {len(you.forms)} forms shown: {you.forms}")


async def run(base_url: str, token: str) -> None:
    for mode in ("legacy", "2026-07-28"):
        await run_on(base_url, token, mode)


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
        print(f"python mcp sdk asking: FAILED against {sys.argv[1]}: {exc!r}", file=sys.stderr)
        return 1
    print("python mcp sdk asking: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
