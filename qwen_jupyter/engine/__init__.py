"""The engine: how an ask runs, the same for the magic, the panel and chat(). Where it goes (routing.py), asking
in a chat and deciding what is decided once (asking.py: the follow-up rule, which model answers), tool rounds
(rounds.py), the notebook agent's tools (agent.py, approval.py), MCP servers as tools (mcp.py; the kernel's one set,
notebook_mcp.py), comparison (comparison.py), documents (documents.py) and
prefix continuation (prefix.py).

It imports core/, backends/, state/ and the emulator (which routing starts); never the views or a front door.
"""
