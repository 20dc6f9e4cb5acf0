"""Errors in input data, each naming where the problem is (file, row, column)."""

from __future__ import annotations


class DataError(ValueError):
    """A file or value is unusable; the message names the file, the row and the column."""

    def __init__(self, reason: str, *, file: str = "", row: object = None, column: str | None = None) -> None:
        self.reason, self.file, self.row, self.column = reason, file, row, column
        where = [part for part in (file, f"row {row}" if row is not None else "",
                                   f"column {column!r}" if column else "") if part]
        super().__init__(f"{', '.join(where)}: {reason}" if where else reason)
