"""MCP servers from a real kernel: QwenMagics.mcp_servers names them, `%%qwen --mcp` offers their tools (run on
the server process, shown and confirmed like the notebook's own functions), `%qwen mcp` lists them, chat(mcp=…)
asks the same servers, a script names its own, and the servers stop with the kernel."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from ..conftest import KEY
from ..tools.test_mcp import UNITS, gone, running
from .conftest import start_kernel
from .test_magic_in_kernel import _failure

pytestmark = pytest.mark.e2e


def _configure(kernel, pidfile) -> None:
    config = {"units": {"command": [sys.executable, UNITS], "env": {"MCP_UNITS_PIDFILE": str(pidfile)}}}
    setup = kernel.execute(f"%config QwenMagics.mcp_servers = {config!r}")
    assert setup.reply["content"]["status"] == "ok", setup.stderr


def _calls(kernel) -> list[dict]:
    run = kernel.execute("import json\nprint(json.dumps([{'name': c.name, 'arguments': c.arguments, 'output': "
                         "c.output, 'error': c.error, 'approved': c.approved} for c in _qwen.tool_calls]))")
    return json.loads(run.stdout)


@pytest.fixture
def units_kernel(emulator, tmp_path):
    kernel = start_kernel(emulator, tmp_path)
    _configure(kernel, tmp_path / "units.pid")
    yield kernel
    kernel.shutdown()


def test_mcp_offers_the_servers_tools_which_run_on_the_server(units_kernel, tmp_path, emu):
    run = units_kernel.execute("%%qwen --mcp units\nConvert 3 miles to km")
    assert run.reply["content"]["status"] == "ok", run.stderr
    (call,) = _calls(units_kernel)
    assert call["name"] == "miles_to_km" and call["arguments"] == {"miles": 3}
    assert call["output"] == "3 mi = 4.828 km" and call["error"] is None
    assert running(int((tmp_path / "units.pid").read_text()))  # its own process, started on first use
    offered = {tool["function"]["name"] for tool in emu.received[-1]["body"]["tools"]}
    assert offered == {"miles_to_km", "celsius_to_fahrenheit", "convert", "pause"}
    assert "miles_to_km" in run.final["text/html"] and "4.828 km" in run.final["text/html"]


def test_confirm_asks_before_an_mcp_call_and_no_sends_the_refusal(units_kernel, emu):
    run = units_kernel.execute("%%qwen --mcp units --confirm\nConvert 3 miles to km", answers=["n"])
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert run.prompts == ["Run miles_to_km? [y/N] "]
    assert "The model asks to run:\nmiles_to_km(\n    miles=3.0,\n)" in run.stdout  # shown before the question
    (call,) = _calls(units_kernel)
    assert call["approved"] is False and call["output"] is None
    assert emu.received[-1]["body"]["messages"][-1]["content"] == "Error: The person declined this call."


def test_the_listing_names_each_server_its_process_and_tools(units_kernel, tmp_path):
    listing = units_kernel.execute("%qwen mcp")
    assert listing.reply["content"]["status"] == "ok", listing.stderr
    pid = int((tmp_path / "units.pid").read_text())
    first, *tools = listing.stdout.splitlines()
    assert first == f"units: {sys.executable} {UNITS} (started, pid {pid})"
    assert [line.split()[0] for line in tools] == ["miles_to_km", "celsius_to_fahrenheit", "convert", "pause"]
    assert "Convert a distance in miles to kilometres." in tools[0]


def test_chat_asks_the_notebooks_servers_with_a_prefix(units_kernel):
    run = units_kernel.execute("import qwen_jupyter\nr = qwen_jupyter.chat('Convert 3 miles to km', mcp='units', "
                               "mcp_prefix=True)\nprint([(c.name, c.output) for c in r.tool_calls])")
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert run.stdout.strip() == "[('units_miles_to_km', '3 mi = 4.828 km')]"


@pytest.mark.parametrize("line", ["%%qwen --mcp nosuch\nConvert 3 miles", "%qwen mcp nosuch"])
def test_a_wrong_server_is_one_line(units_kernel, line):
    said = _failure(units_kernel.execute(line))
    assert "No MCP server is called 'nosuch'; the configured ones are: units." in said


def test_a_prefix_without_servers_is_a_usage_line(units_kernel):
    run = units_kernel.execute("%%qwen --mcp-prefix\nConvert 3 miles")
    assert run.reply["content"]["status"] == "error"
    assert run.stderr.strip() == "UsageError: --mcp-prefix goes with --mcp: add it, or leave --mcp-prefix out " \
                                 "(nothing was sent)."


def test_a_bad_configuration_is_refused_when_set_and_the_old_one_stays(units_kernel):
    run = units_kernel.execute("%config QwenMagics.mcp_servers = {'calc': {'command': 'python calc.py'}}")
    assert 'MCP server calc: "command" must be a list of strings' in run.stderr + run.stdout
    assert "Traceback" not in run.stdout
    assert units_kernel.execute("%qwen mcp").stdout.startswith("units: ")


def test_a_server_that_does_not_start_ends_the_cell_in_one_line(module_kernel):
    setup = module_kernel.execute(f"%config QwenMagics.mcp_servers = {{'broken': {{'command': [{sys.executable!r}, "
                                  "'-c', 'import sys; sys.stderr.write(\"no such module\"); sys.exit(3)']}}")
    assert setup.reply["content"]["status"] == "ok", setup.stderr
    said = _failure(module_kernel.execute("%%qwen --mcp broken\nConvert 3 miles to km"))
    assert "The MCP server broken (" in said and "did not start: it exited (exit status 3)" in said
    assert said.endswith("its stderr ended: no such module.")
    module_kernel.execute("%config QwenMagics.mcp_servers = {}")


def test_the_servers_stop_with_the_kernel(emulator, tmp_path):
    kernel = start_kernel(emulator, tmp_path)
    _configure(kernel, tmp_path / "units.pid")
    assert kernel.execute("%qwen mcp").reply["content"]["status"] == "ok"
    pid = int((tmp_path / "units.pid").read_text())
    assert running(pid)
    kernel.shutdown()
    assert gone(pid)


def test_a_script_names_its_own_servers(emulator, tmp_path):
    script = tmp_path / "convert.py"
    script.write_text(
        "import sys\nimport qwen_jupyter\n"
        f"servers = {{'units': {{'command': [sys.executable, {UNITS!r}]}}}}\n"
        "result = qwen_jupyter.chat('Convert 3 miles to km', mcp=servers)\n"
        "print(result.text)\n"
        "again = qwen_jupyter.chat('Convert 10 miles to km', mcp=['units'])\n"  # named once, kept
        "print(again.tool_calls[0].output)\n")
    env = {"PATH": "/usr/bin:/bin", "DASHSCOPE_API_KEY": KEY, "QWEN_JUPYTER_BASE_URL": emulator.url,
           "QWEN_JUPYTER_DB": str(tmp_path / "qwen.db"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4.828 km" in done.stdout and re.search(r"^10 mi = 16\.093 km$", done.stdout, re.M)
