"""MCP servers as tools (engine/mcp.py), against real servers: notebooks/mcp_units.py as a stdio subprocess and
over streamable HTTP on a free loopback port, and the emulator for the model."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import qwen_jupyter
from qwen_jupyter.core.errors import QwenError, remember_secret
from qwen_jupyter.core.tools import Tool, ToolFailed
from qwen_jupyter.engine.mcp import McpArgumentsError, McpServers, McpToolError, api_name
from tests.conftest import APIS, KEY

ROOT = pathlib.Path(__file__).resolve().parents[2]
UNITS = str(ROOT / "notebooks" / "mcp_units.py")
TOOLS = ["miles_to_km", "celsius_to_fahrenheit", "convert", "pause"]


def units(pidfile: pathlib.Path, **extra) -> dict:
    """The units server on stdio; it writes its pid to `pidfile` (given through env, so env is seen to arrive)."""
    return {"command": [sys.executable, UNITS], "env": {"MCP_UNITS_PIDFILE": str(pidfile)}, **extra}


def pid_in(pidfile: pathlib.Path) -> int:
    return int(pidfile.read_text())


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def noticed(servers: McpServers, within: float = 10.0) -> bool:
    """Whether the servers' status shows the (only) server stopped, within a few seconds."""
    deadline = time.monotonic() + within
    while servers.status()[0].started:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools}


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text, text
    return text


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One live units server for the tests that only list and call."""
    pidfile = tmp_path_factory.mktemp("mcp") / "units.pid"
    with McpServers({"units": units(pidfile)}) as servers:
        yield servers, pidfile


@pytest.fixture
def http_units():
    """The units server over streamable HTTP on a free port of 127.0.0.1: (url, restart), stopped at the end."""
    processes = []

    def start(port: int = 0) -> str:
        process = subprocess.Popen([sys.executable, UNITS, "--http", "--port", str(port)], stdout=subprocess.PIPE,
                                   text=True)
        processes.append(process)
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"the server printed {url!r}"
        return url

    def stop() -> None:
        for process in processes:
            process.terminate()
            process.wait(10)

    yield start, stop
    stop()


def test_a_servers_tools_are_tools_with_the_servers_schemas(shared):
    servers, _ = shared
    tools = servers.tools(["units"])
    assert [tool.name for tool in tools] == TOOLS and all(isinstance(tool, Tool) for tool in tools)
    spec = by_name(tools)["miles_to_km"].spec
    assert spec["type"] == "function" and spec["function"]["name"] == "miles_to_km"
    assert spec["function"]["description"].startswith("Convert a distance in miles to kilometres.")
    parameters = spec["function"]["parameters"]
    assert parameters["properties"]["miles"]["type"] == "number" and parameters["required"] == ["miles"]
    assert [tool.name for tool in servers.tools("units,units")] == TOOLS  # as --mcp gives them, once each


def test_a_call_runs_on_the_server_with_the_arguments(shared):
    servers, pidfile = shared
    tool = by_name(servers.tools(["units"]))["miles_to_km"]
    assert tool.function(miles=3) == "3 mi = 4.828 km"
    assert tool.run({"miles": 10}) == "10 mi = 16.093 km"  # how the tool rounds call it
    convert = by_name(servers.tools(["units"]))["convert"]
    assert convert.function(value=2, from_unit="lb", to_unit="kg") == "2 lb = 0.907185 kg"
    assert running(pid_in(pidfile))  # the env reached the server, which wrote its pid


def test_arguments_that_do_not_fit_the_schema_are_refused_before_the_call(shared):
    servers, _ = shared
    tool = by_name(servers.tools(["units"]))["miles_to_km"]
    # "3" would do for the server (pydantic reads it as 3.0): refused, so the check is the client's own
    with pytest.raises(McpArgumentsError) as caught:
        tool.function(miles="3")
    assert one_line(caught.value) == ("The arguments do not fit miles_to_km's inputSchema "
                                      "(miles: '3' is not of type 'number').")
    with pytest.raises(McpArgumentsError, match="'miles' is a required property"):
        tool.run({})


def test_an_error_result_is_raised_with_the_servers_message(shared):
    servers, _ = shared
    convert = by_name(servers.tools(["units"]))["convert"]
    with pytest.raises(McpToolError) as caught:
        convert.function(value=3, from_unit="mi", to_unit="parsec")
    assert "cannot convert mi to parsec" in one_line(caught.value)
    # a tool's own failure: the model reads the message as the call's error and the answer goes on
    assert isinstance(caught.value, ToolFailed) and not isinstance(caught.value, QwenError)


def test_an_unknown_server_names_the_configured_ones(shared):
    servers, _ = shared
    with pytest.raises(QwenError) as caught:
        servers.tools(["units", "calc"])
    assert one_line(caught.value) == "No MCP server is called 'calc'; the configured ones are: units."
    with pytest.raises(QwenError) as caught:
        servers.tools("unit")
    assert one_line(caught.value) == "No MCP server is called 'unit' (did you mean 'units'?); the configured ones are: units."
    with pytest.raises(QwenError) as caught:
        McpServers({}).tools("calc")
    assert one_line(caught.value) == ("No MCP server is called 'calc'; the configured ones are: none (set "
                                      "QwenMagics.mcp_servers, or give chat() mcp={'name': {'command': [...]}}).")


def test_a_server_that_does_not_start_says_its_command_exit_status_and_stderr():
    remember_secret(KEY)
    script = f'import sys; print("loading", file=sys.stderr); print("no config for {KEY}", file=sys.stderr); ' \
             'sys.exit(3)'
    with McpServers({"calc": {"command": [sys.executable, "-c", script]},
                     "missing": {"command": ["/no/such/mcp-server", "--stdio"]}}) as servers:
        with pytest.raises(QwenError) as caught:
            servers.tools(["calc"])
        said = one_line(caught.value)
        assert caught.value.code == "McpStart" and said.startswith(f"McpStart: The MCP server calc ({sys.executable} -c ")
        assert "did not start: it exited (exit status 3); its stderr ended: loading | no config for sk-***." in said
        assert KEY not in said
        with pytest.raises(QwenError) as caught:
            servers.tools("missing")
        assert one_line(caught.value) == ("McpStart: The MCP server missing (/no/such/mcp-server --stdio) did not "
                                          "start: it could not be run (No such file or directory).")


def test_a_server_that_does_not_answer_in_time_did_not_start():
    script = 'import sys, time; print("waiting for a licence server", file=sys.stderr, flush=True); time.sleep(60)'
    with McpServers({"slow": {"command": [sys.executable, "-c", script]}}, start_timeout=1) as servers:
        started = time.monotonic()
        with pytest.raises(QwenError) as caught:
            servers.tools("slow")
    assert time.monotonic() - started < 10
    assert one_line(caught.value).endswith(" did not start: it did not answer within 1 s; its stderr ended: waiting "
                                           "for a licence server.")


def test_a_call_that_takes_too_long_times_out_and_the_server_goes_on(tmp_path):
    with McpServers({"units": units(tmp_path / "pid", timeout=0.5)}) as servers:
        tools = by_name(servers.tools("units"))
        started = time.monotonic()
        with pytest.raises(QwenError) as caught:
            tools["pause"].function(seconds=30)
        assert time.monotonic() - started < 5
        assert caught.value.code == "McpTimeout" and one_line(caught.value).startswith(
            "McpTimeout: The MCP server units did not finish pause within 0.5 s; the call was cancelled.")
        pid = pid_in(tmp_path / "pid")
        assert tools["pause"].function(seconds=0.1) == "waited 0.1 s" and pid_in(tmp_path / "pid") == pid


def test_a_server_that_dies_is_said_once_then_the_next_use_restarts_it(tmp_path):
    pidfile = tmp_path / "pid"
    with McpServers({"units": units(pidfile)}) as servers:
        miles = by_name(servers.tools("units"))["miles_to_km"]
        first = pid_in(pidfile)
        os.kill(first, signal.SIGKILL)
        assert gone(first) and noticed(servers)  # died between uses: the next one says so, whatever it is
        with pytest.raises(QwenError) as caught:
            miles.function(miles=1)
        assert one_line(caught.value) == ("McpDied: The MCP server units died (killed by SIGKILL); the next use "
                                          "starts it again.")
        assert miles.function(miles=1) == "1 mi = 1.609 km"
        second = pid_in(pidfile)
        assert second != first and running(second)
        # dying in the middle of a call: that call says so
        pause = by_name(servers.tools("units"))["pause"]
        threading.Timer(0.5, os.kill, (second, signal.SIGKILL)).start()
        with pytest.raises(QwenError, match="^McpDied: The MCP server units died .killed by SIGKILL. during pause;"):
            pause.function(seconds=30)
        assert miles.function(miles=2) == "2 mi = 3.219 km" and pid_in(pidfile) not in (first, second)


def test_close_stops_the_server_process_and_configure_stops_a_changed_one(tmp_path):
    servers = McpServers({"units": units(tmp_path / "a"), "other": units(tmp_path / "b")})
    servers.tools(["units", "other"], prefix=True)
    units_pid, other_pid = pid_in(tmp_path / "a"), pid_in(tmp_path / "b")
    servers.configure({"units": units(tmp_path / "a"), "other": units(tmp_path / "c")})
    assert gone(other_pid) and running(units_pid)  # only the changed one stopped
    servers.close()
    assert gone(units_pid)


def test_the_servers_stop_when_the_process_exits(tmp_path):
    # a server that outlives its stdin (it waits a minute after EOF): only the exit's own stop ends it in time
    stubborn = f"import runpy, time\ntry:\n    runpy.run_path({UNITS!r}, run_name='__main__')\nfinally:\n" \
               "    time.sleep(60)"
    script = textwrap.dedent(f"""
        import sys
        from qwen_jupyter.engine.mcp import McpServers
        servers = McpServers({{"units": {{"command": [sys.executable, "-c", {stubborn!r}],
                                          "env": {{"MCP_UNITS_PIDFILE": {str(tmp_path / "pid")!r}}}}}}})
        print(servers.tools("units")[0].function(miles=3), flush=True)
    """)  # no close()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout == "3 mi = 4.828 km\n", done.stderr
    assert gone(pid_in(tmp_path / "pid"), within=5)


def test_the_same_tool_name_from_two_servers_needs_the_prefix(tmp_path):
    with McpServers({"units": units(tmp_path / "a"), "more": units(tmp_path / "b")}) as servers:
        with pytest.raises(QwenError) as caught:
            servers.tools(["units", "more"])
        assert one_line(caught.value) == (
            "InvalidTool: Two MCP tools would be called miles_to_km: units's miles_to_km and more's miles_to_km; "
            "tool names must differ. Offer them prefixed with their server's name (prefix=True).")
        tools = by_name(servers.tools(["units", "more"], prefix=True))
        assert list(tools) == [f"{server}_{name}" for server in ("units", "more") for name in TOOLS]
        assert tools["more_convert"].function(value=1, from_unit="km", to_unit="m") == "1 km = 1000 m"
        assert tools["units_miles_to_km"].spec["function"]["name"] == "units_miles_to_km"
        assert pid_in(tmp_path / "a") != pid_in(tmp_path / "b")


def test_names_the_api_does_not_take_get_a_safe_form():
    assert api_name("miles_to_km") == "miles_to_km" and api_name("get-Time2") == "get-Time2"
    assert api_name("files/read.v2") == "files_read_v2" and api_name("héllo wörld") == "h_llo_w_rld"
    long = api_name("x" * 80)
    assert len(long) == 64 and long.startswith("x" * 55 + "_") and long != api_name("x" * 81)
    assert api_name("y" * 64) == "y" * 64


def test_a_server_over_streamable_http(http_units):
    start, stop = http_units
    url = start()
    with McpServers({"web": {"url": url}}) as servers:
        tools = by_name(servers.tools("web"))
        assert list(tools) == TOOLS and tools["miles_to_km"].function(miles=3) == "3 mi = 4.828 km"
        with pytest.raises(McpToolError, match="cannot convert g to km"):
            tools["convert"].function(value=1, from_unit="g", to_unit="km")
        assert f"web: {url} (started)" in servers.listing()
        stop()
        with pytest.raises(QwenError) as caught:
            tools["miles_to_km"].function(miles=3)
        said = one_line(caught.value)
        assert said.startswith("McpDied: The MCP server web stopped answering") and said.endswith(
            "; the next use starts it again."), said
        start(int(url.split(":")[-1].split("/")[0]))  # back on the same port: the next use reconnects
        assert tools["miles_to_km"].function(miles=4) == "4 mi = 6.437 km"


def test_a_url_that_does_not_answer_is_one_line():
    with McpServers({"docs": {"url": "http://127.0.0.1:9/mcp"}}) as servers, pytest.raises(QwenError) as caught:
        servers.tools("docs")
    assert one_line(caught.value).startswith("McpStart: The MCP server docs (at http://127.0.0.1:9/mcp) did not "
                                             "start: ConnectError")


def test_the_listing_shows_each_server_and_its_tools(tmp_path):
    script = 'import sys; print("bad config", file=sys.stderr); sys.exit(2)'
    with McpServers({"units": units(tmp_path / "pid"), "broken": {"command": [sys.executable, "-c", script]},
                     "docs": {"url": "http://127.0.0.1:9/mcp"}}) as servers:
        assert servers.listing(start=False).splitlines() == [
            f"units: {sys.executable} {UNITS} (not started: it starts on first use)",
            f"broken: {sys.executable} -c '{script}' (not started: it starts on first use)",
            "docs: http://127.0.0.1:9/mcp (not started: it starts on first use)",
        ]
        lines = servers.listing().splitlines()
    assert lines[0] == f"units: {sys.executable} {UNITS} (started, pid {pid_in(tmp_path / 'pid')})"
    assert lines[1:5] == [
        "  miles_to_km            Convert a distance in miles to kilometres.",
        "  celsius_to_fahrenheit  Convert a temperature in degrees Celsius to degrees Fahrenheit.",
        "  convert                Convert a length or a mass between units (mm, cm, m, km, in, ft, yd, mi; g, kg, "
        "t, oz, lb).",
        "  pause                  Wait a number of seconds, then say so (to try a client's timeout).",
    ]
    assert lines[5] == (f"broken: {sys.executable} -c '{script}' (did not start: it exited (exit status 2); its "
                        "stderr ended: bad config)")
    assert lines[6].startswith("docs: http://127.0.0.1:9/mcp (did not start: ConnectError") and len(lines) == 7
    assert McpServers().listing().startswith("No MCP servers are configured: %config QwenMagics.mcp_servers")


@pytest.mark.parametrize("config, said", [
    ({"calc": ["python", "calc.py"]}, 'MCP server calc: give {"command": [...], "env": {...}} or {"url": "http://…"}, '
                                      "not list."),
    ({"calc": {"command": "python calc.py"}}, 'MCP server calc: "command" must be a list of strings, the program '
                                               'first: ["python", "server.py"].'),
    ({"calc": {"command": ["x"], "url": "http://a"}}, 'MCP server calc: give either "command" (a list: the program '
                                                       'and its arguments) or "url".'),
    ({"calc": {"command": ["x"], "cwd": "/"}}, "MCP server calc: unknown key 'cwd'; the keys are command, env, "
                                               "timeout."),
    ({"docs": {"url": "http://a", "env": {}}}, "MCP server docs: unknown key 'env'; the keys are url, timeout."),
    ({"calc": {"command": ["x"], "env": {"N": 1}}}, 'MCP server calc: "env" must be a dict of strings: '
                                                     '{"NAME": "value"}.'),
    ({"docs": {"url": "ftp://a"}}, 'MCP server docs: "url" must be an http:// or https:// address.'),
    ({"calc": {"command": ["x"], "timeout": 0}}, 'MCP server calc: "timeout" must be a number of seconds above 0.'),
    ({"my calc": {"command": ["x"]}}, "The MCP server name 'my calc' must be letters, digits, _ and - (it is what "
                                      "--mcp names)."),
])
def test_a_bad_configuration_is_one_line(config, said):
    with pytest.raises(QwenError) as caught:
        McpServers(config)
    assert one_line(caught.value) == said


def test_without_the_sdk_the_error_names_the_extra():
    script = textwrap.dedent("""
        import sys
        sys.modules["mcp"] = None  # as if it were not installed: importing it raises ImportError
        from qwen_jupyter.core.errors import QwenError
        from qwen_jupyter.engine.mcp import McpServers
        servers = McpServers({"units": {"command": ["python", "x.py"]}})  # configuring needs no SDK
        try:
            servers.tools("units")
        except QwenError as error:
            print(error)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout == "MCP servers need the mcp package: pip install 'qwen-jupyter[mcp]'.\n", done.stderr


