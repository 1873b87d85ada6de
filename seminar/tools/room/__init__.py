"""The seminar's room: an opt-in dashboard of the room's checks, on the room's own network.

The instructor opens it with ``python -m seminar room`` (:mod:`.server`: a Starlette application
served by uvicorn, its state in SQLite, :mod:`.store`); each student joins once with
``python -m seminar join ADDRESS CODE --name NAME`` (:mod:`.client`, standard library only), after
which every check sends the room one small record after its verdict. In a notebook cell::

    from seminar.tools import room
    room.join("http://192.168.1.20:8765", "K7QF3M", name="Ada L.")
    room.leave()

How it works, what is sent and what never is, the security model: docs/room.md. Importing this
package imports neither the web framework nor the server: only :mod:`.server` does.
"""

from __future__ import annotations

import argparse
import pathlib

from seminar.tools.room.client import join, leave, send_after_check

DEFAULT_PORT = 8765
DEFAULT_DATA_DIR = "~/.seminar-room"


def cmd_room(args: argparse.Namespace) -> int:
    """``python -m seminar room``: open the room (until Ctrl-C)."""
    try:
        from seminar.tools.room import server
    except ModuleNotFoundError as error:
        print(f"error: the room needs {error.name}, which is not installed: pip install -r "
              f"requirements.txt (it lists starlette and uvicorn)")
        return 1
    return server.serve(args.host, args.port, pathlib.Path(args.data_dir))


def cmd_join(args: argparse.Namespace) -> int:
    """``python -m seminar join ADDRESS CODE --name NAME``."""
    return 0 if join(args.address, args.code, args.name) else 1


def cmd_leave(args: argparse.Namespace) -> int:
    """``python -m seminar leave``."""
    return 0 if leave() else 1


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, got {text}")
    return value


def add_commands(commands) -> None:
    """The ``room``, ``join`` and ``leave`` subcommands, on the command line's subparsers."""
    room = commands.add_parser("room", help="open a room: the students' checks on your dashboard, "
                                            "on the room's network (instructor)")
    room.add_argument("--host", default="0.0.0.0",
                      help="the address to listen on (default 0.0.0.0: every network of this machine)")
    room.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                      help=f"default {DEFAULT_PORT}; 0 picks a free one")
    room.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                      help=f"where the room keeps its database (default {DEFAULT_DATA_DIR}); the same "
                           f"folder again carries on with the same code, keys and records")
    room.set_defaults(func=cmd_room)

    join_parser = commands.add_parser("join", help="join the instructor's room: each check then sends "
                                                   "it its verdict (never your code)")
    join_parser.add_argument("address", help="the room's address on the board, e.g. http://192.168.1.20:8765")
    join_parser.add_argument("code", help="the room's code on the board")
    join_parser.add_argument("--name", required=True, help="your name as the instructor sees it")
    join_parser.set_defaults(func=cmd_join)

    commands.add_parser("leave", help="leave the room: checks send nothing more").set_defaults(
        func=cmd_leave)


__all__ = ["join", "leave", "send_after_check"]
