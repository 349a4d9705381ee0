"""Where uploaded images live: the seam between the media service and a storage.

The built-in store writes files under `instance/media/` and this site serves them at `/media/<key>`. An
operator who wants them elsewhere has two ways: publish that folder as it is (a CDN, or a bucket kept in sync
with `rclone sync instance/media s3:bucket`) and set `MEDIA_URL` to its public address; or write a store with
the same three methods (for example over an S3-compatible API) and return it from `media_store`.
"""

from pathlib import Path
from typing import Protocol


class MediaStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Keep the bytes under this key (keys name their content: writing one twice is harmless)."""

    def get(self, key: str) -> bytes | None:
        """The bytes under this key, or None."""

    def url(self, key: str) -> str:
        """The public URL readers' mail clients and browsers load it from."""


class LocalMediaStore:
    """Files in a folder, served by this site (or by whatever publishes the folder at `base_url`)."""

    def __init__(self, folder: Path, base_url: str):
        self.folder = folder
        self.base_url = base_url.rstrip("/")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.folder / key
        if path.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a reader never sees half a file

    def get(self, key: str) -> bytes | None:
        path = self.folder / key
        return path.read_bytes() if path.is_file() else None

    def url(self, key: str) -> str:
        return f"{self.base_url}/{key}"


def media_store(config: dict, instance_path: str) -> MediaStore:
    """The store this instance uses (the one place to plug another in)."""
    return LocalMediaStore(Path(instance_path) / "media", config["MEDIA_URL"] or config["BASE_URL"] + "/media")
