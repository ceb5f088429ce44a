"""The official MCP Python SDK against one MCP endpoint (a plugin served alone at
/mcp/<id>, or /mcp).

Run through `sanctuary_test_support::mcp::python_list_and_call` (the authoring guide test
and the JavaScript and Python scaffold tests): lists the tools (title, annotations, output
schema, as `tools/list` gave them) and calls one, printing a JSON report for the Rust
test to assert on: the text of the result and its structured content. The SDK checks
structured content against the tool's output schema: a mismatch fails the script.
"""

import argparse
import asyncio
import json

from mcp import Client


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the plugin's MCP endpoint")
    parser.add_argument("--tool", required=True)
    parser.add_argument("--arguments", required=True, help="JSON object")
    args = parser.parse_args()
    async with Client(args.url, mode="auto") as client:
        tools = await client.list_tools()
        listed = {
            t.name: {
                "title": t.title,
                "annotations": t.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
                if t.annotations
                else None,
                "output_schema": t.output_schema,
            }
            for t in tools.tools
        }
        result = await client.call_tool(args.tool, json.loads(args.arguments))
        texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    report = {
        "listed": listed,
        "is_error": bool(result.is_error),
        "text": "\n".join(texts),
        "structured": result.structured_content,
    }
    print(json.dumps(report))


asyncio.run(main())
