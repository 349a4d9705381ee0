"""Ids in paths and keyset cursors (?before=, ?after=) past PostgreSQL's integer are a clear 4xx, never a 500.

SQLite takes any integer, so only the PostgreSQL run saw the 500; the answers checked here are the same on both.
"""

import pytest

from newsletter import accounts
from newsletter.extensions import db
from newsletter.models import MAX_ID
from tests.conftest import create_demo_newsletter
from tests.support.publishers import PASSWORD, forget_request_state, login
from tests.test_api import bearer, error_of, token_for
from tests.test_stats import stats_app  # noqa: F401  (a fixture)

TOO_BIG = str(MAX_ID + 1)  # 2147483648


@pytest.fixture
def admin_client(stats_app):
    create_demo_newsletter()
    accounts.create_user("admin@example.org", PASSWORD, admin=True)
    db.session.commit()
    client = stats_app.test_client()
    forget_request_state()
    assert login(client, "admin@example.org").status_code == 302
    forget_request_state()
    return client


@pytest.mark.parametrize("url", [
    f"/api/v1/stats/newsletters/slow-mornings/issues?before={TOO_BIG}",
    f"/api/v1/newsletters?after={TOO_BIG}",
    "/api/v1/stats/newsletters/slow-mornings/issues?before=-1",
])
def test_an_api_cursor_past_the_integer_range_is_a_400_saying_the_range(admin_client, url):
    answer = admin_client.get(url, headers=bearer(token_for("admin@example.org")))
    assert answer.status_code == 400
    assert error_of(answer) == "invalid_parameter"
    assert str(MAX_ID) in answer.get_json()["error"]["message"]


@pytest.mark.parametrize("url", [
    f"/admin/stats?before={TOO_BIG}",
    f"/admin/n/slow-mornings/stats?before={TOO_BIG}",
    f"/admin/n/slow-mornings/subscribers?before={TOO_BIG}",
    f"/admin/suppressed?after={TOO_BIG}",
])
def test_an_admin_page_cursor_past_the_integer_range_shows_the_first_page(admin_client, url):
    first = admin_client.get(url.partition("?")[0])
    answer = admin_client.get(url)
    assert answer.status_code == 200  # PostgreSQL: was a 500 ("integer out of range")
    assert _main(answer) == _main(first)


def _main(answer) -> str:
    """The page's content up to its paging links (an "older" page also links to the newest)."""
    return answer.get_data(as_text=True).partition("<main")[2].partition("</main>")[0].partition("<nav")[0]


@pytest.mark.parametrize("url", [
    f"/admin/issues/{TOO_BIG}", f"/admin/issues/{TOO_BIG}/stats", f"/admin/n/slow-mornings/subscribers/{TOO_BIG}",
    f"/n/slow-mornings/issues/{TOO_BIG}", f"/api/v1/stats/issues/{TOO_BIG}",
])
def test_an_id_past_the_integer_range_in_a_path_is_not_found(admin_client, url):
    answer = admin_client.get(url, headers=bearer(token_for("admin@example.org")))
    assert answer.status_code == 404


def test_a_cursor_at_the_top_of_the_range_is_the_first_page(admin_client):
    answer = admin_client.get(f"/api/v1/stats/newsletters/slow-mornings/issues?before={MAX_ID}",
                              headers=bearer(token_for("admin@example.org")))
    assert answer.status_code == 200 and answer.get_json()["issues"] == []
