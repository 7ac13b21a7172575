"""Text a model or a server wrote, made safe to print or to approve: one place for every terminal and prompt.

printable() is for reading: terminal escape sequences (OSC 52 writes the clipboard, OSC 0 the title, OSC 8 makes
a link that lies, CSI 2J clears the screen) are removed whole, and other control characters dropped, so nothing
printed can act on the terminal or on nbconvert's and papermill's console. visible() is for approving what will
run: every character that does not show as itself (controls, zero-width and bidirectional marks, unusual spaces,
variation selectors and Hangul fillers, which Python takes inside a name) is written as its code point, and a lone
CR, where Python ends a line, ends the line shown too, so code cannot read one way and run another.
"""

from __future__ import annotations

import re
import unicodedata

# ESC-introduced sequences (CSI, OSC up to BEL or ST, DCS/SOS/PM/APC up to ST, two-character escapes) and their
# single-byte C1 forms (CSI 0x9b, OSC 0x9d, …).
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
_CONTROLS = dict.fromkeys([*range(0, 9), *range(11, 32), 127, *range(128, 160)])  # not \t or \n
_SHOWN_AS_ITSELF = {"\n", "\t", " "}
_NAMES = {"\r": "CR", "\x1b": "ESC", "\x00": "NUL", "\u200b": "ZERO WIDTH SPACE", "\u202e": "RIGHT-TO-LEFT OVERRIDE",
          "\u202d": "LEFT-TO-RIGHT OVERRIDE", "\u2066": "LEFT-TO-RIGHT ISOLATE", "\u2067": "RIGHT-TO-LEFT ISOLATE",
          "\u2068": "FIRST STRONG ISOLATE", "\u2069": "POP DIRECTIONAL ISOLATE", "\u200e": "LEFT-TO-RIGHT MARK",
          "\u200f": "RIGHT-TO-LEFT MARK", "\u200d": "ZERO WIDTH JOINER", "\u200c": "ZERO WIDTH NON-JOINER",
          "\ufeff": "ZERO WIDTH NO-BREAK SPACE", "\u00a0": "NO-BREAK SPACE", "\u00ad": "SOFT HYPHEN"}
# Invisible characters outside the C and Z categories: Unicode's default-ignorable marks and letters (variation
# selectors, the combining grapheme joiner, Hangul and Khmer fillers; `scratch\ufe00` and `scratch` are two Python
# names that look the same, and `\u3164` alone is a name that looks like a space), and the blank Braille cell.
_INVISIBLE = re.compile(r"[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
                        r"\U000e0100-\U000e01ef]")


def printable(text: str) -> str:
    """Text for a terminal, a log or a text/plain output: escape sequences and control characters removed."""
    if not text:
        return text
    return _SEQUENCE.sub("", text).translate(_CONTROLS)


def _hidden(char: str) -> bool:
    """Whether a character does not show as itself: controls, formats (zero-width, bidi), odd spaces, private or
    unassigned code points."""
    if char in _SHOWN_AS_ITSELF:
        return False
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zs", "Zl", "Zp") or bool(_INVISIBLE.match(char))


def visible(text: str) -> str:
    """Text for an approval: every character that would not show as itself is written as ⟨U+XXXX NAME⟩, and a
    lone CR also ends the line shown (Python ends the line there: what follows is not part of a comment)."""
    out = []
    for position, char in enumerate(text):
        if char == "\r" and not text.startswith("\n", position + 1):
            out.append("⟨U+000D CR⟩\n")  # as a CR LF shows: for Python both end the line
        elif _hidden(char):
            name = _NAMES.get(char) or unicodedata.name(char, "")
            out.append(f"⟨U+{ord(char):04X}{' ' + name if name else ''}⟩")
        else:
            out.append(char)
    return "".join(out)


def hidden_count(text: str) -> int:
    """How many characters of `text` visible() writes out (an approval says so above the code)."""
    return sum(1 for char in text if _hidden(char))


def clipped(text: str, limit: int) -> str:
    """The text cut at `limit` characters, saying how many more there were."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters)"
