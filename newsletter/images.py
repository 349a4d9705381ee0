"""Uploaded images made safe to publish: checked, decoded within limits, re-encoded without their metadata.

Pillow reads the file; anything it cannot read as JPEG, PNG, GIF or WebP is refused, so is a file whose
extension says another format than its content, one larger than the byte limit, and one whose pixel count
would take too much memory to decode (a "decompression bomb": a few kilobytes that unpack to gigabytes).
The image is turned upright (EXIF orientation), scaled down to the side limit, and written anew: EXIF, GPS
position, camera serial and comments are not copied. Its final width and height are kept for the mails.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInput

# Pillow format -> (extension written, content type, extensions accepted for it)
FORMATS = {
    "JPEG": ("jpg", "image/jpeg", {"jpg", "jpeg"}),
    "PNG": ("png", "image/png", {"png"}),
    "GIF": ("gif", "image/gif", {"gif"}),
    "WEBP": ("webp", "image/webp", {"webp"}),
}
MAX_PIXELS = 40_000_000  # a 40-megapixel photo decodes to ~160 MB: the most one upload may cost


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int

    @property
    def key(self) -> str:
        """A name made from the content: the same image uploaded twice is stored once, and never changes."""
        return hashlib.sha256(self.data).hexdigest()[:32] + "." + self.extension


def process_image(data: bytes, filename: str, max_bytes: int, max_side: int) -> ProcessedImage:
    """Check an upload and re-encode it; InvalidInput saying what to fix, and nothing kept, if it is refused."""
    if not data:
        raise InvalidInput(_("The file is empty. Choose an image (JPEG, PNG, GIF or WebP)."))
    if len(data) > max_bytes:
        limit = _("%(n)s MB", n=round(max_bytes / 1048576, 1)) if max_bytes >= 1048576 else \
            _("%(n)s KB", n=max_bytes // 1024)
        raise InvalidInput(_("The image is larger than the limit of %(max)s. Save it smaller and try again.",
                             max=limit))
    image = _open(data)
    extension, content_type, accepted = FORMATS[image.format]
    given = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if given not in accepted:
        raise InvalidInput(_("The file is named .%(given)s but holds a %(format)s image: rename it .%(ext)s and "
                             "try again.", given=given or "?", format=image.format, ext=extension))
    return _reencode(image, extension, content_type, max_side)


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise UnidentifiedImageError(image.format)
            if image.width * image.height > MAX_PIXELS:
                raise Image.DecompressionBombError(image.size)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InvalidInput(_("This image has too many pixels to be opened safely (at most %(max)s million). "
                                 "Save it smaller and try again.", max=MAX_PIXELS // 1_000_000)) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise InvalidInput(_("This file is not an image this site can use. Choose a JPEG, PNG, GIF or WebP "
                                 "image.")) from None
    return image


def _reencode(image: Image.Image, extension: str, content_type: str, max_side: int) -> ProcessedImage:
    animated = getattr(image, "is_animated", False) and image.format == "GIF"
    if not animated:
        image = ImageOps.exif_transpose(image)
        if max(image.size) > max_side:
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    colours = {"icc_profile": image.info["icc_profile"]} if image.info.get("icc_profile") else {}  # not personal
    if extension == "jpg":
        image.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True, **colours)
    elif extension == "png":
        image.save(out, "PNG", optimize=True, **colours)
    elif extension == "webp":
        image.save(out, "WEBP", quality=85, **colours)
    else:  # GIF: frames kept as they are (an animation is rarely large), metadata dropped
        image.save(out, "GIF", save_all=animated)
    return ProcessedImage(out.getvalue(), content_type, extension, image.width, image.height)