@pytest.mark.parametrize("api", APIS)
def test_the_model_calls_a_tool_that_runs_on_the_server(api, shared, connect):
    servers, _ = shared
    result = qwen_jupyter.chat("Convert 3 miles to km", tools=servers.tools(["units"]), **connect(api))
    assert result.error is None, result.error
    (call,) = result.tool_calls
    assert call.name == "miles_to_km" and call.arguments == {"miles": 3} and call.ran and call.error is None
    assert call.output == "3 mi = 4.828 km"  # written by the server process, nowhere else
    assert "4.828 km" in result.text


def test_an_error_result_goes_back_to_the_model_as_the_calls_error(shared, connect, emu):
    servers, _ = shared
    result = qwen_jupyter.chat('Use convert on 3 "mi" "parsec"', tools=servers.tools(["units"]), **connect())
    assert result.error is None, result.error
    (call,) = result.tool_calls
    assert call.arguments == {"value": 3, "from_unit": "mi", "to_unit": "parsec"} and call.output is None
    assert call.error.startswith("Error executing tool convert: cannot convert mi to parsec")
    sent = [m for m in emu.state.received[-1]["body"]["messages"] if m["role"] == "tool"]
    assert sent[0]["content"] == "Error: " + call.error  # the server's words, no Python type name before them


