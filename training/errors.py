"""Errors the trainer reports to its user as one line (exit code 2)."""

from __future__ import annotations

from pathlib import Path


class TrainingError(Exception):
    """A problem with the user's input that stops a command before anything is written."""


class DataError(TrainingError):
    """A data file that cannot be read; names the file, and the line and field where known."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.message = message
        where = str(self.path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


class DownloadError(TrainingError):
    """A dataset download that failed or did not verify; nothing partial is left behind."""
