"""The magic line: options to MagicArgs, subcommands, braced option values."""

from __future__ import annotations

from argparse import Namespace

from qwen_jupyter.parse import braced_expression, magic_args, split_subcommand


def _ns(**values):
    base = {"prompt": [], "images": None, "videos": None, "audios": None, "format": "markdown"}
    return Namespace(**{**base, **values})


def test_cell_body_is_the_prompt_and_quotes_are_removed():
    args = magic_args(_ns(system="'Be brief.'", model='"qwen-max"', images=["'a b.png'"]), "Hello\n")
    assert (args.prompt, args.system, args.model, args.images) == ("Hello", "Be brief.", "qwen-max", ("a b.png",))


def test_line_form_prompt():
    assert magic_args(_ns(prompt=["What", "is", "2+2?"]), None).prompt == "What is 2+2?"


def test_subcommands_and_prompts_are_told_apart():
    assert split_subcommand("history maths") == ("history", "maths")
    assert split_subcommand("  reset") == ("reset", "")
    assert split_subcommand("-m qwen-max hello") is None
    assert split_subcommand("Explain history") is None


def test_braced_option_values():
    assert braced_expression("{frames[:8]}") == "frames[:8]"
    assert braced_expression("photo.png") is None
