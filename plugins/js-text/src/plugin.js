// The `js-text` MCP server: text utilities written in JavaScript, built into a
// WebAssembly component with componentize-js (jco) against the Sanctuary WIT world
// `mcp-server` (`sanctuary:plugin@0.2.1`).
//
// The component exports one object per WIT interface it implements: here `mcp`, whose
// methods are the WIT functions in camelCase. A `result<T, plugin-error>` is returned by
// returning `T` and failed by throwing `{ tag: "invalid-input", val: "message" }` (any
// case of the `plugin-error` variant). Imports are ES modules named after the WIT
// interface: `log` from `sanctuary:plugin/host`, `get`/`set` from `sanctuary:plugin/kv`.

import { log } from "sanctuary:plugin/host@0.2.1";
import { get, set } from "sanctuary:plugin/kv@0.2.1";

// The engine (StarlingMonkey) is built without ICU: no Unicode property escapes in
// regular expressions and no `String.prototype.normalize`. Letters are matched as ASCII
// plus the Latin-1 and Latin Extended-A blocks, which covers most Western text.
const LETTER = "A-Za-z0-9\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u017F";
const WORD = new RegExp(`[${LETTER}]+(?:['’-][${LETTER}]+)*`, "g");
const SEPARATOR = new RegExp(`[^${LETTER}]+`);

/** Latin letters with accents and their plain ASCII spelling, for slugs. */
const PLAIN = { à: "a", á: "a", â: "a", ã: "a", ä: "a", å: "a", æ: "ae", ç: "c", è: "e",
  é: "e", ê: "e", ë: "e", ì: "i", í: "i", î: "i", ï: "i", ð: "d", ñ: "n", ò: "o", ó: "o",
  ô: "o", õ: "o", ö: "o", ø: "o", ù: "u", ú: "u", û: "u", ü: "u", ý: "y", ÿ: "y", þ: "th",
  ß: "ss", œ: "oe", š: "s", ž: "z", ł: "l", ń: "n", ś: "s", ź: "z", ż: "z", ą: "a",
  ę: "e", ć: "c", č: "c", ř: "r", ě: "e", ů: "u", ğ: "g", ı: "i", ş: "s" };

/** What a caller did wrong: the host answers it as invalid input (400 over REST). */
function invalid(message) {
  return { tag: "invalid-input", val: message };
}

/** Each tool: its description, the JSON Schema of its arguments, and its function. */
const TOOLS = {
  word_stats: {
    description:
      "Counts the words, sentences and characters of a text and estimates its reading time (200 words a minute).",
    schema: {
      type: "object",
      properties: { text: { type: "string", description: "The text to measure" } },
      required: ["text"],
      additionalProperties: false,
    },
    run({ text }) {
      const words = text.match(WORD) ?? [];
      const trimmed = text.trim();
      let sentences = (trimmed.match(/[.!?]+(?=\s|$)/g) ?? []).length;
      if (trimmed && !/[.!?]$/.test(trimmed)) sentences += 1;
      return {
        words: words.length,
        unique_words: new Set(words.map((w) => w.toLowerCase())).size,
        sentences,
        characters: [...text].length,
        reading_seconds: Math.round((words.length * 60) / 200),
      };
    },
  },
  slugify: {
    description:
      "Turns a title into a URL slug: lowercase ASCII words joined by `-`, accents removed.",
    schema: {
      type: "object",
      properties: {
        text: { type: "string", description: "The title to turn into a slug" },
        max_length: {
          type: "integer",
          minimum: 1,
          maximum: 200,
          description: "Longest slug to return (default 80)",
        },
      },
      required: ["text"],
      additionalProperties: false,
    },
    run({ text, max_length = 80 }) {
      const slug = [...text.toLowerCase()]
        .map((c) => PLAIN[c] ?? c)
        .join("")
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-+|-+$/g, "")
        .slice(0, max_length)
        .replace(/-+$/, "");
      if (!slug) throw invalid("`text` has no letter or digit to make a slug of");
      return slug;
    },
  },
  change_case: {
    description:
      "Rewrites a phrase in a naming case: camel, pascal, snake, kebab, constant or title.",
    schema: {
      type: "object",
      properties: {
        text: { type: "string", description: "The phrase, in any case (e.g. `userId`, `user id`)" },
        case: {
          type: "string",
          enum: ["camel", "pascal", "snake", "kebab", "constant", "title"],
          description: "The case to write it in",
        },
      },
      required: ["text", "case"],
      additionalProperties: false,
    },
    run({ text, case: target }) {
      const words = text
        .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
        .split(SEPARATOR)
        .filter(Boolean)
        .map((w) => w.toLowerCase());
      if (words.length === 0) throw invalid("`text` has no word to rewrite");
      const cap = (w) => w.charAt(0).toUpperCase() + w.slice(1);
      switch (target) {
        case "camel":
          return words[0] + words.slice(1).map(cap).join("");
        case "pascal":
          return words.map(cap).join("");
        case "snake":
          return words.join("_");
        case "kebab":
          return words.join("-");
        case "constant":
          return words.join("_").toUpperCase();
        case "title":
          return words.map(cap).join(" ");
        default:
          throw invalid(`unknown case \`${target}\``);
      }
    },
  },
  count_calls: {
    description:
      "Counts how many times it was called, in the plugin's persistent key-value store, and returns the count.",
    schema: { type: "object", properties: {}, additionalProperties: false },
    run() {
      const count = Number(get("calls") ?? "0") + 1;
      set("calls", String(count));
      return count;
    },
  },
};

/** Renders a tool's answer as MCP content: strings as text, anything else as JSON. */
function content(value) {
  return typeof value === "string"
    ? { tag: "text", val: value }
    : { tag: "json", val: JSON.stringify(value) };
}

export const mcp = {
  listTools() {
    return Object.entries(TOOLS).map(([name, tool]) => ({
      name,
      description: tool.description,
      inputSchema: JSON.stringify(tool.schema),
    }));
  },

  callTool(name, argumentsJson) {
    const tool = TOOLS[name];
    if (!tool) throw invalid(`unknown tool \`${name}\``);
    let args;
    try {
      args = JSON.parse(argumentsJson);
    } catch (e) {
      throw invalid(`arguments are not JSON: ${e.message}`);
    }
    log("debug", `calling ${name}`);
    try {
      return [content(tool.run(args))];
    } catch (e) {
      if (e && typeof e.tag === "string") throw e; // already a plugin-error
      throw { tag: "failed", val: `${name} failed: ${e?.message ?? e}` };
    }
  },

  listResources() {
    return [];
  },

  readResource(uri) {
    throw invalid(`no resource \`${uri}\``);
  },

  listPrompts() {
    return [];
  },

  getPrompt(name) {
    throw invalid(`no prompt \`${name}\``);
  },
};
