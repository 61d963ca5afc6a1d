"""The game table: life totals, commander damage, turns, dice, a log with undo, and chat.

state.py is the pure logic (no Flask, no I/O), store.py keeps it in SQL with a version
per room, and handlers.py speaks Socket.IO (docs/protocol.md, "The game table").
"""
