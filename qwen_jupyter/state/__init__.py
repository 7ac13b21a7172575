"""State: what a notebook keeps. Its chats and results (session.py), a chat's turns keyed by cell
(conversation.py), and SQLite (store.py, the only module that imports sqlite3, with migrations.py).

It imports only core/.
"""
