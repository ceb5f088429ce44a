"""The `python-notes` MCP server: notes kept in the host's key-value store, and text
statistics. A Sanctuary plugin written in Python and built with componentize-py against
the repository's WIT (world `mcp-server`).

Each tool is a plain function declared with ``@tool``: its docstring is the description
the host lists, its annotated parameters the JSON Schema of its arguments (see
``mcp_tools.py``). Nothing is written twice.
"""

import json
import re
import time
from collections import Counter
from typing import Annotated, List

from componentize_py_types import Err
from mcp_tools import ToolError, Tools
from wit_world import exports
from wit_world.exports.mcp import Content_Json, Content_Text, Prompt, PromptMessage, Resource, Tool
from wit_world.imports import kv
from wit_world.imports.types import PluginError_Failed, PluginError_InvalidInput

tool = Tools()

NOTE_PREFIX = "note:"
INDEX_URI = "notes://index"
# Silent reading speed used for the estimate, in words per minute.
WORDS_PER_MINUTE = 200
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have i in is it its of on or that the this "
    "to was were will with you your not no so if then than we they he she them our us".split()
)
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def stats(text: str, top: int = 5) -> dict:
    """Word, sentence and character counts of ``text``, its reading time and top words."""
    words = [w.lower() for w in WORD.findall(text)]
    sentences = len(SENTENCE_END.findall(text.strip()))
    if text.strip() and not SENTENCE_END.search(text.strip()[-1:] + " "):
        sentences += 1  # a last sentence without its full stop
    counted = Counter(w for w in words if w not in STOP_WORDS and len(w) > 1)
    # Most frequent first, ties alphabetically. (Not `Counter.most_common`: it imports
    # `heapq` lazily, and a component only holds the modules imported while it was built.)
    ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    return {
        "words": len(words),
        "unique_words": len(set(words)),
        "sentences": sentences,
        "characters": len(text),
        "reading_seconds": round(len(words) * 60 / WORDS_PER_MINUTE),
        "top_words": [{"word": w, "count": n} for w, n in ranked[: max(top, 0)]],
    }


def slug(title: str) -> str:
    """The key part of a note's title: lowercase words joined by `-`."""
    key = "-".join(w.lower() for w in WORD.findall(title))
    if not key:
        raise ToolError("`title` must contain a letter or a digit")
    return key[:120]


def load(key: str) -> dict | None:
    """The note stored under ``key`` (a full kv key), or None."""
    value = kv.get(key)
    return json.loads(value) if value is not None else None


def all_notes() -> List[dict]:
    """Every saved note, newest first (by title within the same second)."""
    notes = [n for n in (load(k) for k in kv.list_keys(NOTE_PREFIX)) if n is not None]
    notes.sort(key=lambda n: n["title"].lower())
    notes.sort(key=lambda n: n["updated"], reverse=True)  # stable: keeps the title order
    return notes


