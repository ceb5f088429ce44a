"""A real MCP client for the host's /mcp endpoint: the official MCP Python SDK.

Run by tests/mcp/main.rs against a server it started. Every step records what the
client saw in a JSON report printed on stdout; the Rust test asserts on it. A step that
raises records the error instead, so one failure does not hide the others.

Two connections:
- "legacy": mode="legacy", the initialize handshake (protocol 2025-11-25) with a
  session; calls every first-party tool, bad arguments, an unknown tool, resources,
  prompts, then installs a plugin through the API and waits for
  notifications/tools/list_changed.
- "modern": mode="auto" (server/discover, protocol 2026-07-28, no session); lists and
  calls, then follows subscriptions/listen while the plugin is uninstalled.
"""

import argparse
import asyncio
import json
import sys
import urllib.request

from mcp import Client
from mcp.shared.exceptions import MCPError


def api(base, method, path, key):
    request = urllib.request.Request(
        base + path, method=method, headers={"authorization": "Bearer " + key}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def call_report(result):
    texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    return {
        "is_error": bool(result.is_error),
        "text": "\n".join(texts),
        "structured": result.structured_content,
    }


async def step(report, name, coroutine):
    try:
        report[name] = await coroutine
    except MCPError as e:
        report[name] = {"protocol_error": str(e), "code": e.error.code}
    except Exception as e:  # noqa: BLE001 - recorded for the Rust side to show
        report[name] = {"exception": f"{type(e).__name__}: {e}"}


async def call(client, name, arguments):
    return call_report(await client.call_tool(name, arguments))


async def names(coroutine, attribute, field="name"):
    result = await coroutine
    return [getattr(item, field) for item in getattr(result, attribute)]


async def legacy(args):
    report = {}
    changed = asyncio.Event()
    notifications = []

    async def on_message(message):
        method = getattr(message, "method", None)
        if method:
            notifications.append(method)
            if method == "notifications/tools/list_changed":
                changed.set()

    async with Client(args.url, mode="legacy", message_handler=on_message) as client:
        report["protocol_version"] = client.protocol_version
        report["server_name"] = client.server_info.name if client.server_info else None
        await step(report, "tools", names(client.list_tools(), "tools"))
        tools = await client.list_tools()
        report["schemas"] = {t.name: t.input_schema for t in tools.tools}

        calls = {}
        for key, name, arguments in [
            ("current_time", "time__current_time", {"timezone": "Europe/Paris"}),
            ("convert_time", "time__convert_time",
             {"time": "2024-01-15T12:00:00Z", "source_timezone": "UTC", "target_timezone": "Asia/Tokyo"}),
            ("list_directory", "filesystem__list_directory", {}),
            ("read_file", "filesystem__read_file", {"path": "hello.txt"}),
            ("read_file_capped", "filesystem__read_file", {"path": "/files/docs/long.md", "max_bytes": 10}),
            ("search_files", "filesystem__search_files", {"pattern": "*.md"}),
            ("write_file", "filesystem__write_file", {"path": "new.txt", "content": "x"}),
            ("read_dot_dot", "filesystem__read_file", {"path": "../../etc/passwd"}),
            ("read_symlink_out", "filesystem__read_file", {"path": "/files/outside/passwd"}),
            ("create_entities", "memory__create_entities", {"entities": [
                {"name": "Ada", "entityType": "person", "observations": ["writes programs"]},
                {"name": "Acme", "entityType": "company", "observations": []}]}),
            ("create_relations", "memory__create_relations",
             {"relations": [{"from": "Ada", "to": "Acme", "relationType": "works_at"}]}),
            ("add_observations", "memory__add_observations",
             {"observations": [{"entityName": "Acme", "contents": ["makes anvils"]}]}),
            ("search_nodes", "memory__search_nodes", {"query": "anvil"}),
            ("open_nodes", "memory__open_nodes", {"names": ["Ada", "Acme"]}),
            ("read_graph", "memory__read_graph", {}),
            ("delete_observations", "memory__delete_observations",
             {"deletions": [{"entityName": "Ada", "observations": ["writes programs"]}]}),
            ("delete_relations", "memory__delete_relations",
             {"relations": [{"from": "Ada", "to": "Acme", "relationType": "works_at"}]}),
            ("delete_entities", "memory__delete_entities", {"entityNames": ["Acme"]}),
            ("read_graph_after", "memory__read_graph", {}),
            ("fetch_page", "fetch__fetch", {"url": args.web + "/page"}),
            ("fetch_capped", "fetch__fetch", {"url": args.web + "/page", "max_length": 20}),
            ("fetch_raw", "fetch__fetch", {"url": args.web + "/notes.txt", "raw": True}),
            ("fetch_redirect", "fetch__fetch", {"url": args.web + "/old"}),
            ("fetch_denied", "fetch__fetch", {"url": "http://example.invalid/"}),
            ("bad_type", "time__convert_time", {"time": 5, "source_timezone": "UTC", "target_timezone": "UTC"}),
            ("bad_extra", "time__current_time", {"tz": "UTC"}),
            ("bad_missing", "memory__create_entities", {"entities": [{"name": "x"}]}),
            ("unknown_tool", "nope__nothing", {}),
        ]:
            await step(calls, key, call(client, name, arguments))
        report["calls"] = calls

        await step(report, "resources", names(client.list_resources(), "resources", "uri"))
        zones = await client.read_resource("time://zones")
        report["zones_lines"] = len(zones.contents[0].text.splitlines())
        await step(report, "prompts", names(client.list_prompts(), "prompts"))
        prompt = await client.get_prompt(
            "time__meeting_planner", {"zones": "UTC, Asia/Tokyo", "date": "2024-07-01"}
        )
        report["prompt_text"] = prompt.messages[0].content.text

        report["install_status"] = api(args.base, "POST", f"/api/plugins/{args.install}/install", args.key)
        try:
            await asyncio.wait_for(changed.wait(), 15)
            report["saw_list_changed"] = True
        except asyncio.TimeoutError:
            report["saw_list_changed"] = False
        report["notifications"] = notifications
        await step(report, "tools_after_install", names(client.list_tools(), "tools"))
        await step(report, "installed_call", call(client, f"{args.install}__current_time", {"timezone": "UTC"}))
    return report


async def modern(args):
    report = {}
    async with Client(args.url, mode="auto") as client:
        report["protocol_version"] = client.protocol_version
        await step(report, "tools", names(client.list_tools(), "tools"))
        await step(report, "call", call(client, "time__current_time", {}))
        await step(report, "bad_type", call(client, "time__current_time", {"timezone": 3}))
        async with client.listen(tools_list_changed=True) as subscription:
            report["honored_tools"] = bool(subscription.honored.tools_list_changed)
            report["uninstall_status"] = api(args.base, "DELETE", f"/api/plugins/{args.install}", args.key)
            try:
                event = await asyncio.wait_for(subscription.__anext__(), 15)
                report["event"] = type(event).__name__
            except asyncio.TimeoutError:
                report["event"] = None
        await step(report, "tools_after_uninstall",
                   names(client.list_tools(cache_mode="refresh"), "tools"))
    return report


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the host, e.g. http://127.0.0.1:5000")
    parser.add_argument("--web", required=True, help="the local web server fetch reads")
    parser.add_argument("--key", required=True, help="the admin key")
    parser.add_argument("--install", required=True, help="the registry id of a plugin to install")
    args = parser.parse_args()
    args.url = args.base + "/mcp"
    report = {"legacy": await legacy(args), "modern": await modern(args)}
    json.dump(report, sys.stdout, default=str)


if __name__ == "__main__":
    asyncio.run(main())
