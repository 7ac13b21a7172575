"""The magic line: options to MagicArgs, subcommands, braced option values."""

from __future__ import annotations

from argparse import Namespace

import pytest
from IPython.core.error import UsageError

from qwen_jupyter.magic.commands import COMMANDS, find, help_text
from qwen_jupyter.magic.parse import braced_expression, magic_args


def _ns(**values):
    base = {"prompt": [], "images": None, "videos": None, "audios": None, "format": "markdown"}
    return Namespace(**{**base, **values})


def test_cell_body_is_the_prompt_and_quotes_are_removed():
    args = magic_args(_ns(system="'Be brief.'", model='"qwen-max"', images=["'a b.png'"]), "Hello\n")
    assert (args.prompt, args.system, args.model, args.images) == ("Hello", "Be brief.", "qwen-max", ("a b.png",))


def test_line_form_prompt():
    assert magic_args(_ns(prompt=["What", "is", "2+2?"]), None).prompt == "What is 2+2?"


def test_commands_and_prompts_are_told_apart():
    assert find("history maths") == (COMMANDS["history"], "maths")
    assert find("  reset") == (COMMANDS["reset"], "")
    assert find("-m qwen-max hello") is None
    assert find("Explain history") is None
    assert find("hello") is None  # a one-word prompt that is no command's near miss


@pytest.mark.parametrize("typo", ["histroy", "chat", "reste", "Usage?"])
def test_a_mistyped_command_is_a_usage_error_not_a_prompt(typo):
    with pytest.raises(UsageError, match="did you mean %qwen"):
        find(typo)


def test_help_lists_every_command_of_the_registry_and_the_interpolation_rule():
    text = help_text("OPTIONS")
    assert all(command.usage in text for command in COMMANDS.values())
    assert "{{ and }} write a single brace" in text


def test_braced_option_values():
    assert braced_expression("{frames[:8]}") == "frames[:8]"
    assert braced_expression("photo.png") is None


def test_every_declared_option_reaches_magic_args():
    """Options are declared once (magic/options.py): each one the parser takes lands in its MagicArgs field."""
    from qwen_jupyter.magic.magics import QwenMagics
    from qwen_jupyter.magic.options import OPTIONS, MagicArgs

    parser = QwenMagics.qwen.parser
    defaults = MagicArgs(prompt="")
    for option in OPTIONS:
        action = option.how.get("action")
        value = None if action in ("store_true", "store_const") else (option.how.get("choices") or [
            "7" if option.how.get("type") in (int, float) or option.name == "logprobs" else "v7"])[-1]
        words = [option.flags[-1]] + ([] if value is None else [str(value)]) + ["hello"]
        args = magic_args(parser.parse_args(words), None, " ".join(words))
        assert getattr(args, option.name) != getattr(defaults, option.name), option.flags
    assert {o.name for o in OPTIONS} == set(MagicArgs.__dataclass_fields__) - {"prompt"}
