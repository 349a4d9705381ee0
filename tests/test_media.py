"""Images: uploaded through the composer's form, checked and re-encoded by Pillow (no EXIF, size capped, width and
height kept), stored under instance/media, served with long cache headers, sized in mails. Junk stores nothing."""

import io
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select

from newsletter import media, publishing
from newsletter.extensions import db
from newsletter.models import Media
from tests.support.publishers import login, make_issue, post_form


@pytest.fixture
def maya(client, newsletter):
    login(client, "maya@example.org")
    return client


def picture(size=(800, 600), kind="JPEG", exif: bool = False) -> bytes:
    image = Image.new("RGB", size, (180, 90, 40))
    out = io.BytesIO()
    extra = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x0112] = 6  # orientation: rotate 90° to show upright
        extra["exif"] = data.tobytes()
    image.save(out, kind, **extra)
    return out.getvalue()


def upload(client, slug, data: bytes, name: str):
    return post_form(client, f"/admin/n/{slug}/media", {"image": (io.BytesIO(data), name)},
                     content_type="multipart/form-data", headers={"Accept": "application/json"})


def stored_files(app) -> list:
    folder = media.store().folder
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def test_upload_reencodes_without_exif_turns_upright_and_keeps_the_size(app, maya, newsletter):
    answer = upload(maya, newsletter.slug, picture((800, 600), exif=True), "studio.JPG")
    assert answer.status_code == 200, answer.text
    assert (answer.json["width"], answer.json["height"]) == (600, 800)  # turned upright by its orientation
    assert answer.json["markdown"] == f"![]({answer.json['url']})"
    served = maya.get(answer.json["url"].replace("https://news.example.test", ""))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    image = Image.open(io.BytesIO(served.data))
    assert image.size == (600, 800) and not image.getexif() and b"SecretCam" not in served.data


def test_a_large_photo_is_scaled_down_to_the_side_limit(app, maya, newsletter):
    answer = upload(maya, newsletter.slug, picture((4000, 1000), "PNG"), "wide.png")
    assert (answer.json["width"], answer.json["height"]) == (2000, 500)


def test_the_same_image_twice_is_stored_once(app, maya, newsletter):
    first = upload(maya, newsletter.slug, picture(), "a.jpg").json["url"]
    assert upload(maya, newsletter.slug, picture(), "b.jpeg").json["url"] == first
    assert db.session.scalar(select(func.count(Media.id))) == 1


def bomb() -> bytes:
    """A valid PNG header claiming 50,000 x 50,000 pixels (2.5 gigapixels) in a few hundred bytes."""
    import struct

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 50000, 50000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("data, name, message", [
    (b"%PDF-1.4 not an image at all", "notes.png", "not an image this site can use"),
    (b"", "empty.png", "The file is empty"),
    (bomb(), "bomb.png", "too many pixels"),
    (picture(kind="PNG"), "photo.jpg", "is named .jpg but holds a PNG image"),
    (picture(kind="PNG"), "photo", "is named .? but holds a PNG image"),
])
def test_junk_uploads_get_a_clear_message_and_store_nothing(app, maya, newsletter, data, name, message):
    answer = upload(maya, newsletter.slug, data, name)
    assert answer.status_code == 400 and message in answer.json["error"]
    assert db.session.scalar(select(func.count(Media.id))) == 0 and stored_files(app) == []


def test_a_huge_file_is_refused_before_it_is_decoded(make_app, smtp, tmp_path):
    app = make_app(START_SENDER=False, MEDIA_MAX_BYTES="2048")
    with app.app_context():
        from tests.conftest import create_demo_newsletter
        newsletter = create_demo_newsletter()
        client = app.test_client()
        login(client, "maya@example.org")
        answer = upload(client, newsletter.slug, picture((1500, 1500)), "big.jpg")
        assert answer.status_code == 400
        assert answer.json["error"] == "The image is larger than the limit of 2 KB. Save it smaller and try again."
        assert stored_files(app) == []


def test_without_javascript_the_upload_answers_a_page_with_the_markdown(app, maya, newsletter):
    issue = make_issue(newsletter)
    answer = post_form(
        maya, f"/admin/n/{newsletter.slug}/media",
        {"image": (io.BytesIO(picture()), "a.jpg"), "back": f"/admin/issues/{issue.id}"},
        content_type="multipart/form-data", follow_redirects=True)
    assert answer.status_code == 200 and "Paste this where it goes" in answer.text
    assert "![](https://news.example.test/media/" in answer.text
    refused = post_form(maya, f"/admin/n/{newsletter.slug}/media",
                        {"image": (io.BytesIO(b"junk"), "a.jpg"), "back": "https://evil.example/"},
                        content_type="multipart/form-data")
    assert refused.status_code == 302 and refused.headers["Location"] == "/admin/"


def test_mail_images_of_this_site_carry_width_and_height(app, maya, newsletter):
    url = upload(maya, newsletter.slug, picture((1200, 900)), "a.jpg").json["url"]
    issue = make_issue(newsletter, body=f"A photo.\n\n![The studio]({url})")
    html = publishing.preview(issue, newsletter.owner).html
    assert f'src="{url}" alt="The studio" width="600" height="450"' in html


def test_unknown_media_is_404_and_keys_cannot_walk_the_disk(client, newsletter):
    assert client.get("/media/" + "0" * 32 + ".png").status_code == 404
    assert client.get("/media/..%2f..%2fsecret_key").status_code == 404
