"""What pass 1 accepted, kept on disk for pass 2: a file is parsed and checked once, and pass 2 writes exactly
the rows pass 1 checked, even if the file is edited or replaced in between.

Memory stays flat: one batch at a time is in memory, the rest waits in an unnamed temporary file (about 140
bytes per consented row), which the system removes when it is closed, even if the process dies.
"""

# Reviewed for bandit: pickle reads back only what this process wrote (see Spool.write).
import pickle  # nosec B403
import tempfile
from typing import Iterator


class Spool:
    """Batches of plain values (tuples, strings), written once in order and then read back in the same order."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self.count = 0  # batches written

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def write(self, batch: list) -> None:
        """Append one batch."""
        # pickle rather than a text format: ten times faster to read back, and safe here because nobody but this
        # process can write to an unnamed file it has just created.
        pickle.dump(batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def batches(self) -> Iterator[list]:
        """The batches written so far, from the first."""
        self._file.seek(0)
        while True:
            try:
                yield pickle.load(self._file)  # nosec B301
            except EOFError:
                return
