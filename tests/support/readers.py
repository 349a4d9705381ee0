"""Steps a reader takes, through real HTTP (the Flask test client)."""

from urllib.parse import urlsplit

from tests.conftest import csrf_token, link_in


def subscribe(client, slug: str, email: str, name: str = "", **extra):
    token = csrf_token(client, f"/n/{slug}")
    return client.post(f"/n/{slug}/subscribe", data={"email": email, "name": name, "csrf_token": token, **extra})


def path_of(url: str) -> str:
    return urlsplit(url).path


def confirm_link(message) -> str:
    return path_of(link_in(message, "/confirm/"))


def confirm(client, confirm_path: str):
    token = csrf_token(client, confirm_path)
    return client.post(confirm_path, data={"csrf_token": token})