def test_a_call_that_does_not_fit_the_schema_is_never_put_to_the_person(shared, connect):
    servers, _ = shared
    asked = []
    result = qwen_jupyter.chat('{"miles": "3", "why": "miles_to_km"}', tools=servers.tools(["units"]),
                               confirm=lambda name, arguments: asked.append(name) or True,
                               **connect(model="qwen-plus~echo-args"))
    (call,) = result.tool_calls
    assert asked == [] and call.approved is None and call.output is None
    assert call.error == "The arguments do not fit miles_to_km's inputSchema (miles: '3' is not of type 'number')."


def test_a_dead_server_ends_the_answer_in_one_line(tmp_path, connect):
    with McpServers({"units": units(tmp_path / "pid")}) as servers:
        tools = servers.tools(["units"])
        os.kill(pid_in(tmp_path / "pid"), signal.SIGKILL)
        assert noticed(servers)
        result = qwen_jupyter.chat("Convert 3 miles to km", tools=tools, **connect())
        assert result.error.code == "McpDied" and one_line(result.error) == (
            "McpDied: The MCP server units died (killed by SIGKILL); the next use starts it again.")
        again = qwen_jupyter.chat("Convert 3 miles to km", tools=tools, **connect())
        assert again.error is None and again.tool_calls[0].output == "3 mi = 4.828 km"


