"""A small MCP server: unit conversions, for the notebook agent's demo and the MCP tests.

    python notebooks/mcp_units.py                      # stdio, as QwenMagics.mcp_servers starts it
    python notebooks/mcp_units.py --http [--port 0]    # streamable HTTP on 127.0.0.1; prints its URL first

In a notebook: `%config QwenMagics.mcp_servers = {"units": {"command": ["python", "mcp_units.py"]}}`, then
`%%qwen --mcp units` offers its tools. Needs the SDK: pip install 'qwen-jupyter[mcp]'.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("units", instructions="Converts lengths, masses and temperatures.", log_level="WARNING")

# Metres, kilograms: every unit as a multiple of its dimension's base unit.
LENGTH = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "yd": 0.9144,
          "mi": 1609.344}
MASS = {"g": 0.001, "kg": 1.0, "t": 1000.0, "oz": 0.028349523125, "lb": 0.45359237}


@server.tool()
def miles_to_km(miles: float) -> str:
    """Convert a distance in miles to kilometres.

    Args:
        miles: The distance in miles.
    """
    return f"{miles:g} mi = {miles * LENGTH['mi'] / 1000:.3f} km"


@server.tool()
def celsius_to_fahrenheit(celsius: float) -> str:
    """Convert a temperature in degrees Celsius to degrees Fahrenheit.

    Args:
        celsius: The temperature in degrees Celsius.
    """
    return f"{celsius:g} °C = {celsius * 9 / 5 + 32:.1f} °F"


@server.tool()
def convert(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a length or a mass between units (mm, cm, m, km, in, ft, yd, mi; g, kg, t, oz, lb).

    Args:
        value: The amount to convert.
        from_unit: The unit it is in.
        to_unit: The unit wanted.
    """
    for table in (LENGTH, MASS):
        if from_unit in table and to_unit in table:
            return f"{value:g} {from_unit} = {value * table[from_unit] / table[to_unit]:.6g} {to_unit}"
    known = ", ".join([*LENGTH, *MASS])
    # ToolError: the client gets isError with this message (any other exception reaches it only as its name).
    raise ToolError(f"cannot convert {from_unit} to {to_unit}; the units are {known}, a length to a length or "
                    "a mass to a mass")


@server.tool()
async def pause(seconds: float) -> str:
    """Wait a number of seconds, then say so (to try a client's timeout).

    Args:
        seconds: How long to wait.
    """
    await asyncio.sleep(seconds)
    return f"waited {seconds:g} s"


def serve_http(host: str, port: int) -> None:
    """Serve over streamable HTTP on a socket bound here (port 0: a free one), printing the URL first."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on the same port, for the tests
    sock.bind((host, port))
    sock.listen()  # before the URL is printed: a client that connects at once waits in the backlog, not refused
    print(f"http://{host}:{sock.getsockname()[1]}/mcp", flush=True)
    config = uvicorn.Config(server.streamable_http_app(host=host), log_level="warning")
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def main() -> None:
    """Run the server on stdio, or on HTTP with --http."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (the URL is printed)")
    options = parser.parse_args()
    pidfile = os.environ.get("MCP_UNITS_PIDFILE")  # the tests learn which process to stop, and see env arrive
    if pidfile:
        with open(pidfile, "w", encoding="utf-8") as out:
            out.write(str(os.getpid()))
    if options.http:
        serve_http(options.host, options.port)
    else:
        server.run("stdio")


if __name__ == "__main__":
    sys.exit(main())
