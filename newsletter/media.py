"""A newsletter's images: uploaded once (checked and re-encoded by images.py), kept in the media store, served
with long cache headers, and known by size so that mails can give each image its width and height."""

import re

from flask import current_app
from sqlalchemy import select

from .extensions import db
from .images import process_image
from .media_store import MediaStore, media_store
from .models import Media, Newsletter, User

KEY_PATTERN = re.compile(r"^[0-9a-f]{32}\.(?:jpg|png|gif|webp)$")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


def store() -> MediaStore:
    """This instance's media store."""
    return media_store(current_app.config, current_app.instance_path)


def upload_image(newsletter: Newsletter, data: bytes, filename: str, user: User | None) -> Media:
    """Check, re-encode and keep an image for this newsletter; InvalidInput (nothing kept) if it is refused."""
    image = process_image(data, filename, current_app.config["MEDIA_MAX_BYTES"], current_app.config["MEDIA_MAX_SIDE"])
    existing = db.session.scalar(select(Media).where(Media.newsletter_id == newsletter.id, Media.key == image.key))
    if existing is not None:
        return existing
    store().put(image.key, image.data, image.content_type)
    item = Media(newsletter=newsletter, key=image.key, content_type=image.content_type, width=image.width,
                 height=image.height, size=len(image.data), created_by=user)
    db.session.add(item)
    db.session.flush()
    return item


def media_url(key: str) -> str:
    """The public URL of a stored image."""
    return store().url(key)


def read_media(key: str) -> tuple[bytes, str] | None:
    """The bytes and content type of a stored image, or None for anything else."""
    if not KEY_PATTERN.match(key):
        return None
    data = store().get(key)
    return (data, CONTENT_TYPES[key.rsplit(".", 1)[1]]) if data is not None else None


def sizes_in(markdown: str) -> dict[str, tuple[int, int]]:
    """Width and height of each of this site's images that a Markdown text uses, by URL."""
    prefix = media_url("")
    keys = set(re.findall(re.escape(prefix) + r"([0-9a-f]{32}\.(?:jpg|png|gif|webp))", markdown or ""))
    if not keys:
        return {}
    rows = db.session.execute(select(Media.key, Media.width, Media.height).where(Media.key.in_(keys)))
    return {prefix + key: (width, height) for key, width, height in rows}
