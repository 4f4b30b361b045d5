#!/usr/bin/env python3
"""End-to-end check of orchestrator-mcp with the official MCP Python SDK (package `mcp`):
OAuth, tools, resources, prompts and progress.

Usage: python mcp_oauth_client.py http://127.0.0.1:8080

The SDK's own OAuthClientProvider does all of the OAuth work: it receives the 401 from
/mcp, discovers the protected-resource and authorization-server metadata, registers a
public client dynamically, authorizes with PKCE, exchanges the code and retries. The only
part played here is the user's: `redirect_handler` loads the consent page and approves it,
and `callback_handler` hands the resulting code back to the SDK.

Prints `python mcp sdk: ok` and exits 0 on success; prints the failure to stderr and
exits 1 otherwise.
"""

import html
import json
import re
import socket
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import anyio
import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

TOTAL_TIMEOUT_S = 60
HTTP_TIMEOUT_S = 15


def check(condition: object, message: str) -> None:
    # Not `assert`: the checks must still run under `python -O`.
    if not condition:
        raise AssertionError(message)


class MemoryTokenStorage:
    """In-memory TokenStorage: nothing survives the process."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def unused_loopback_port() -> int:
    # Nothing listens on the redirect URI: the "browser" below reads the 302 itself.
    # A free port just keeps the URI from pointing at some unrelated local service.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsentingUser:
    """Plays the user in the browser: open the authorization URL, press "approve"."""

    def __init__(self) -> None:
        self.result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        # No redirect following: the 302 after approval goes to the (dead) redirect URI,
        # and its Location header is exactly what a browser would deliver to the client.
        async with httpx2.AsyncClient(follow_redirects=False, timeout=HTTP_TIMEOUT_S) as http:
            page = await http.get(authorization_url)
            if page.status_code != 200:
                raise RuntimeError(f"consent page: HTTP {page.status_code}: {page.text[:300]}")
            consent_id = re.search(r'name="consent"\s+value="([^"]+)"', page.text)
            if not consent_id:
                raise RuntimeError(f"consent page has no consent id: {page.text[:300]}")
            # Submit the form where it says (HTML's default: the page's own URL).
            action = re.search(r'<form[^>]*\saction="([^"]*)"', page.text)
            form_url = urljoin(authorization_url, html.unescape(action.group(1)) if action else "")
            form = {"consent": html.unescape(consent_id.group(1)), "decision": "approve"}
            decision = await http.post(form_url, data=form)
        if decision.status_code != 302:
            raise RuntimeError(f"approve: expected 302, got HTTP {decision.status_code}: {decision.text[:300]}")
        query = parse_qs(urlparse(decision.headers["location"]).query)
        if "code" not in query:
            raise RuntimeError(f"approve: redirect carries no code: {decision.headers['location']}")
        self.result = AuthorizationCodeResult(
            code=query["code"][0],
            state=query.get("state", [None])[0],
            iss=query.get("iss", [None])[0],  # RFC 9207; the SDK checks it against the issuer
        )

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise RuntimeError("callback before the redirect completed")
        return self.result


async def run(base_url: str) -> None:
    mcp_url = base_url.rstrip("/") + "/mcp"
    user = ConsentingUser()
    auth = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="orchestrator-mcp python sdk test",
            redirect_uris=[f"http://127.0.0.1:{unused_loopback_port()}/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",  # public client
        ),
        storage=MemoryTokenStorage(),
        redirect_handler=user.redirect_handler,
        callback_handler=user.callback_handler,
    )

    async with httpx2.AsyncClient(auth=auth, timeout=HTTP_TIMEOUT_S) as http:
        async with streamable_http_client(mcp_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()

                tools = await session.list_tools()
                names = [t.name for t in tools.tools]
                check("ping" in names, f"ping not listed; tools: {names}")

                result = await session.call_tool("ping", {"message": "from python"})
                check(not result.is_error, f"ping returned an error: {result.content}")
                sc = result.structured_content or {}
                check(sc.get("message") == "from python", f"unexpected structuredContent: {sc}")
                check(sc.get("principal_id") == "demo-user", f"unexpected structuredContent: {sc}")

                await resources_prompts_and_progress(session)

    # Belt and braces: the ping above can only have succeeded with a token, but make the
    # OAuth path explicit rather than implied.
    check(user.result is not None, "the SDK never ran the authorization flow")


async def resources_prompts_and_progress(session: ClientSession) -> None:
    """Resources, prompts and progress, as the token's scopes allow them."""
    resources = await session.list_resources()
    uris = [str(r.uri) for r in resources.resources]
    check("code-tools://languages" in uris, f"code-tools://languages not listed; resources: {uris}")
    languages = await session.read_resource("code-tools://languages")
    names = [entry["name"] for entry in json.loads(languages.contents[0].text)["languages"]]
    check("rust" in names, f"unexpected languages: {names}")

    templates = await session.list_resource_templates()
    patterns = [t.uri_template for t in templates.resource_templates]
    check("code-tools://review-rules/{language}" in patterns, f"templates: {patterns}")
    rules = await session.read_resource("code-tools://review-rules/python")
    rule_names = [rule["rule"] for rule in json.loads(rules.contents[0].text)["rules"]]
    check("python.bare-except" in rule_names, f"unexpected rules: {rule_names}")

    prompts = await session.list_prompts()
    prompt_names = [p.name for p in prompts.prompts]
    check("code_review" in prompt_names, f"code_review not listed; prompts: {prompt_names}")
    prompt = await session.get_prompt("code_review", {"code": "eval(input())", "language": "python"})
    text = prompt.messages[0].content.text
    check(text.startswith("Review the following python code."), f"unexpected prompt: {text[:200]}")

    reports: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total))

    plan = {
        "steps": [
            {"id": "first", "tool": "ping"},
            {"id": "second", "tool": "ping", "depends_on": ["first"]},
        ]
    }
    result = await session.call_tool("orchestrate", plan, progress_callback=on_progress)
    check(not result.is_error, f"orchestrate returned an error: {result.content}")
    check(reports == [(0, 2), (1, 2), (2, 2)], f"unexpected progress: {reports}")


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} BASE_URL   (e.g. http://127.0.0.1:8080)", file=sys.stderr)
        return 1

    async def bounded() -> None:
        with anyio.fail_after(TOTAL_TIMEOUT_S):
            await run(sys.argv[1])

    try:
        anyio.run(bounded)
    except BaseException as exc:  # noqa: BLE001 - report anything (incl. ExceptionGroup) and fail
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"python mcp sdk: FAILED against {sys.argv[1]}: {describe(exc)}", file=sys.stderr)
        return 1
    print("python mcp sdk: ok")
    return 0


def describe(exc: BaseException) -> str:
    # Task groups wrap the real error in (possibly nested) exception groups; unwrap them.
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    if isinstance(exc, TimeoutError):
        return f"timed out after {TOTAL_TIMEOUT_S} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)  # e.g. httpx2.ReadTimeout has no text


if __name__ == "__main__":
    sys.exit(main())
