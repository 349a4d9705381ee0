"""Files uploaded on the import page, kept between the check and the publisher's confirmation.

Each upload is instance/uploads/<random id>.csv with a <random id>.json beside it naming the file, the
newsletter, the user and the options. The id is the only handle the confirmation carries, and it works only
for the same user and newsletter. Uploads go once imported or refused; abandoned ones after a day.
"""

import contextlib
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from ..errors import DomainError
from ..models import Newsletter
from . import writer
from .report import ImportReport

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
    """The confirmation names an upload that is not there (already imported, abandoned, or someone else's)."""

    code = "upload_gone"
    status = 410

    def __init__(self):
        super().__init__("This upload is no longer available: it was imported already or left unconfirmed for "
                         "more than a day. Upload the file again.")


@dataclass(frozen=True)
class Upload:
    """One stored upload and what the publisher asked for it."""

    id: str
    file_name: str
    newsletter_id: int
    user_id: int
    suppress: bool
    strict: bool
    folder: str

    @property
    def path(self) -> Path:
        return Path(self.folder) / f"{self.id}.csv"


def uploads_folder(instance_path: str) -> Path:
    """Where uploads wait for their confirmation."""
    return Path(instance_path) / "uploads"


def store_upload(folder: Path, stream: BinaryIO, *, max_bytes: int, file_name: str, newsletter_id: int,
                 user_id: int, suppress: bool, strict: bool) -> Upload:
    """Copy the upload to disk by chunks, refusing it (UploadTooLarge, nothing kept) past max_bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    discard_abandoned(folder)
    upload = Upload(secrets.token_urlsafe(18), writer.source_name(file_name), newsletter_id, user_id, suppress,
                    strict, str(folder))
    try:
        _copy(stream, upload.path, max_bytes)
    except UploadTooLarge:
        upload.path.unlink(missing_ok=True)
        raise
    _meta_path(folder, upload.id).write_text(json.dumps(asdict(upload)), encoding="utf-8")
    return upload


def _copy(stream: BinaryIO, path: Path, max_bytes: int) -> None:
    written = 0
    with path.open("wb") as out:
        while chunk := stream.read(CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise UploadTooLarge(max_bytes)
            out.write(chunk)


def find_upload(folder: Path, upload_id: str, *, newsletter_id: int, user_id: int) -> Upload:
    """The upload with this id, if it belongs to this newsletter and user; UploadGone otherwise."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise UploadGone()
    try:
        upload = Upload(**json.loads(_meta_path(folder, upload_id).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        raise UploadGone() from None
    if (upload.newsletter_id, upload.user_id) != (newsletter_id, user_id) or not upload.path.is_file():
        raise UploadGone()
    return upload


def discard_upload(upload: Upload) -> None:
    """Delete the upload and its description."""
    upload.path.unlink(missing_ok=True)
    _meta_path(Path(upload.folder), upload.id).unlink(missing_ok=True)


def discard_abandoned(folder: Path, max_age: float = ABANDONED_AFTER_SECONDS) -> None:
    """Delete uploads nobody confirmed within max_age seconds: they hold readers' addresses."""
    oldest = time.time() - max_age
    for path in folder.glob("*.*"):
        with contextlib.suppress(FileNotFoundError):  # removed by a concurrent request: same outcome
            if path.stat().st_mtime < oldest:
                path.unlink()


def check_upload(upload: Upload, newsletter: Newsletter) -> ImportReport:
    """Pass 1 with read-only counts (a dry run): what confirming would do, or the file's refusal."""
    if upload.suppress:
        return writer.check_suppressions(upload.path, newsletter.id, file_name=upload.file_name,
                                         strict=upload.strict, dry_run=True)
    return writer.check_subscribers(upload.path, newsletter, file_name=upload.file_name, strict=upload.strict,
                                    dry_run=True)


def import_upload(upload: Upload, newsletter: Newsletter, commit: Callable[[], None]) -> ImportReport:
    """Import the upload (pass 1 again, then pass 2), committing per batch; the upload is deleted either way."""
    try:
        if upload.suppress:
            return writer.import_suppressions(upload.path, newsletter.id, file_name=upload.file_name,
                                              strict=upload.strict, commit=commit)
        return writer.import_subscribers(upload.path, newsletter, file_name=upload.file_name,
                                         strict=upload.strict, commit=commit)
    finally:
        discard_upload(upload)


def _meta_path(folder: Path, upload_id: str) -> Path:
    return folder / f"{upload_id}.json"
