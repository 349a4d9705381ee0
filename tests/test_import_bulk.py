"""How the importer writes quickly (importer.bulk, importer.spool): what it stores is exactly what SQLAlchemy
would store, and the connection is given back as the import found it."""

import csv
import pickle
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from newsletter.extensions import db
from newsletter.importer import EXPORT_COLUMNS, bulk, writer
from newsletter.importer.spool import Spool, SpoolDamaged
from newsletter.models import Subscription, UTCDateTime, new_nonce
from tests.test_import_cli import SHARE_URL


@pytest.mark.parametrize("moment", [
    datetime(2024, 3, 1, 9, 15, tzinfo=UTC),
    datetime(2024, 3, 1, 9, 15, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
    datetime(1990, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))),  # the day before, in UTC
    datetime(2024, 3, 1, 9, 15, 0, 999999),  # naive: stored as it is, like UTCDateTime does
    None,
])
def test_sqlite_dates_are_written_as_sqlalchemy_writes_them(moment):
    dialect = sqlite.dialect()
    sqlalchemy_processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert bulk.sqlite_datetime(moment) == sqlalchemy_processor(moment)


def test_nonces_have_the_shape_of_a_new_nonce_and_never_repeat():
    nonces = bulk.new_nonces(2000)
    shape = re.compile(r"[A-Za-z0-9_-]{%d}" % len(new_nonce()))
    assert all(shape.fullmatch(nonce) for nonce in nonces)
    assert len(set(nonces)) == 2000


def test_spool_gives_back_its_batches_in_order():
    with Spool() as spool:
        for batch in ([("a", 1), ("b", None)], [], [("c", datetime(2024, 1, 1, tzinfo=UTC))]):
            spool.write(batch)
        assert list(spool.batches()) == [[("a", 1), ("b", None)], [], [("c", datetime(2024, 1, 1, tzinfo=UTC))]]


BATCHES = [[("a", 1), ("b", None)], [], [("c", datetime(2024, 1, 1, tzinfo=UTC))]]


def kept_spool(path, key: bytes = b"k" * 32):
    with Spool.create(path, key) as spool:
        for batch in BATCHES:
            spool.write(batch)
        spool.keep()
    return path


def test_a_kept_spool_reads_back_its_batches_and_leaves_no_other_file(tmp_path):
    path = kept_spool(tmp_path / "checked" / "upload.rows")
    assert [p.name for p in path.parent.iterdir()] == ["upload.rows"]
    with Spool.open(path, b"k" * 32) as spool:
        assert list(spool.batches()) == BATCHES and spool.fraction_read == 1.0


def test_a_spool_not_kept_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), Spool.create(tmp_path / "upload.rows", b"k" * 32) as spool:
        spool.write(BATCHES[0])
        raise RuntimeError("the check was refused")
    assert list(tmp_path.iterdir()) == []


def read_all(path, key: bytes = b"k" * 32) -> list:
    with Spool.open(path, key) as spool:
        return list(spool.batches())


@pytest.mark.parametrize("damage", ["another key", "a byte changed", "cut short", "batches swapped"])
def test_a_kept_spool_that_was_tampered_with_is_refused_before_its_batch_is_unpickled(tmp_path, damage):
    path = kept_spool(tmp_path / "upload.rows")
    data = path.read_bytes()
    first, second = (40 + len(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)) for batch in BATCHES[:2])
    if damage == "a byte changed":
        path.write_bytes(data[:50] + bytes([data[50] ^ 1]) + data[51:])
    elif damage == "cut short":  # the last frame, which marks the end, is missing
        path.write_bytes(data[:-40])
    elif damage == "batches swapped":
        path.write_bytes(data[first:first + second] + data[:first] + data[first + second:])
    read = []
    with pytest.raises(SpoolDamaged), Spool.open(path, b"x" * 32 if damage == "another key" else b"k" * 32) as spool:
        read.extend(spool.batches())
    assert read == ([] if damage != "cut short" else BATCHES)


def consented_file(path, count: int):
    with path.open("w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out)
        rows.writerow(EXPORT_COLUMNS)
        for n in range(count):
            rows.writerow([f"r{n}@example.org", "", "2024-01-01T10:00:00+02:00", "2024-01-01T10:05:00.25+02:00",
                           "form", "192.0.2.1", ""])
    return path


def test_imported_dates_read_back_as_they_were_given(app, newsletter, tmp_path):
    path = consented_file(tmp_path / "dates.csv", 3)
    now = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    writer.import_subscribers(path, newsletter, file_name="dates.csv", commit=db.session.commit, now=now,
                              share_url=SHARE_URL)
    db.session.expire_all()
    dates = db.session.execute(select(Subscription.consent_at, Subscription.confirmed_at, Subscription.imported_at,
                                      Subscription.created_at)).all()
    assert set(dates) == {(datetime(2024, 1, 1, 8, 0, tzinfo=UTC), datetime(2024, 1, 1, 8, 5, 0, 250000, tzinfo=UTC),
                           now, now)}


def test_import_gives_the_connection_its_sqlite_settings_back(app, newsletter, tmp_path, monkeypatch):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's page cache and checkpoints")
    def settings():
        connection = db.session.connection().connection.driver_connection
        return [connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("cache_size", "wal_autocheckpoint")]

    monkeypatch.setattr(writer, "BATCH_ROWS", 4)
    during = []
    write = writer.BatchWriter.write

    def write_noting_settings(self, *args):
        during.append(settings())
        write(self, *args)

    monkeypatch.setattr(writer.BatchWriter, "write", write_noting_settings)
    before = settings()
    db.session.commit()
    writer.import_subscribers(consented_file(tmp_path / "many.csv", 10), newsletter, file_name="many.csv",
                              commit=db.session.commit, share_url=SHARE_URL)
    assert during == [[-bulk.SQLITE_CACHE_KIB, bulk.SQLITE_CHECKPOINT_PAGES]] * 3
    assert settings() == before != during[0]
