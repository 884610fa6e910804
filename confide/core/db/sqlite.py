"""The SQLite database's files are the operator's alone (mode 0600).

SQLite creates the database with the process's umask (usually 0644: readable by every local
user) and gives its -wal, -shm and -journal files the database file's mode. So the database is
tightened as soon as a connection is made, before anything is written through it, and the
files beside it follow; a database left readable by an older version is tightened too."""

from __future__ import annotations

import os
import stat

COMPANIONS = ("", "-wal", "-shm", "-journal")


def restrict_database_files(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: chmod 0600 the SQLite database and its companions."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):  # in-memory test databases have no files
        return
    for suffix in COMPANIONS:
        path = name + suffix
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(path, 0o600)