def plural(count: int, noun: str) -> str:
    """`1 word`, `2 words`."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def summary(note: dict) -> dict:
    """What a listing shows of a note."""
    return {
        "title": note["title"],
        "slug": note["slug"],
        "tags": note["tags"],
        "words": stats(note["text"], 0)["words"],
        "updated": note["updated"],
    }


@tool
def save_note(
    title: Annotated[str, "Title of the note; saving under an existing title replaces that note"],
    text: Annotated[str, "The note's text"],
    tags: Annotated[List[str], "Labels to find the note by, e.g. `work`"] = [],
) -> dict:
    """Saves a note in the plugin's persistent store (replacing a note with the same
    title) and returns its statistics: words, sentences, reading time and top words.

    The store is the host's key-value store, so notes survive restarts.
    """
    if not title.strip():
        raise ToolError("`title` must not be empty")
    key = slug(title)
    note = {
        "title": title.strip(),
        "slug": key,
        "text": text,
        "tags": sorted({t.strip().lower() for t in tags if t.strip()}),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    replaced = kv.get(NOTE_PREFIX + key) is not None
    kv.set(NOTE_PREFIX + key, json.dumps(note))
    return {"saved": summary(note), "replaced": replaced, "stats": stats(text)}


@tool
def find_notes(
    query: Annotated[str, "Text the title or body must contain (any letter case); empty matches all"] = "",
    tag: Annotated[str | None, "Only notes carrying this tag"] = None,
) -> dict:
    """Lists saved notes whose title or text contains `query` (any letter case),
    optionally only those carrying `tag`, newest first."""
    needle = query.strip().lower()
    wanted = tag.strip().lower() if tag else None
    found = [
        summary(n)
        for n in all_notes()
        if (not needle or needle in n["title"].lower() or needle in n["text"].lower())
        and (wanted is None or wanted in n["tags"])
    ]
    return {"notes": found, "total": len(found)}


@tool
def read_note(title: Annotated[str, "Title of the note (letter case and punctuation do not matter)"]) -> dict:
    """Returns a saved note: its title, text, tags and when it was last saved."""
    note = load(NOTE_PREFIX + slug(title))
    if note is None:
        raise ToolError(f"no note titled `{title}`: find_notes lists the saved ones")
    return note


@tool
def delete_note(title: Annotated[str, "Title of the note to delete"]) -> dict:
    """Deletes a saved note and says whether it existed."""
    return {"deleted": kv.delete(NOTE_PREFIX + slug(title)), "title": title}


@tool
def text_stats(
    text: Annotated[str, "The text to measure"],
    top: Annotated[int, "How many of the most frequent words to list (stop words left out)"] = 5,
) -> dict:
    """Counts the words, unique words, sentences and characters of a text, estimates its
    reading time at 200 words a minute and lists its most frequent words."""
    return stats(text, top)


def sentence(name: str, result: dict) -> str:
    """A one-line text rendering of a tool's result, for clients that only show text."""
    if name == "save_note":
        s = result["stats"]
        verb = "Replaced" if result["replaced"] else "Saved"
        counts = f"{plural(s['words'], 'word')}, {plural(s['sentences'], 'sentence')}"
        return f"{verb} note \"{result['saved']['title']}\": {counts}."
    if name == "find_notes":
        titles = ", ".join(f"\"{n['title']}\"" for n in result["notes"])
        return f"{plural(result['total'], 'note')} found" + (f": {titles}." if titles else ".")
    if name == "read_note":
        return f"{result['title']}\n\n{result['text']}"
    if name == "delete_note":
        return f"Deleted \"{result['title']}\"." if result["deleted"] else f"No note \"{result['title']}\"."
    return (
        f"{plural(result['words'], 'word')}, {plural(result['sentences'], 'sentence')}, "
        f"{plural(result['characters'], 'character')}, about {result['reading_seconds']} s to read."
    )


def invalid(message: str) -> Err:
    """The `invalid-input` plugin error the host answers the caller with."""
    return Err(PluginError_InvalidInput(message))


class Mcp(exports.Mcp):
    """The exported `mcp` interface."""

    def list_tools(self) -> List[Tool]:
        return [Tool(t.name, t.description, json.dumps(t.input_schema)) for t in tool]

    def call_tool(self, name: str, arguments: str) -> list:
        try:
            result = tool.get(name).call(arguments)
        except ToolError as err:
            raise invalid(str(err))
        except Exception as err:
            # A bug is this call's `failed` error, not a trap that loses the message.
            raise Err(PluginError_Failed(f"{name} failed: {type(err).__name__}: {err}"))
        return [Content_Text(sentence(name, result)), Content_Json(json.dumps(result))]

    def list_resources(self) -> List[Resource]:
        return [Resource(INDEX_URI, "Notes", "The titles of every saved note, one per line, newest first", "text/plain")]

    def read_resource(self, uri: str) -> str:
        if uri != INDEX_URI:
            raise invalid(f"unknown resource `{uri}`")
        return "\n".join(n["title"] for n in all_notes())

    def list_prompts(self) -> List[Prompt]:
        return []

    def get_prompt(self, name: str, arguments: str) -> List[PromptMessage]:
        raise invalid(f"unknown prompt `{name}`")
