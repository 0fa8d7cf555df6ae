"""Attachments through the real app: upload at intake, on patrol and with a task; who may see them;
types decided by content; EXIF (GPS) stripped; the size limit; the S3 backend on a local server."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from app.attachments.models import Attachment
from app.attachments.services import AttachmentService, TooLarge, Upload
from app.attachments.settings import DEFAULT_MAX_BYTES, AttachmentSettings
from app.attachments.storage import DirectoryStorage, S3Storage
from app.cases.models import Case
from tests.conftest import WebClient, audit_rows, at

GPS_IFD = 0x8825
MZ_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode"


def photo_with_gps(size=(64, 48)) -> bytes:
    from PIL import Image
    img = Image.new("RGB", size, (200, 40, 40))
    exif = img.getexif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (36.0, 4.0, 12.5), 3: "E", 4: (120.0, 11.0, 3.25)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert gps_of(data), "the fixture photo must carry GPS to prove it is stripped"
    return data


def gps_of(data: bytes) -> dict:
    from PIL import Image
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif().get_ifd(GPS_IFD))


def pdf(size: int = 200) -> bytes:
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    return head + b"0" * (size - len(head))


def docx_bytes() -> bytes:
    import docx
    d = docx.Document()
    d.add_paragraph("整改前后对比说明")
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def xlsx_bytes() -> bytes:
    import openpyxl
    wb = openpyxl.Workbook()
    wb.active["A1"] = "台账"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def files(*items):
    return [(io.BytesIO(data), name) for name, data in items]


def register(client, text="小区门口路灯不亮", phone="13900001111", attachments=(), **extra):
    data = {"channel": "phone", "type": "complaint", "text": text, "reporter_phone": phone,
            "attachments": files(*attachments), **extra}
    return client.post("/intake/register", data=data, content_type="multipart/form-data")


def case_number(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[-1]


def attachments_of(core, number) -> list[Attachment]:
    with core.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        return list(session.scalars(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)))


@pytest.fixture
def app_factory(core, tmp_path):
    """Apps with their own attachment settings (a store per test, limits as the test says)."""
    from app import create_app

    def make(**config):
        base = {"TESTING": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False,
                "ATTACHMENTS_DIR": str(tmp_path / "store")}
        return create_app(base | config, core=core)
    return make


@pytest.fixture
def web(app_factory):
    app = app_factory()
    return lambda username: WebClient(app, username)


# -- upload and view ---------------------------------------------------------------------------
def test_intake_upload_is_stored_by_content_and_shown_on_the_case(web, core, tmp_path):
    operator = web("operator")
    photo = photo_with_gps()
    number = case_number(register(operator, attachments=[("现场.jpg", photo), ("说明.docx", docx_bytes()),
                                                          ("台账.xlsx", xlsx_bytes()), ("回执.pdf", pdf())]))
    rows = attachments_of(core, number)
    assert [(r.filename, r.kind, r.stage, r.from_resident) for r in rows] == [
        ("现场.jpg", "image", "intake", True), ("说明.docx", "docx", "intake", True),
        ("台账.xlsx", "xlsx", "intake", True), ("回执.pdf", "pdf", "intake", True)]
    # content-addressed: the blob's name is the sha256 of what is stored
    store = DirectoryStorage(tmp_path / "store")
    import hashlib
    for row in rows:
        assert hashlib.sha256(store.get(row.sha256)).hexdigest() == row.sha256
    assert rows[0].thumb_sha256 and store.exists(rows[0].thumb_sha256)
    # one audited registration carries the files
    attach = audit_rows(core, number, "attach")
    assert len(attach) == 1 and attach[0].changes["files"] == ["现场.jpg", "说明.docx", "台账.xlsx", "回执.pdf"]
    page = operator.get(f"/cases/{number}").get_data(as_text=True)
    assert f"/attachments/{rows[0].id}" in page and "说明.docx" in page
    response = operator.get(f"/attachments/{rows[3].id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == pdf() and response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_same_file_twice_is_stored_once(web, core, tmp_path):
    operator = web("operator")
    a = case_number(register(operator, phone="13900001111", attachments=[("a.pdf", pdf())]))
    b = case_number(register(operator, phone="13900002222", address="别处", attachments=[("b.pdf", pdf())]))
    assert attachments_of(core, a)[0].sha256 == attachments_of(core, b)[0].sha256
    assert len([p for p in (tmp_path / "store").rglob("*") if p.is_file()]) == 1


def test_files_of_another_departments_case_are_403(web, core, driver):
    number = case_number(register(web("operator"), attachments=[("现场.jpg", photo_with_gps())]))
    driver.dispatch(number)  # 城市管理 -> chengguan
    row = attachments_of(core, number)[0]
    assert web("handler").get(f"/attachments/{row.id}").status_code == 200
    other = web("handler2")  # community_building
    assert other.get(f"/attachments/{row.id}").status_code == 403
    assert other.get(f"/attachments/{row.id}/thumb").status_code == 403
    assert web(None).get(f"/attachments/{row.id}").status_code == 302  # to the login page
    assert web("operator").get("/attachments/999999").status_code == 404


def test_every_download_of_a_residents_file_is_audited(web, core, driver):
    number = case_number(register(web("operator"), attachments=[("现场.jpg", photo_with_gps())]))
    row = attachments_of(core, number)[0]
    dispatcher = web("dispatcher")
    assert dispatcher.get(f"/attachments/{row.id}").status_code == 200
    assert dispatcher.get(f"/attachments/{row.id}").status_code == 200
    assert web("handler2").get(f"/attachments/{row.id}").status_code == 403  # refused: nothing read, nothing written
    looks = audit_rows(core, number, "attachment_download")
    assert [(r.actor, r.changes["attachment"]) for r in looks] == [("dispatcher", row.id), ("dispatcher", row.id)]
    # the case page names the look on the timeline, and shows no inline preview of the resident's photo
    page = dispatcher.get(f"/cases/{number}").get_data(as_text=True)
    assert "查看附件" in page and f"/attachments/{row.id}/thumb" not in page


def test_patrol_photo_with_location_is_the_grid_workers_not_audited(web, core):
    grid = web("grid")
    page = grid.get("/intake/patrol").get_data(as_text=True)
    assert 'accept="image/*" capture' in page and 'enctype="multipart/form-data"' in page
    assert "js/geolocation.js" in page and 'id="latitude"' in page
    assert "navigator.geolocation" in grid.get("/static/js/geolocation.js").get_data(as_text=True)
    response = grid.post("/intake/patrol", content_type="multipart/form-data",
                         data={"type": "complaint", "text": "井盖缺失", "address": "长兴岛街137号",
                               "grid": "G01", "latitude": "36.0701234", "longitude": "120.1843219",
                               "accuracy": "12", "attachments": files(("IMG_0001.JPG", photo_with_gps()))})
    number = case_number(response)
    row = attachments_of(core, number)[0]
    assert (row.stage, row.from_resident, row.latitude, row.longitude) == ("patrol", False, 36.070123, 120.184322)
    assert audit_rows(core, number, "attach")[0].changes["location"]["latitude"] == 36.070123
    assert grid.get(f"/attachments/{row.id}").status_code == 200
    assert audit_rows(core, number, "attachment_download") == []
    # without a photo the position is still recorded with the report
    bare = case_number(grid.post("/intake/patrol", content_type="multipart/form-data",
                                 data={"type": "complaint", "text": "路灯不亮", "grid": "G01",
                                       "latitude": "36.07", "longitude": "120.18"}))
    assert attachments_of(core, bare) == []
    assert audit_rows(core, bare, "location")[0].changes["location"]["longitude"] == 120.18
    # nonsense coordinates are refused at their field, nothing registered
    with core.db.read() as session:
        before = session.scalar(select(func.count(Case.id)))
    bad = grid.post("/intake/patrol", content_type="multipart/form-data",
                    data={"type": "complaint", "text": "井盖缺失", "latitude": "999", "longitude": "1"})
    assert bad.status_code == 400 and "位置信息无效" in bad.get_data(as_text=True)
    with core.db.read() as session:
        assert session.scalar(select(func.count(Case.id))) == before


def test_reply_attachments_go_with_the_task_completion(web, core, driver):
    number = driver.register()
    driver.dispatch(number)
    driver.sign(number)
    task = driver.task(number, "handle")
    handler = web("handler")
    page = handler.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'name="attachments"' in page and 'enctype="multipart/form-data"' in page
    # a refused file refuses the completion: the task stays ready, nothing is linked
    bad = handler.post(f"/tasks/{task['id']}", content_type="multipart/form-data",
                       data={"decision": "reply", "reply_text": "已修复", "attachments": files(("after.jpg", MZ_EXE))})
    assert bad.status_code == 415 and "不被接受" in bad.get_data(as_text=True)
    assert driver.ready(number) == ["handle"] and attachments_of(core, number) == []
    ok = handler.post(f"/tasks/{task['id']}", content_type="multipart/form-data",
                      data={"decision": "reply", "reply_text": "已修复",
                            "attachments": files(("整改后.jpg", photo_with_gps()), ("验收单.pdf", pdf()))})
    assert ok.status_code == 303
    rows = attachments_of(core, number)
    assert [(r.stage, r.task_id, r.from_resident) for r in rows] == [("handle", task["id"], False)] * 2
    attach = audit_rows(core, number, "attach")
    complete = [r for r in audit_rows(core, number, "complete") if r.task_id == task["id"]]
    assert attach[0].task_id == task["id"] and attach[0].at == complete[0].at  # one transaction, one instant
    # the 核实 page shows the reply's files beside the form
    verify = driver.task(number, "verify")
    assert "整改后.jpg" in web("dispatcher").get(f"/tasks/{verify['id']}").get_data(as_text=True)


def test_a_form_without_upload_field_ignores_nothing_it_did_not_ask_for(web, driver):
    number = driver.register()
    task = driver.task(number, "dispatch")
    page = web("dispatcher").get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert 'name="attachments"' not in page


# -- types by content ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,data", [
    ("photo.jpg", MZ_EXE),                                    # an .exe renamed .jpg
    ("scan.pdf", b"#!/bin/sh\nrm -rf /\n"),
    ("report.docx", b"PK\x03\x04" + b"\x00" * 60),            # a zip that is not a document
    ("fake.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),        # PNG magic, no image behind it
])
def test_a_file_is_judged_by_its_content_not_its_name(web, core, name, data):
    operator = web("operator")
    response = register(operator, attachments=[(name, data)])
    body = response.get_data(as_text=True)
    assert response.status_code == 415 and "不被接受" in body and name in body
    assert 'id="attachments-error"' in body  # said at the field, the form kept
    with core.db.read() as session:
        assert session.scalar(select(func.count(Case.id))) == 0 and session.scalar(select(func.count(Attachment.id))) == 0


def test_macro_documents_are_refused(web, core):
    import zipfile
    buf = io.BytesIO(docx_bytes())
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("word/vbaProject.bin", b"\x00" * 10)
    response = register(web("operator"), attachments=[("宏.docx", out.getvalue())])
    assert response.status_code == 415 and "宏" in response.get_data(as_text=True)


def test_a_jpeg_named_png_is_kept_as_the_jpeg_it_is(web, core):
    number = case_number(register(web("operator"), attachments=[("现场.png", photo_with_gps())]))
    row = attachments_of(core, number)[0]
    assert (row.filename, row.mime) == ("现场.jpg", "image/jpeg")


# -- EXIF --------------------------------------------------------------------------------------
def test_exif_gps_is_stripped_from_stored_photos_and_thumbnails(web, core):
    operator = web("operator")
    number = case_number(register(operator, attachments=[("现场.jpg", photo_with_gps((640, 480)))]))
    row = attachments_of(core, number)[0]
    stored = operator.get(f"/attachments/{row.id}").data
    assert gps_of(stored) == {} and b"Exif" not in stored and b"PhoneMaker" not in stored
    assert web("grid").get(f"/attachments/{row.id}/thumb").status_code == 403  # not the grid worker's case
    thumb = operator.get(f"/attachments/{row.id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg" and gps_of(thumb.data) == {}
    from PIL import Image
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 320
    assert not row.exif_kept


def test_a_role_configured_to_keep_exif_keeps_the_gps(app_factory, core):
    grid = WebClient(app_factory(ATTACHMENTS_KEEP_EXIF_ROLES=["grid_worker"]), "grid")
    photo = photo_with_gps()
    response = grid.post("/intake/patrol", content_type="multipart/form-data",
                         data={"type": "complaint", "text": "井盖缺失", "grid": "G01",
                               "attachments": files(("IMG.jpg", photo))})
    row = attachments_of(core, case_number(response))[0]
    assert row.exif_kept and gps_of(grid.get(f"/attachments/{row.id}").data)[2] == (36.0, 4.0, 12.5)


# -- size --------------------------------------------------------------------------------------
def test_files_over_the_configured_limit_are_refused_with_413(app_factory, core):
    operator = WebClient(app_factory(ATTACHMENTS_MAX_BYTES=1000), "operator")
    too_big = register(operator, attachments=[("big.pdf", pdf(1001))])
    assert too_big.status_code == 413 and "big.pdf" in too_big.get_data(as_text=True)
    assert attachments_of(core, case_number(register(operator, attachments=[("ok.pdf", pdf(1000))])))[0].size == 1000


def test_the_default_limit_is_20_mb_and_one_byte_more_is_refused(web, core, tmp_path):
    assert DEFAULT_MAX_BYTES == 20 * 1024 * 1024
    assert AttachmentSettings.from_config({}, str(tmp_path)).max_bytes == DEFAULT_MAX_BYTES
    response = register(web("operator"), attachments=[("扫描件.pdf", pdf(DEFAULT_MAX_BYTES + 1))])
    assert response.status_code == 413 and "20 MB" in response.get_data(as_text=True)
    with core.db.read() as session:
        assert session.scalar(select(func.count(Case.id))) == 0
    service = AttachmentService(AttachmentSettings(directory=str(tmp_path / "s")))
    assert service.prepare([Upload("exact.pdf", io.BytesIO(pdf(DEFAULT_MAX_BYTES)))])[0].size == DEFAULT_MAX_BYTES
    with pytest.raises(TooLarge):
        service.prepare([Upload("over.pdf", io.BytesIO(pdf(DEFAULT_MAX_BYTES + 1)))])


# -- the duplicate confirm step keeps the files --------------------------------------------------
def test_files_survive_the_duplicate_confirmation_and_cannot_be_forged(web, core):
    operator = web("operator")
    case_number(register(operator, phone="13900001111"))
    first = register(operator, phone="13900001111", text="又来电：路灯仍不亮", attachments=[("现场.jpg", photo_with_gps())])
    body = first.get_data(as_text=True)
    assert first.status_code == 200 and "仍然受理" in body and "现场.jpg" in body
    token = re.search(r'name="held_attachments" value="([^"]+)"', body).group(1)
    bad = register(operator, phone="13900001111", text="又来电", held_attachments=token[:-2] + "xx",
                   confirm_duplicates="1")
    assert bad.status_code == 400 and "附件信息无效" in bad.get_data(as_text=True)
    number = case_number(register(operator, phone="13900001111", text="又来电：路灯仍不亮",
                                  held_attachments=token, confirm_duplicates="1"))
    assert [r.filename for r in attachments_of(core, number)] == ["现场.jpg"]


# -- S3 --------------------------------------------------------------------------------------------
@pytest.fixture
def s3_endpoint(monkeypatch):
    moto_server = pytest.importorskip("moto.server")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import boto3
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bihuan-files")
    yield endpoint
    # moto keeps its buckets in the process: the next test starts from none
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    server.stop()


def test_s3_storage_round_trip(s3_endpoint):
    store = S3Storage("bihuan-files", endpoint_url=s3_endpoint, prefix="attachments", region="us-east-1")
    key = "a" * 64
    assert not store.exists(key)
    store.put(key, b"hello")
    store.put(key, b"hello")  # idempotent
    assert store.exists(key) and store.get(key) == b"hello"
    listed = store.client.list_objects_v2(Bucket="bihuan-files")["Contents"]
    assert [o["Key"] for o in listed] == [f"attachments/{key}"]
    from app.errors import NotFound
    with pytest.raises(NotFound):
        store.get("b" * 64)
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")


def test_uploads_go_to_s3_when_configured(app_factory, core, s3_endpoint, tmp_path):
    app = app_factory(ATTACHMENTS_S3_BUCKET="bihuan-files", ATTACHMENTS_S3_ENDPOINT_URL=s3_endpoint,
                      ATTACHMENTS_S3_REGION="us-east-1")
    operator = WebClient(app, "operator")
    number = case_number(register(operator, attachments=[("现场.jpg", photo_with_gps())]))
    row = attachments_of(core, number)[0]
    import boto3
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="bihuan-files")["Contents"]}
    assert keys == {row.sha256, row.thumb_sha256}
    assert not (tmp_path / "store").exists()  # nothing went to the directory store
    downloaded = operator.get(f"/attachments/{row.id}")
    assert downloaded.status_code == 200 and gps_of(downloaded.data) == {}
    assert WebClient(app, "handler2").get(f"/attachments/{row.id}").status_code == 403


# -- 附件清理: the nightly clean-up of files no row names ----------------------------------------------
def _age(store: DirectoryStorage, key: str, when) -> None:
    import os
    os.utime(store._path(key), (when.timestamp(), when.timestamp()))


def test_unreferenced_files_are_cleaned_once_a_day_after_a_grace_period(web, core, clock, tmp_path):
    """A blob written for an action that never committed is deleted by the nightly job once it is
    older than a day; the files of a case (content and thumbnail) and a blob too young to judge stay.
    Each day runs once (job_runs), a missed day is caught up, and storing content already there
    again makes it young (an action under way is about to name it)."""
    import hashlib
    from app.attachments.cleanup import CLEANUP_JOB, cleanup_job
    from app.reports.report_models import JobRun
    from app.scheduler import clean_attachments
    from sqlalchemy import select
    store = DirectoryStorage(tmp_path / "store")
    number = case_number(register(web("operator"), attachments=[("现场.jpg", photo_with_gps())]))
    row = attachments_of(core, number)[0]
    orphan, young, renamed = (b"left by a refused upload", b"an upload committing now", b"named again")
    keys = {}
    for name, data in (("orphan", orphan), ("young", young), ("renamed", renamed)):
        keys[name] = hashlib.sha256(data).hexdigest()
        store.put(keys[name], data)
    now = at(2026, 11, 3, 4, 0)
    for key in (row.sha256, row.thumb_sha256, keys["orphan"], keys["renamed"]):
        _age(store, key, at(2026, 10, 30, 12, 0))
    _age(store, keys["young"], at(2026, 11, 3, 3, 0))
    store.put(keys["renamed"], renamed)  # stored again by an action under way: young again

    clock.move_to(now)
    result = clean_attachments(core, store)  # the scheduler's job is this call
    assert result == {"period": "2026-11-03", "checked": 3, "deleted": 1}
    assert not store.exists(keys["orphan"])
    assert all(store.exists(k) for k in (row.sha256, row.thumb_sha256, keys["young"], keys["renamed"]))
    assert web("operator").get(f"/attachments/{row.id}").status_code == 200
    assert cleanup_job(core, store, now) is None  # the day is done, whichever scheduler asks

    clock.move_to(at(2026, 11, 5, 9, 0))  # down over the night of the 4th: the latest due day runs
    _age(store, keys["young"], at(2026, 11, 3, 3, 0))
    _age(store, keys["renamed"], at(2026, 11, 3, 3, 0))
    assert cleanup_job(core, store)["deleted"] == 2
    assert store.exists(row.sha256) and store.exists(row.thumb_sha256)
    with core.db.read() as session:
        assert sorted(session.scalars(select(JobRun.period).where(JobRun.job == CLEANUP_JOB))) == [
            "2026-11-03", "2026-11-05"]


def test_a_failed_clean_up_gives_its_day_back(core, clock, tmp_path):
    from app.attachments.cleanup import cleanup_job

    class Broken(DirectoryStorage):
        def keys(self, older_than):
            raise OSError("the store is away")
    clock.move_to(at(2026, 11, 3, 4, 0))
    with pytest.raises(OSError):
        cleanup_job(core, Broken(tmp_path / "s"))
    assert cleanup_job(core, DirectoryStorage(tmp_path / "s")) == {"period": "2026-11-03", "checked": 0,
                                                                   "deleted": 0}


def test_s3_clean_up_lists_and_deletes_under_the_prefix(s3_endpoint):
    from datetime import timedelta
    store = S3Storage("bihuan-files", endpoint_url=s3_endpoint, prefix="attachments", region="us-east-1")
    store.put("a" * 64, b"a")
    store.client.put_object(Bucket="bihuan-files", Key="other/" + "b" * 64, Body=b"b")  # not ours
    # The server stamps objects with its own clock, not the test's frozen one: measure from its stamp.
    stamped = store.client.head_object(Bucket="bihuan-files", Key=store._key("a" * 64))["LastModified"]
    later = stamped + timedelta(minutes=5)
    assert list(store.keys(older_than=later)) == ["a" * 64]
    assert list(store.keys(older_than=later - timedelta(hours=1))) == []
    store.put("a" * 64, b"a")  # stored again: refreshed, still there
    store.delete("a" * 64)
    assert not store.exists("a" * 64) and list(store.keys(older_than=later)) == []


def test_the_clean_up_on_demand_from_the_cli(core, clock, tmp_path, database_url, monkeypatch):
    """``bihuan attachments clean`` lists the store the environment names, as the scheduler does."""
    from datetime import timedelta
    from tests.test_cli import run
    monkeypatch.setenv("BIHUAN_ATTACHMENTS_DIR", str(tmp_path / "store"))
    store = DirectoryStorage(tmp_path / "store")
    store.put("c" * 64, b"old")
    store.put("d" * 64, b"recent")
    now = at(2026, 11, 3, 10, 0)
    clock.move_to(now)
    _age(store, "c" * 64, now - timedelta(hours=30))
    _age(store, "d" * 64, now - timedelta(hours=2))
    assert run("attachments", "clean", url=database_url) == {"checked": 1, "deleted": 1}
    assert not store.exists("c" * 64) and store.exists("d" * 64)
    assert run("attachments", "clean", "--grace-hours", "1", url=database_url) == {"checked": 1, "deleted": 1}
    assert "at least 1" in run("attachments", "clean", "--grace-hours", "0", url=database_url, expect_ok=False)


def test_the_clean_up_looks_blobs_up_through_indexes(core):
    """Each batch of stored keys is matched against the content and the thumbnail columns by index,
    never by reading the whole table (migration 0042 indexed the thumbnail's)."""
    from sqlalchemy import or_, select, text

    from app.attachments.models import Attachment
    if core.db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN names the indexes plainly")
    keys = ["a" * 64, "b" * 64]
    query = select(Attachment.sha256, Attachment.thumb_sha256).where(
        or_(Attachment.sha256.in_(keys), Attachment.thumb_sha256.in_(keys)))
    with core.db.read() as session:
        compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        plan = " | ".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_attachments_sha256" in plan and "ix_attachments_thumb_sha256" in plan, plan
    assert "SCAN attachments" not in plan, plan
