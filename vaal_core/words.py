"""Counts in messages, with the noun agreeing: `count(1, "image")` is "1 image", `count(2,
"image")` "2 images". One helper, so no message prints "1 files" or "1 classes"."""

from __future__ import annotations

# nouns whose plural is not the singular + "s" (or + "es" after s, x, z, ch, sh)
_IRREGULAR = {
    "entry": "entries",
    "query": "queries",
    "directory": "directories",
    "index": "indices",
}


def plural(noun: str, n: int = 2) -> str:
    """`noun` as `n` of it reads: singular for exactly one, plural otherwise (0 images)."""
    if n == 1:
        return noun
    head, _, last = noun.rpartition(" ")  # "class folder" -> "class folders"
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        word = last[:-1] + "ies"  # strategy -> strategies, not day -> daies
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def count(n: int, noun: str) -> str:
    """`n` and the noun in agreement: "1 image", "3 images", "0 classes", "2 class folders"."""
    return f"{n} {plural(noun, n)}"


def verb(n: int, one: str, many: str) -> str:
    """The verb form agreeing with a count: `verb(1, "does", "do")` is "does"."""
    return one if n == 1 else many
