"""Files uploaded on the import page, kept on disk while their import job runs (importer/jobs.py).

Each upload is instance/uploads/<random id>.csv; the job names it. Once checked, the rows its check accepted
wait beside it in instance/uploads-checked/<id>.rows (a spool, see spool.py), for the import to write. Both go
when the job ends (imported, refused, failed, checked with nothing to import, abandoned), and after a day at the
latest: they hold readers' addresses. With Celery workers on other machines, instance/uploads and
instance/uploads-checked must be folders they share.
"""

import contextlib
import os
import re
import secrets
import time
from pathlib import Path
from typing import BinaryIO

from ..errors import DomainError

ABANDONED_AFTER_SECONDS = 24 * 3600
CHUNK_BYTES = 64 * 1024
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


class UploadTooLarge(DomainError):
    """The upload is larger than IMPORT_MAX_BYTES; nothing of it is kept."""

    code = "upload_too_large"
    status = 413

    def __init__(self, max_bytes: int):
        super().__init__(
            f"This file is larger than {max_bytes} bytes, the most this instance accepts (IMPORT_MAX_BYTES). "
            "Split it into smaller files, or import it with the command line (flask subscribers import)."
        )
        self.max_bytes = max_bytes


class UploadGone(DomainError):
    """The confirmation names an upload that is not there any more (imported already, abandoned, expired)."""

    code = "upload_gone"
    status = 410

    def __init__(self):
        super().__init__("This upload is no longer available: it was imported already or left unconfirmed for "
                         "more than a day. Upload the file again.")


def uploads_folder(instance_path: str) -> Path:
    """Where uploads wait for their job."""
    return Path(instance_path) / "uploads"


def upload_path(folder: Path, upload_id: str) -> Path:
    """The file of an upload (the id is checked: it never names anything outside the folder)."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise UploadGone()
    return folder / f"{upload_id}.csv"


def checked_rows_path(folder: Path, upload_id: str) -> Path:
    """Where the rows the upload's check accepted are kept (the id is checked, as for the upload)."""
    return checked_folder(folder) / f"{upload_path(folder, upload_id).stem}.rows"


def checked_folder(folder: Path) -> Path:
    """The folder of checked rows, beside the uploads folder."""
    return folder.with_name(f"{folder.name}-checked")


def store_upload(folder: Path, stream: BinaryIO, *, max_bytes: int) -> tuple[str, int]:
    """Copy the upload to disk by chunks, refusing it (UploadTooLarge, nothing kept) past max_bytes.
    Returns the upload's id and its size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    upload_id = secrets.token_urlsafe(18)
    path = upload_path(folder, upload_id)
    try:
        size = _copy(stream, path, max_bytes)
    except BaseException:  # too large, the client gone, the disk full: nothing of it stays
        path.unlink(missing_ok=True)
        raise
    return upload_id, size


def _copy(stream: BinaryIO, path: Path, max_bytes: int) -> int:
    written = 0
    with path.open("wb") as out:
        while chunk := stream.read(CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise UploadTooLarge(max_bytes)
            out.write(chunk)
    return written


def keep_upload(folder: Path, upload_id: str) -> None:
    """The upload is confirmed: start its day again, so the clean-up leaves it alone while it is imported."""
    path = upload_path(folder, upload_id)
    if not path.is_file():
        raise UploadGone()
    os.utime(path)
    with contextlib.suppress(FileNotFoundError):  # none: the import reads the upload again
        os.utime(checked_rows_path(folder, upload_id))


def discard_upload(folder: Path, upload_id: str) -> None:
    """Delete the upload and the rows its check kept (with any a runner was writing when it stopped)."""
    upload_path(folder, upload_id).unlink(missing_ok=True)
    rows = checked_rows_path(folder, upload_id)
    for path in rows.parent.glob(f"{rows.name}*"):  # <id>.rows and <id>.rows.<random>.part
        path.unlink(missing_ok=True)


def discard_abandoned(folder: Path, max_age: float = ABANDONED_AFTER_SECONDS) -> None:
    """Delete the folder's files older than max_age seconds, whatever their job says: they hold readers'
    addresses."""
    oldest = time.time() - max_age
    for path in folder.glob("*.*"):
        with contextlib.suppress(FileNotFoundError):  # removed by a concurrent request: same outcome
            if path.stat().st_mtime < oldest:
                path.unlink()