@pytest.fixture
def notebook_servers(tmp_path):
    """The notebook's mcp_servers setting naming the units server, as a loaded extension's %config gives it."""
    from qwen_jupyter.core.settings import configure_from
    from qwen_jupyter.engine import notebook_mcp

    configure_from(lambda: {"mcp_servers": {"units": units(tmp_path / "units.pid")}})
    yield tmp_path / "units.pid"
    configure_from(None)
    notebook_mcp.servers().close()


def test_the_panels_tool_picker_offers_the_servers_and_a_chosen_one_answers(notebook_servers, emu):
    from qwen_jupyter.core.settings import Settings
    from qwen_jupyter.state.session import Session
    from qwen_jupyter.state.store import Store
    from tests.test_panel import RecordingPanel

    panel = RecordingPanel(Session("panel-mcp.ipynb", Store(":memory:")),
                           lambda: Settings(base_url=emu.url, api_key=KEY), namespace={})
    panel._on_message(panel, {"type": "tools"}, [])  # the picker opened
    assert panel.tool_names == ["mcp:units"] and not notebook_servers.exists()  # offered, not started
    panel.tools = ["mcp:units"]
    result = panel.ask("Convert 3 miles to km")
    panel.wait(30)
    assert result.tool_calls[0].output == "3 mi = 4.828 km" and "4.828 km" in panel.turns[-1]["tools_html"]
    assert running(pid_in(notebook_servers))


def test_a_changed_setting_restarts_the_server_at_the_next_use(notebook_servers, tmp_path):
    from qwen_jupyter.core.settings import configure_from
    from qwen_jupyter.engine import notebook_mcp

    assert [t.name for t in notebook_mcp.tools("units")] == TOOLS
    first = pid_in(notebook_servers)
    configure_from(lambda: {"mcp_servers": {"units": units(tmp_path / "other.pid")}})
    assert [t.name for t in notebook_mcp.tools(["units"])] == TOOLS
    assert gone(first) and running(pid_in(tmp_path / "other.pid"))
