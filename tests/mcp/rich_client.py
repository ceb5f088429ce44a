"""A real MCP client for tool metadata, rich results and progress (API 0.2.2).

Run by tests/mcp/rich.rs against a server it started, with the bundled plugins and the
`rich-tools` fixture loaded. Drives /mcp with the official MCP Python SDK and prints a
JSON report of what the client saw; the Rust test asserts on it. A step that raises
records the error instead, so one failure does not hide the others.

- "listed": each tool's title, annotations and output schema as `tools/list` gave them
  (the SDK's own models, dumped with MCP's field names).
- "calls": results of calls, the content dumped the same way, with structured content.
  The SDK validates structured content against the tool's output schema: a mismatch
  shows as an exception here.
- "templates": `resources/templates/list`, and a read of a URI one of them matches.
- "progress": the notifications/progress the SDK delivered to the call's
  progress_callback, in order; once on `/mcp` (legacy session) and once on
  `/mcp/rich-tools` without a session (protocol 2026-07-28).
"""

import argparse
import asyncio
import json
import sys

from mcp import Client
from mcp.shared.exceptions import MCPError


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def step(report, name, coroutine):
    try:
        report[name] = await coroutine
    except MCPError as e:
        report[name] = {"protocol_error": str(e), "code": e.error.code}
    except Exception as e:  # noqa: BLE001 - recorded for the Rust side to show
        report[name] = {"exception": f"{type(e).__name__}: {e}"}


async def call(client, name, arguments):
    result = await client.call_tool(name, arguments)
    return {
        "is_error": bool(result.is_error),
        "content": [dump(c) for c in result.content],
        "structured": result.structured_content,
    }


async def with_progress(client, name, arguments):
    reports = []

    async def on_progress(progress, total, message):
        reports.append({"progress": progress, "total": total, "message": message})

    result = await client.call_tool(name, arguments, progress_callback=on_progress)
    texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    return {"is_error": bool(result.is_error), "text": "\n".join(texts), "reports": reports}


async def listed(client):
    tools = await client.list_tools()
    return {
        t.name: {
            "title": t.title,
            "annotations": dump(t.annotations) if t.annotations else None,
            "output_schema": t.output_schema,
        }
        for t in tools.tools
    }


async def templates(client):
    listed = await client.list_resource_templates()
    note = await client.read_resource("fixture://notes/groceries")
    return {
        "listed": [dump(t) for t in listed.resource_templates],
        "read": [dump(c) for c in note.contents],
    }


async def combined(args):
    report = {}
    async with Client(args.base + "/mcp", mode="legacy") as client:
        await step(report, "listed", listed(client))
        calls = {}
        for key, name, arguments in [
            ("measure", "rich-tools__measure", {"text": "a wide  world"}),
            ("media", "rich-tools__media", {}),
            ("current_time", "time__current_time", {"timezone": "Asia/Tokyo"}),
            ("convert_time", "time__convert_time",
             {"time": "2024-01-15T12:00:00Z", "source_timezone": "UTC", "target_timezone": "Asia/Tokyo"}),
        ]:
            await step(calls, key, call(client, name, arguments))
        report["calls"] = calls
        await step(report, "templates", templates(client))
        await step(report, "progress", with_progress(client, "rich-tools__count", {"steps": 3}))
    return report


async def scoped(args):
    report = {}
    async with Client(args.base + "/mcp/rich-tools", mode="auto") as client:
        report["protocol_version"] = client.protocol_version
        await step(report, "listed", listed(client))
        await step(report, "progress", with_progress(client, "count", {"steps": 2}))
    return report


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the host, e.g. http://127.0.0.1:5000")
    args = parser.parse_args()
    report = {"combined": await combined(args), "scoped": await scoped(args)}
    json.dump(report, sys.stdout, default=str)


if __name__ == "__main__":
    asyncio.run(main())
