"""Unit tests of ``mcp_tools`` (standard library only, so a native ``python3`` runs them:
``python3 -m unittest test_mcp_tools``; ``cargo test -p sanctuary --test python`` does)."""

import json
import unittest
from typing import Annotated, List, NotRequired, Optional, TypedDict

from mcp_tools import ToolError, Tools


class ToolsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tools = Tools()

        @self.tools
        def search(
            query: Annotated[str, "What to find"],
            tags: Annotated[List[str], "Labels"] = [],
            limit: int = 10,
            exact: Optional[bool] = None,
            ratio: float | None = None,
        ) -> dict:
            """Searches things.

            Second   paragraph,
            on two lines.
            """
            return {"query": query, "tags": tags, "limit": limit, "exact": exact, "ratio": ratio}

        self.search = self.tools.get("search")

    def test_the_docstring_is_the_description_with_paragraphs_kept(self) -> None:
        self.assertEqual(
            self.search.description, "Searches things.\n\nSecond paragraph, on two lines."
        )

    def test_annotated_parameters_are_the_schema_and_defaults_make_them_optional(self) -> None:
        self.assertEqual(
            self.search.input_schema,
            {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to find"},
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "Labels"},
                    "limit": {"type": "integer"},
                    "exact": {"type": "boolean"},
                    "ratio": {"type": "number"},
                },
                "required": ["query"],
                "additionalProperties": False,
            },
        )

    def test_a_tool_without_required_arguments_lists_none(self) -> None:
        @self.tools
        def everything(limit: int = 5) -> dict:
            """Lists everything."""
            return {"limit": limit}

        schema = self.tools.get("everything").input_schema
        self.assertNotIn("required", schema)
        self.assertEqual(self.tools.get("everything").call(""), {"limit": 5})
        self.assertEqual([t.name for t in self.tools], ["search", "everything"])

    def test_a_call_parses_the_json_arguments(self) -> None:
        result = self.search.call(json.dumps({"query": "cats", "limit": 2}))
        self.assertEqual(result, {"query": "cats", "tags": [], "limit": 2, "exact": None, "ratio": None})

    def test_bad_arguments_and_unknown_tools_are_tool_errors_naming_them(self) -> None:
        for arguments, expected in [
            ("{", "not JSON"),
            ("[1]", "JSON object"),
            ('{"limit": 1}', "missing argument `query`"),
            ('{"query": "x", "colour": "red"}', "unknown argument `colour`"),
        ]:
            with self.assertRaises(ToolError) as raised:
                self.search.call(arguments)
            self.assertIn(expected, str(raised.exception))
        with self.assertRaises(ToolError) as raised:
            self.tools.get("nope")
        self.assertIn("unknown tool `nope`", str(raised.exception))

    def test_a_tool_needs_a_docstring_and_typed_parameters(self) -> None:
        def undocumented(x: str) -> None:
            pass

        def untyped(x) -> None:
            """Has a doc."""

        for function in (undocumented, untyped):
            with self.assertRaises(TypeError):
                self.tools(function)

    def test_a_bare_tool_has_no_title_hints_or_output_schema(self) -> None:
        self.assertEqual(
            (self.search.title, self.search.annotations, self.search.output_schema),
            (None, {}, None),
        )

    def test_title_and_hints_are_said_in_the_decorator_and_named_as_mcp_names_them(self) -> None:
        @self.tools(title="Wipe everything", destructive=True, read_only=False, idempotent=None)
        def wipe() -> str:
            """Wipes."""
            return "gone"

        wipe_tool = self.tools.get("wipe")
        self.assertEqual(wipe_tool.title, "Wipe everything")
        self.assertEqual(
            wipe_tool.annotations, {"destructiveHint": True, "readOnlyHint": False}
        )
        self.assertEqual(wipe(), "gone", "the decorated function is the function")
        with self.assertRaises(TypeError) as raised:

            @self.tools(readonly=True)
            def typo() -> str:
                """Typo."""
                return ""

        self.assertIn("unknown hint `readonly`", str(raised.exception))

    def test_a_typed_dict_result_gives_the_output_schema(self) -> None:
        class Count(TypedDict):
            words: Annotated[int, "How many words"]
            longest: NotRequired[str]

        @self.tools(read_only=True)
        def count(text: str) -> Count:
            """Counts."""
            return {"words": len(text.split())}

        tool = self.tools.get("count")
        self.assertEqual(
            tool.output_schema,
            {
                "type": "object",
                "properties": {
                    "words": {"type": "integer", "description": "How many words"},
                    "longest": {"type": "string"},
                },
                "required": ["words"],
            },
        )
        self.assertEqual(tool.call('{"text": "a b"}'), {"words": 2})


if __name__ == "__main__":
    unittest.main()
