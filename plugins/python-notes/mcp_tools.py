"""Tools written once: a plain Python function becomes an MCP tool.

Decorate a function with ``@tool``: its name is the tool's name, its docstring is the
tool's description (lines of a paragraph joined, paragraphs kept), and its type-annotated parameters are the JSON
Schema of the tool's arguments. A parameter's own description is the text of
``Annotated[type, "description"]``; a parameter with a default is optional.

What MCP clients are told beyond that is said in the decorator's keywords:
``@tool(title="Count words", read_only=True, idempotent=True, open_world=False)``
gives the tool a title and behaviour hints (``destructive`` is the fourth). A tool whose
return type is a ``TypedDict`` has that dict's JSON Schema as its output schema, and its
result is the call's structured content.

``Tools.get(name).call(arguments)`` runs a tool, checking the arguments first. This module
only uses the standard library, so it also runs (and is tested) with a native ``python3``.
"""

import inspect
import json
import types
import typing
from typing import Annotated, Any, Callable, get_args, get_origin, get_type_hints

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


class ToolError(Exception):
    """A failure of one call that the caller should see: the plugin's ``invalid-input``."""


def _schema_of(annotation: Any) -> dict:
    """The JSON Schema of one annotated parameter type."""
    description = None
    if get_origin(annotation) is Annotated:
        annotation, *extras = get_args(annotation)
        description = next((e for e in extras if isinstance(e, str)), None)
    origin = get_origin(annotation)
    if origin in (typing.Required, typing.NotRequired):
        # A TypedDict key's marker: whether it is required is the dict's to say.
        (annotation,) = get_args(annotation)
        return _schema_of(annotation if description is None else Annotated[annotation, description])
    if origin in (typing.Union, types.UnionType):
        # `X | None` (or `Optional[X]`): the value may be left out, so the schema is X's.
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        schema = _schema_of(inner[0])
    elif origin is list:
        (item,) = get_args(annotation) or (str,)
        schema = {"type": "array", "items": _schema_of(item)}
    elif annotation in _SCALARS:
        schema = {"type": _SCALARS[annotation]}
    elif typing.is_typeddict(annotation):
        schema = _object_schema(annotation)
    else:
        raise TypeError(f"unsupported parameter type {annotation!r}")
    if description:
        schema["description"] = description
    return schema


def _object_schema(typed_dict: Any) -> dict:
    """The JSON Schema of a ``TypedDict``: an object of its keys, the required ones listed."""
    hints = get_type_hints(typed_dict, include_extras=True)
    schema = {
        "type": "object",
        "properties": {name: _schema_of(hint) for name, hint in hints.items()},
    }
    required = [name for name in hints if name in typed_dict.__required_keys__]
    if required:
        schema["required"] = required
    return schema


# The behaviour hints a tool may declare, as ``@tool`` keywords and as MCP names them.
HINTS = {
    "read_only": "readOnlyHint",
    "destructive": "destructiveHint",
    "idempotent": "idempotentHint",
    "open_world": "openWorldHint",
}


class Tool:
    """One tool: a function and what the model is told about it."""

    def __init__(self, function: Callable[..., Any], title: str | None = None, **hints: bool):
        """``function`` with its ``title`` and behaviour ``hints`` (keys of ``HINTS``)."""
        doc = inspect.getdoc(function)
        if not doc:
            raise TypeError(f"tool `{function.__name__}` needs a docstring: it is the description")
        self.function = function
        self.name = function.__name__
        paragraphs = (" ".join(p.split()) for p in doc.split("\n\n"))
        self.description = "\n\n".join(p for p in paragraphs if p)
        unknown = sorted(set(hints) - set(HINTS))
        if unknown:
            raise TypeError(f"tool `{self.name}`: unknown hint `{unknown[0]}` (known: {', '.join(HINTS)})")
        self.title = title
        self.hints = {name: bool(value) for name, value in hints.items() if value is not None}
        annotations = get_type_hints(function, include_extras=True)
        returns = annotations.pop("return", None)
        # A TypedDict result is structured content, and its schema the output schema.
        self.output_schema = _object_schema(returns) if typing.is_typeddict(returns) else None
        properties = {}
        required = []
        for parameter in inspect.signature(function).parameters.values():
            if parameter.name not in annotations:
                raise TypeError(f"parameter `{parameter.name}` of `{self.name}` needs a type")
            properties[parameter.name] = _schema_of(annotations[parameter.name])
            if parameter.default is inspect.Parameter.empty:
                required.append(parameter.name)
        self.input_schema = {"type": "object", "properties": properties}
        if required:  # draft 4 wants a non-empty list, or none
            self.input_schema["required"] = required
        self.input_schema["additionalProperties"] = False

    @property
    def annotations(self) -> dict:
        """The behaviour hints as MCP names them (``readOnlyHint``, ...), said ones only."""
        return {HINTS[name]: value for name, value in self.hints.items()}

    def call(self, arguments: str) -> Any:
        """Calls the function with the JSON object text ``arguments``."""
        try:
            values = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as err:
            raise ToolError(f"the arguments are not JSON: {err}") from None
        if not isinstance(values, dict):
            raise ToolError("the arguments must be a JSON object")
        unknown = sorted(set(values) - set(self.input_schema["properties"]))
        if unknown:
            raise ToolError(f"unknown argument `{unknown[0]}` for tool `{self.name}`")
        missing = [n for n in self.input_schema.get("required", []) if n not in values]
        if missing:
            raise ToolError(f"missing argument `{missing[0]}` for tool `{self.name}`")
        return self.function(**values)


class Tools:
    """The tools of one plugin, in the order they were declared."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def __call__(self, function: Callable[..., Any] | None = None, /, **metadata: Any):
        """Declares ``function`` as a tool: use the instance as a decorator, bare
        (``@tool``) or with a title and hints (``@tool(title="...", read_only=True)``)."""

        def declare(function: Callable[..., Any]) -> Callable[..., Any]:
            declared = Tool(function, **metadata)
            self._tools[declared.name] = declared
            return function

        return declare if function is None else declare(function)

    def __iter__(self):
        return iter(self._tools.values())

    def get(self, name: str) -> Tool:
        """The tool named ``name``, or a ``ToolError`` naming it."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(f"unknown tool `{name}`") from None
