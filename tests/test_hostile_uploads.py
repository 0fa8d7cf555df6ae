"""Uploads from other tools and from attackers: each is accepted or refused with a clear message.

The corpus in tests/fixtures/foreign_bpmn/ imitates other tools' exports; malformed variants are
generated here from it with a fixed seed. For every input, ``import_file`` either lands the file
in the draft or raises ``Invalid`` with a specific message — never any other exception — quickly,
and no byte of /etc/passwd ever shows up anywhere.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cases.models import AuditEntry
from app.errors import Invalid
from app.processes import drafts
from app.processes.importing import MAX_IMPORT_BYTES

CORPUS = Path(__file__).parent / "fixtures" / "foreign_bpmn"
FOREIGN = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".bpmn", ".dmn", ".json"))
XML_FOREIGN = [name for name in FOREIGN if not name.endswith(".json")]
PASSWD = Path("/etc/passwd").read_text().splitlines()[0] if Path("/etc/passwd").exists() else "root:x:0:0"
# A guard against a blow-up (entity expansion, quadratic parsing), which takes minutes or never
# ends; not a speed target. CPU time of this thread, so a busy or slow machine does not trip it.
CPU_SECONDS = 15.0
BPMN = b'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"'
SMALL = (b'<definitions ' + BPMN + b' id="d"><process id="tiny" isExecutable="true"><startEvent id="s"/>'
         b'</process></definitions>')


def attempt(core, filename: str, data: bytes) -> dict:
    """Import into the shared draft; returns what happened. Any exception but Invalid fails the test."""
    started = time.thread_time()
    try:
        with core.db.unit_of_work() as session:
            draft = drafts.open_draft(session, "designer")
            draft, problems = drafts.import_file(session, filename=filename, data=data,
                                                 base_revision=draft.revision, actor="designer")
            outcome = {"accepted": True, "files": dict(draft.files), "problems": problems,
                       "text": json.dumps(draft.files, ensure_ascii=False) + " ".join(map(str, problems))}
    except Invalid as exc:
        outcome = {"accepted": False, "message": str(exc), "fields": exc.fields, "text": str(exc) + str(exc.fields)}
    elapsed = time.thread_time() - started
    assert elapsed < CPU_SECONDS, f"{filename}: took {elapsed:.1f} s of CPU"
    assert PASSWD not in outcome["text"] and "root:x:0:0" not in outcome["text"]
    with core.db.read() as session:
        audit = json.dumps([row.changes for row in session.scalars(select(AuditEntry))], ensure_ascii=False)
    assert "root:x:0:0" not in audit
    return outcome


def refused(core, filename, data, *words) -> str:
    outcome = attempt(core, filename, data)
    assert not outcome["accepted"], f"{filename} was accepted"
    for word in words:
        assert word in outcome["message"], outcome["message"]
    return outcome["message"]


# -- foreign tools' files ------------------------------------------------------------------------------
EXPECTED_PATHS = {
    "bpmnio_demo.bpmn": "Process_1.bpmn",
    "camunda8_zeebe.bpmn": "noise_complaint_c8.bpmn",
    "camunda_decision.dmn": "rules/case_priority.dmn",
    "camunda_modeler5.bpmn": "street_light_repair.bpmn",
    "collaboration_message_flows.bpmn": "resident_side.bpmn",
    "colored_bioc.bpmn": "colored_request.bpmn",
    "extra_info.schema.json": "forms/extra_info.schema.json",
    "hand_written_no_di.bpmn": "quick_inquiry.bpmn",
    "signavio_export.bpmn": "sid-8a41c0d2.bpmn",
}


def test_the_corpus_is_complete():
    assert set(FOREIGN) == set(EXPECTED_PATHS)


@pytest.mark.parametrize("name", FOREIGN)
def test_foreign_files_are_accepted_and_kept_as_they_are(core, name):
    data = (CORPUS / name).read_bytes()
    outcome = attempt(core, name, data)
    assert outcome["accepted"], outcome.get("message")
    path = EXPECTED_PATHS[name]
    stored = outcome["files"][path]
    if name == "hand_written_no_di.bpmn":
        assert stored.startswith(data.decode().rstrip()[: -len("</bpmn:definitions>")])
        assert "BPMNDiagram" in stored or any("layout" in p.message for p in outcome["problems"])
    else:
        assert stored == data.decode()  # vendor extensions, colors and comments all kept
    # the shipped bundle is untouched; problems of the new file come first and name it
    assert outcome["files"]["case_lifecycle.bpmn"]
    mine = [p for p in outcome["problems"] if p.file == path]
    assert outcome["problems"][: len(mine)] == mine


def test_what_foreign_files_need_before_they_can_run(core):
    found = {name: attempt(core, name, (CORPUS / name).read_bytes())["problems"] for name in FOREIGN}
    signavio = [p for p in found["signavio_export.bpmn"] if p.file == "sid-8a41c0d2.bpmn"]
    assert any(p.severity == "warning" and "not executable" in p.message for p in signavio)
    camunda = [p for p in found["camunda_modeler5.bpmn"] if p.file == "street_light_repair.bpmn"]
    assert camunda and camunda[0].element_id == "Activity_order" and camunda[0].element_name == "下单采购"
    dmn = [p for p in found["camunda_decision.dmn"] if p.file == "rules/case_priority.dmn"]
    assert [(p.element_id, p.element_name) for p in dmn] == [("UnaryTests_2b", "投诉区间")]
    assert "FEEL ranges" in dmn[0].message
    colored = [p for p in found["colored_bioc.bpmn"] if p.file == "colored_request.bpmn" and p.severity == "error"]
    assert colored == []


def test_a_second_import_of_the_same_process_replaces_it(core):
    data = (CORPUS / "camunda_modeler5.bpmn").read_bytes()
    attempt(core, "camunda_modeler5.bpmn", data)
    outcome = attempt(core, "renamed-by-user.bpmn", data.replace('name="现场查看"'.encode(), 'name="现场核查"'.encode()))
    assert outcome["accepted"]
    assert "renamed-by-user.bpmn" not in outcome["files"]
    assert "现场核查" in outcome["files"]["street_light_repair.bpmn"]
    assert any("replaced" in p.message for p in outcome["problems"])


def test_the_shipped_lifecycle_imported_under_another_name_replaces_its_own_file(core):
    data = (Path(__file__).parents[1] / "bpmn" / "case_lifecycle.bpmn").read_bytes()
    outcome = attempt(core, "download (1).xml", data)
    assert outcome["accepted"]
    assert "case_lifecycle.bpmn" in outcome["files"] and not any(p.startswith("download") for p in outcome["files"])
    assert outcome["files"]["case_lifecycle.bpmn"] == data.decode()
    assert any("replaced" in p.message for p in outcome["problems"])
    assert not [p for p in outcome["problems"] if p.severity == "error"]


# -- generated malformed variants ------------------------------------------------------------------------
def variants(data: bytes, seed: int):
    """Truncations at several offsets and random byte flips, reproducibly."""
    size = len(data)
    for cut in sorted({1, 10, size // 10, size // 3, size // 2, (size * 9) // 10, size - 1}):
        yield f"truncated at {cut}", data[:cut]
    rng = random.Random(seed)
    for n in range(8):
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 25)):
            flipped[rng.randrange(size)] = rng.randrange(256)
        yield f"flip #{n}", bytes(flipped)
    yield "doubled", data + data
    yield "nul bytes", data.replace(b">", b">\x00", 3)


@pytest.mark.parametrize("name", FOREIGN)
def test_malformed_variants_are_accepted_or_refused_clearly(core, name):
    data = (CORPUS / name).read_bytes()
    refused_count = 0
    for label, variant in variants(data, seed=sum(name.encode())):
        outcome = attempt(core, name, variant)
        if not outcome["accepted"]:
            refused_count += 1
            assert "无法导入" in outcome["message"] and len(outcome["message"]) > 20, (label, outcome["message"])
            assert outcome["fields"], label
    assert refused_count >= 5  # most of the damage is caught at the door


# -- attacks and oddities ---------------------------------------------------------------------------------
XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       b'<definitions ' + BPMN + b' id="d"><process id="p" name="&xxe;" isExecutable="true">'
       b'<startEvent id="s" name="&xxe;"/></process></definitions>')
XXE_PARAMETER = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
                 b'<definitions ' + BPMN + b'/>')
EXTERNAL_DTD = b'<?xml version="1.0"?><!DOCTYPE definitions SYSTEM "file:///etc/passwd"><definitions ' + BPMN + b'/>'
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b']><definitions ' + BPMN + b'><process id="p" name="&lol9;"/></definitions>')
QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "' + b"A" * 50_000 + b'">]><definitions '
             + BPMN + b'><process id="p" name="' + b"&a;" * 20_000 + b'"/></definitions>')


@pytest.mark.parametrize("label,data", [
    ("xxe", XXE), ("xxe parameter entity", XXE_PARAMETER), ("external dtd", EXTERNAL_DTD),
    ("billion laughs", LAUGHS), ("quadratic blowup", QUADRATIC),
    ("plain doctype", b"<!DOCTYPE html>" + SMALL),
    ("doctype after comment and PI", b'<?xml version="1.0"?>\n<!-- c --><?pi x?>\n<!DOCTYPE definitions>' + SMALL),
    ("doctype after BOM", b"\xef\xbb\xbf<!DOCTYPE definitions [<!ENTITY x 'y'>]>" + SMALL),
    ("doctype in UTF-16", ("<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>" + SMALL.decode())
     .encode("utf-16")),
])
def test_doctype_and_entities_are_refused_fast(core, label, data):
    refused(core, "evil.bpmn", data, "DOCTYPE")


@pytest.mark.parametrize("filename,data,words", [
    ("empty.bpmn", b"", ["文件为空"]),
    ("blank.bpmn", b"  \n\t ", ["文件为空"]),
    ("big.bpmn", b"<" + b" " * MAX_IMPORT_BYTES, ["50 MB"]),
    ("large.bpmn", SMALL + b"<!--" + b"x" * (6 * 1024 * 1024) + b"-->", ["5 MB"]),
    ("latin1.bpmn", SMALL.replace(b'id="tiny"', b'id="tiny" name="caf\xe9"'), ["UTF-8", "0xe9"]),
    ("odd-encoding.bpmn", b'<?xml version="1.0" encoding="x-no-such"?>' + SMALL, ["x-no-such"]),
    ("svg.bpmn", b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', ["<svg>", "BPMN"]),
    ("html.bpmn", b"<html><body>hi</body></html>", ["<html>", "无命名空间"]),
    ("plain.bpmn", b"<definitions><process id='p'/></definitions>", ["无命名空间"]),
    ("process-root.bpmn", b"<process " + BPMN + b" id='p'/>", ["<process>"]),
    ("no-process.bpmn", b"<definitions " + BPMN + b" id='d'/>", ["没有流程（<process>）"]),
    ("no-decision.dmn", b"<definitions xmlns='https://www.omg.org/spec/DMN/20191111/MODEL/' id='d'/>",
     ["没有决策表（<decision>）"]),
    ("malformed.bpmn", b"<definitions " + BPMN + b"><process id='p'></definitions>", ["XML 格式错误"]),
    ("text.bpmn", b"just some text", ["XML 格式错误"]),
    ("evil.exe", SMALL, [".bpmn"]),
    ("image.png", b"\x89PNG\r\n\x1a\n", [".bpmn"]),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, ["JSON 嵌套超过 64 层"]),
    ("deep-objects.json", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, ["JSON 嵌套超过 64 层"]),
    ("broken.json", b'{"type": "object",', ["不是合法的 JSON："]),
    ("list.json", b"[1, 2, 3]", ["表单必须是 JSON 对象"]),
    ("bad-schema.json", b'{"type": 12}', ["不是合法的 JSON Schema："]),
    ("huge-number.json", b'{"type": "object", "maxLength": ' + b"9" * 100_000 + b"}", ["不是合法的 JSON："]),
    ("latin1.json", b'{"title": "caf\xe9"}', ["UTF-8"]),
    ("...schema.json", b'{"type": "object"}', ["文件名不能用作表单名"]),
])
def test_bad_uploads_are_refused_with_a_specific_message(core, filename, data, words):
    refused(core, filename, data, *words)


def test_other_encodings_are_converted_when_declared(core):
    chinese = SMALL.replace(b'id="tiny"', 'id="tiny" name="夜间施工"'.encode())
    gbk = b'<?xml version="1.0" encoding="GBK"?>' + chinese.decode().encode("gbk")
    outcome = attempt(core, "gbk.bpmn", gbk)
    assert outcome["accepted"]
    assert 'name="夜间施工"' in outcome["files"]["tiny.bpmn"]
    assert 'encoding="UTF-8"' in outcome["files"]["tiny.bpmn"]
    assert any("converted from gbk" in p.message for p in outcome["problems"])
    outcome = attempt(core, "utf16.bpmn", chinese.decode().encode("utf-16"))
    assert outcome["accepted"] and 'name="夜间施工"' in outcome["files"]["tiny.bpmn"]


def test_hostile_names_never_choose_the_path(core):
    outcome = attempt(core, "../../../etc/passwd.bpmn", SMALL)
    assert outcome["accepted"] and "tiny.bpmn" in outcome["files"]
    evil_id = SMALL.replace(b'id="tiny"', b'id="../../evil"')
    outcome = attempt(core, "C:\\Users\\x\\我的流程.bpmn", evil_id)
    assert outcome["accepted"]
    assert "我的流程.bpmn" in outcome["files"]
    long_id = SMALL.replace(b'id="tiny"', b'id="' + b"a" * 5000 + b'"')
    outcome = attempt(core, "\x00.bpmn", long_id)
    assert outcome["accepted"] and "imported.bpmn" in outcome["files"]
    outcome = attempt(core, "../../x/form.schema.json", b'{"type": "object"}')
    assert "forms/form.schema.json" in outcome["files"]
    for path in outcome["files"]:
        drafts.require_model_path(path)  # every stored path is a legal bundle path


def test_scripts_in_uploads_are_checked_never_run(core, tmp_path):
    marker = tmp_path / "pwned"
    script = (f"import os\nos.system('touch {marker}')").encode()
    data = SMALL.replace(b'<startEvent id="s"/>', b'<startEvent id="s"><outgoing>f</outgoing></startEvent>'
                         b'<scriptTask id="evil" name="evil"><incoming>f</incoming><script>' + script +
                         b'</script></scriptTask><sequenceFlow id="f" sourceRef="s" targetRef="evil"/>')
    outcome = attempt(core, "script.bpmn", data)
    assert outcome["accepted"]
    assert any(p.element_id == "evil" and "imports are not allowed" in p.message for p in outcome["problems"])
    assert not marker.exists()
    with pytest.raises(Invalid):
        with core.db.unit_of_work() as session:
            drafts.deploy_draft(session, actor="designer", expected_revision=drafts.get_draft(session).revision)
    assert not marker.exists()
