"""Reporters' names and phones are encrypted at rest; exact phone search and duplicate detection use a
keyed blind index; keys rotate (issue 14: personal data)."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import column, select, table, text

from app.privacy import crypto
from tests.test_cli import run

PHONE, NAME = "13987654321", "张三丰"
_raw = table("cases", column("number"), column("reporter_name"), column("reporter_phone"),
             column("reporter_phone_index"))


def url_of(core) -> str:
    return core.db.engine.url.render_as_string(hide_password=False)


def raw_row(core, number: str) -> dict:
    with core.db.read() as session:
        return dict(session.execute(select(_raw).where(_raw.c.number == number)).mappings().one())


def test_stored_values_are_ciphertext_and_read_back_as_plaintext(core, driver):
    number = driver.register(reporter_phone=PHONE, reporter_name=NAME)
    row = raw_row(core, number)
    assert row["reporter_phone"].startswith("enc1:") and PHONE not in row["reporter_phone"]
    assert row["reporter_name"].startswith("enc1:") and NAME not in row["reporter_name"]
    assert row["reporter_phone_index"] == crypto.blind_index(PHONE) and PHONE not in row["reporter_phone_index"]
    assert core.cases.show(number, viewer="dispatcher", reveal_reporter=True)["reporter_phone"] == PHONE
    # the same phone encrypts differently every time: ciphertexts cannot be compared
    again = driver.register(reporter_phone=PHONE)
    assert raw_row(core, again)["reporter_phone"] != row["reporter_phone"]


def test_phone_search_and_duplicates_go_through_the_blind_index(core, driver, login):
    first = driver.register(reporter_phone="139-8765-4321", address="幸福路1号")
    driver.register(reporter_phone="13900000000")
    html = login("dispatcher").get(f"/cases/search?phone={PHONE}").get_data(as_text=True)
    assert first in html
    from app.intake.duplicates import find_duplicates
    with core.db.read() as session:
        found = find_duplicates(session, phone=PHONE, address=None)
    assert [c.number for c in found] == [first]


def test_no_phone_or_name_in_the_database_files(core, driver, tmp_path):
    driver.register(reporter_phone=PHONE, reporter_name=NAME)
    dialect = core.db.engine.dialect.name
    if dialect == "sqlite":
        with core.db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
        path = core.db.engine.url.database
        blob = b"".join(open(p, "rb").read() for p in (path, path + "-wal") if __import__("os").path.exists(p))
    else:
        if shutil.which("pg_dump") is None:
            pytest.skip("pg_dump is not installed")
        url = core.db.engine.url
        schema = dict(url.query).get("options", "").split("search_path=")[-1]
        dump = subprocess.run(["pg_dump", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
                               "-U", url.username or "postgres", "-n", schema, url.database],
                              capture_output=True, timeout=120, check=True)
        blob = dump.stdout
    assert b"13987654321" not in blob and NAME.encode() not in blob
    assert b"enc1:" in blob  # the dump did contain the case


def test_a_ciphertext_moved_to_another_column_does_not_open(core, driver):
    number = driver.register(reporter_phone=PHONE, reporter_name=NAME)
    phone_cipher = raw_row(core, number)["reporter_phone"]
    with pytest.raises(crypto.KeyError_):
        crypto.keyring().decrypt(phone_cipher, "cases.reporter_name")


def test_keys_rotate_reencrypts_under_the_new_key_and_seals_legacy_plaintext(core, driver, monkeypatch):
    number = driver.register(reporter_phone=PHONE, reporter_name=NAME)
    legacy = driver.register(reporter_phone="13811112222")
    with core.db.unit_of_work() as session:  # a row from before encryption
        session.execute(text("UPDATE cases SET reporter_phone = '13811112222', reporter_phone_index = NULL "
                             "WHERE number = :n"), {"n": legacy})
    old = crypto.keyring()
    new_keys = f"k2:{crypto.new_key()},{next(iter(old.keys))}:" + \
        __import__("base64").b64encode(old.keys[old.current]).decode()
    monkeypatch.setenv("BIHUAN_DATA_KEYS", new_keys)
    result = run("keys", "rotate", "--batch", "1", url=url_of(core))
    assert result["key"] == "k2" and result["rotated"] == 2
    assert run("keys", "status", url=url_of(core))["values_by_key"] == {"k2": 3}
    crypto.configure(crypto.keyring_from_environment())
    try:
        assert raw_row(core, number)["reporter_phone"].startswith("enc1:k2:")
        assert core.cases.show(legacy, viewer="dispatcher", reveal_reporter=True)["reporter_phone"] == "13811112222"
        assert raw_row(core, legacy)["reporter_phone_index"] == crypto.blind_index("13811112222")
        assert run("keys", "rotate", url=url_of(core))["rotated"] == 0  # nothing left to do
    finally:
        monkeypatch.undo()
        crypto.configure(crypto.keyring_from_environment())


@pytest.mark.parametrize("value,message", [("nocolon", "id:base64key"), ("k1:not-base64!", "base64"),
                                           ("k1:c2hvcnQ=", "32 bytes")])
def test_malformed_keys_are_one_clear_error(core, monkeypatch, value, message):
    monkeypatch.setenv("BIHUAN_DATA_KEYS", value)
    assert message in run("keys", "status", url=url_of(core), expect_ok=False)
