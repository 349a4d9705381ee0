"""What pass 1 accepted, kept on disk for pass 2: a file is parsed and checked once, and pass 2 writes exactly
the rows pass 1 checked, even if the file is edited or replaced in between.

Memory stays flat: one batch at a time is in memory, the rest waits on disk (about 140 bytes per consented
row). The command line's spool is an unnamed temporary file, which the system removes when it is closed, even
if the process dies. The import page's check keeps its spool as a named file beside the upload (`Spool.create`,
`Spool.open`), so that the import, confirmed later and perhaps run by another worker, writes the rows the check
accepted without reading the file again.

Each batch is pickled (ten times faster to read back than a text format) in a frame that carries an HMAC of
its number and bytes, and a last frame marks the end: a batch is unpickled only once its HMAC matched, so a
spool that anyone but this product wrote (a named one sits in a folder on disk) is refused, as is one that was
cut short, cut up or had batches of another spool spliced in.
"""

import hashlib
import hmac
import os

# Reviewed for bandit: pickle reads back only frames whose HMAC this product made (see Spool.batches).
import pickle  # nosec B403
import secrets
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

_FRAME = struct.Struct(">Q32s")  # length of the pickled batch (or END), HMAC of the frame's number and bytes
END = 2 ** 64 - 1  # the length field of the last frame, which carries no bytes


class SpoolDamaged(Exception):
    """A spool whose frames do not match their HMAC, or that ends without its last frame."""


class Spool:
    """Batches of plain values (tuples, strings), written once in order and then read back in the same order."""

    def __init__(self, file: BinaryIO | None = None, key: bytes | None = None, *, keep_as: Path | None = None):
        self._file = file if file is not None else tempfile.TemporaryFile()
        self._key = key if key is not None else secrets.token_bytes(32)  # an unnamed spool: its own key
        self._keep_as = keep_as
        self._frames = 0
        self._sealed = False
        self.count = 0  # batches written

    @classmethod
    def create(cls, path: Path, key: bytes) -> "Spool":
        """A spool to be kept as `path` (see keep). It is written under a name of its own until then, so two
        runners checking the same upload never write into each other's file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        writing = path.with_name(f"{path.name}.{secrets.token_hex(6)}.part")
        return cls(writing.open("xb"), key, keep_as=path)

    @classmethod
    def open(cls, path: Path, key: bytes) -> "Spool":
        """A spool kept earlier (FileNotFoundError if there is none), to read with `batches`."""
        spool = cls(path.open("rb"), key)
        spool._sealed = True
        return spool

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()
        if self._keep_as is not None:  # created and not kept: the check did not end well
            Path(self._file.name).unlink(missing_ok=True)

    def write(self, batch: list) -> None:
        """Append one batch."""
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(_FRAME.pack(len(data), self._mac(self._frames, data)))
        self._file.write(data)
        self._frames += 1
        self.count += 1

    def keep(self) -> None:
        """Seal a spool made by `create` and put it under its name (replacing an older one)."""
        self._seal()
        self._file.flush()
        os.fsync(self._file.fileno())
        os.replace(self._file.name, self._keep_as)
        self._keep_as = None

    def batches(self) -> Iterator[list]:
        """The batches, from the first; SpoolDamaged as soon as a frame does not match, or if the last is missing."""
        self._seal()
        self._file.seek(0)
        for number in range(END):
            header = self._file.read(_FRAME.size)
            if len(header) < _FRAME.size:
                raise SpoolDamaged("the spool ends before its last frame")
            length, mac = _FRAME.unpack(header)
            data = b"" if length == END else self._file.read(length)
            if not hmac.compare_digest(mac, self._mac(number, data, end=length == END)):
                raise SpoolDamaged(f"frame {number} of the spool does not match its HMAC")
            if length == END:
                return
            yield pickle.loads(data)  # nosec B301: its HMAC matched

    @property
    def fraction_read(self) -> float:
        """How much of the spool `batches` has read, by bytes: 0 to 1."""
        size = os.fstat(self._file.fileno()).st_size
        return min(self._file.tell() / size, 1.0) if size else 1.0

    def _seal(self) -> None:
        if not self._sealed:
            self._file.write(_FRAME.pack(END, self._mac(self._frames, b"", end=True)))
            self._sealed = True

    def _mac(self, number: int, data: bytes, *, end: bool = False) -> bytes:
        mac = hmac.new(self._key, struct.pack(">Q?", number, end), hashlib.sha256)
        mac.update(data)
        return mac.digest()
