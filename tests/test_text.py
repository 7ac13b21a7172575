"""Text made safe to print (printable) and to approve (visible): one function each, for every surface."""

from __future__ import annotations

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.text import hidden_count, printable, visible


def test_printable_removes_whole_escape_sequences_not_just_the_escape_character():
    text = ("a\x1b]52;c;ZWNobyBwd25lZA==\x07b\x1b]0;title\x1b\\c\x1b[2J\x1b[Hd\x1b]8;;http://evil/\x1b\\link"
            "\x1b]8;;\x1b\\e\x9b31mf\x9d0;t\x07g\x1bPdcs\x1b\\h")
    assert printable(text) == "abcdlinkefgh"
    assert printable("tab\tand\nnewline, ünïcödé ✓") == "tab\tand\nnewline, ünïcödé ✓"
    assert printable("split \x1b") == "split "  # a sequence cut at a chunk's end leaves no escape behind


def test_visible_names_every_character_that_does_not_show_as_itself():
    code = 'access = "user\u202e \u2066# admin\u2069 \u2066"\nif ok:\u200b run()\r# hidden\tend\u00a0!'
    shown = visible(code)
    for name in ("U+202E RIGHT-TO-LEFT OVERRIDE", "U+2066 LEFT-TO-RIGHT ISOLATE", "U+200B ZERO WIDTH SPACE",
                 "U+000D CR", "U+00A0 NO-BREAK SPACE"):
        assert f"⟨{name}⟩" in shown
    assert "\n" in shown and "\t" in shown and "\u202e" not in shown and "\r" not in shown
    assert hidden_count(code) == 7
    assert visible("plain code(1, 'x')\n") == "plain code(1, 'x')\n"


def test_a_servers_error_text_is_one_printable_line():
    error = QwenError("bad\x1b]52;c;aGk=\x07 input\n\nFAKE: all good", code="x\x1b[2J")
    assert str(error) == "x: bad input FAKE: all good" and error.code == "x"


def test_a_tool_line_cut_in_a_terminal_says_how_much_more_there_was():
    import io

    from qwen_jupyter.core.events import ToolOutput, ToolRunning
    from qwen_jupyter.core.text import clipped
    from qwen_jupyter.views.terminal import TerminalView

    assert clipped("abc", 3) == "abc" and clipped("abcdef", 3) == "abc… (3 more characters)"
    out = io.StringIO()
    view = TerminalView(out)
    view.on_event(ToolRunning(0, "describe", '{"name": "df"}'))
    view.on_event(ToolOutput(0, "x" * 400, None, 0.01))
    assert out.getvalue().endswith("x" * 300 + "… (100 more characters)\n")
