"""The English catalog: complete, compilable, covering the dynamic label msgids, and used by the pages.

The msgids are the Chinese UI texts. Labels stored as identifiers (channel, status, role ...) are
translated at render time with a msgid pybabel cannot see, so app/web/label_messages.py lists them.
"""
from __future__ import annotations

import gettext
import io
import json
import re
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from app.auth.models import ROLES
from app.cases import views as cases_web
from app.cases.models import CHANNELS, DIFFICULTIES, STATUSES, TYPES
from app.supervision.models import ITEM_STATUSES, REASONS, TIERS
from app.web import errors, label_messages

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# What app/web/formatting.py label() translates ...
LABEL_DICTS = {"channel": CHANNELS, "type": TYPES, "difficulty": DIFFICULTIES, "status": STATUSES, "role": ROLES,
               "tier": TIERS, "reason": REASONS, "item_status": ITEM_STATUSES}
# ... and the other dicts whose values go through gettext with a dynamic msgid.
OTHER_DICTS = {"case_action": cases_web.ACTIONS, "task_action": cases_web.TASK_ACTIONS,
               "decision": cases_web.DECISIONS, "actor": cases_web.ACTORS, "case_field": cases_web.FIELDS,
               "satisfaction": cases_web.SATISFACTION, "measure": cases_web.MEASURES,
               "accountability_decision": cases_web.DECISIONS_3,
               "error_title": {**errors.TITLES, "default": "错误"}}
DYNAMIC = sorted({text for d in [*LABEL_DICTS.values(), *OTHER_DICTS.values()] for text in d.values()})

# The texts of the shipped task forms, which app/tasks/forms.py and app/cases/views.py translate at render time.
SHIPPED_FORMS = sorted((ROOT / "bpmn" / "forms").glob("*.schema.json"))


def _form_texts(path: Path) -> list[str]:
    """A form's title and its properties' titles, enumNames entries and descriptions."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    texts = [schema.get("title"), schema.get("description")]
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            texts += [prop.get("title"), *(prop.get("enumNames") or []), prop.get("description")]
    return [t for t in texts if isinstance(t, str) and t]


FORM_TEXTS = sorted({text for path in SHIPPED_FORMS for text in _form_texts(path)})

CHINESE_DATA = {"如 城市管理"}   # the placeholder of the category filter: categories are stored in Chinese
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|\{[^{}]*\}")


def _catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="en")


@pytest.fixture(scope="module", autouse=True)
def english() -> gettext.GNUTranslations:
    """The compiled catalog the pages read: messages.mo is a build output (`make setup`), so it is
    built here when it is missing or older than the .po."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        with MO.open("wb") as f:
            write_mo(f, _catalog())
    with MO.open("rb") as f:
        return gettext.GNUTranslations(f)


@pytest.mark.parametrize("kind, values", [*LABEL_DICTS.items(), *OTHER_DICTS.items()])
def test_every_label_is_listed_for_extraction(kind, values):
    listed = {**label_messages.LABELS, **label_messages.OTHER}
    assert set(values.values()) <= set(listed.get(kind, ())), \
        f"add the new {kind} words to app/web/label_messages.py and run `make translations`"


@pytest.mark.parametrize("text", DYNAMIC)
def test_every_label_is_in_the_compiled_english_catalog(english, text):
    translated = english.gettext(text)
    assert translated != text and translated.strip(), text
    assert not re.search(r"[\u4e00-\u9fff]", translated), (text, translated)


@pytest.mark.parametrize("path", SHIPPED_FORMS, ids=lambda p: p.name.split(".")[0])
def test_every_shipped_form_text_is_listed_for_extraction(path):
    listed = set(label_messages.FORMS.get(path.name.split(".")[0], ()))
    missing = [text for text in _form_texts(path) if text not in listed]
    assert not missing, f"regenerate FORMS in app/web/label_messages.py and run `make translations`: {missing}"


@pytest.mark.parametrize("text", FORM_TEXTS)
def test_every_shipped_form_text_is_in_the_compiled_english_catalog(english, text):
    translated = english.gettext(text)
    assert translated != text and translated.strip(), text
    assert not re.search(r"[\u4e00-\u9fff]", translated), (text, translated)


def test_the_catalog_compiles_with_every_message_translated():
    catalog = _catalog()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 500
    assert not catalog.fuzzy
    empty = [m.id for m in messages if not m.string or not str(m.string).strip()]
    assert not empty, empty[:10]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not fuzzy, fuzzy[:10]
    problems = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert not problems, problems[:10]
    # Brace placeholders ({n}, {id}, {message}) are not checked by Babel: they must survive too.
    lost = [m.id for m in messages if sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))]
    assert not lost, lost[:10]
    # English texts do not keep Chinese characters (except an example of Chinese data, such as a category
    # to type into a filter); HTML only where the msgid has it.
    chinese = [m.id for m in messages if re.search(r"[\u4e00-\u9fff]", m.string) and m.id not in CHINESE_DATA]
    assert not chinese, chinese[:10]
    html = [m.id for m in messages if ("<" in m.string) != ("<" in m.id)]
    assert not html, html[:10]
    write_mo(io.BytesIO(), catalog)


def test_the_catalog_has_every_marked_text_of_the_sources():
    """A text wrapped in _() since the last `make translations` would stay Chinese in the English UI."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}
    extracted = {message if isinstance(message, str) else message[0]
                 for _file, _line, message, _comments, _context in
                 extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords)}
    known = {m.id for m in _catalog() if m.id}
    missing = sorted(extracted - known)
    assert not missing, f"run `make translations` and translate: {missing[:10]}"


def test_switching_to_english_and_back(login):
    client = login("dispatcher")
    assert "我的待办" in client.get("/tasks").get_data(as_text=True)

    client.get("/lang/en")
    worklist = client.get("/tasks").get_data(as_text=True)
    assert 'lang="en"' in worklist
    assert "My worklist" in worklist and "我的待办" not in worklist
    assert "Case search" in worklist and "Log out" in worklist       # the navigation
    assert "All tasks" in worklist and "Phone complaint" in worklist  # tabs, a channel label in a filter
    search = client.get("/cases/search").get_data(as_text=True)
    assert "Case search" in search and "Case number" in search and "案件查询" not in search

    client.get("/lang/zh_CN")
    worklist = client.get("/tasks").get_data(as_text=True)
    assert 'lang="zh-CN"' in worklist and "我的待办" in worklist and "My worklist" not in worklist
    assert "案件查询" in client.get("/cases/search").get_data(as_text=True)


def test_stored_identifiers_on_a_case_page_are_shown_in_english(login, driver):
    """Status, channel, type and the timeline's field names go through the dynamic msgids."""
    number = driver.register(type="complaint", channel="phone")
    client = login("dispatcher")
    client.get("/lang/en")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    for english in ("Phone complaint", "Complaint", "Channel", "Request type", "Registered by"):
        assert english in page, english
    for chinese in ("公众电话投诉", "来源渠道", "诉求类型", "已受理"):
        assert chinese not in page, chinese


def test_task_forms_show_the_schema_texts_in_english(login, driver):
    """Field titles, option names and the generated "required when" hints come from the form schemas."""
    task_id = driver.task(driver.register(), "dispatch")["id"]
    client = login("dispatcher")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "处理方式" in page and "派单" in page and "Course of action" not in page

    client.get("/lang/en")
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert ">Course of action</legend>" in page
    assert re.search(r'value="dispatch"[^>]*>\s*Dispatch</label>', page)
    assert re.search(r'value="merge_duplicate"[^>]*>\s*Merge duplicate \(repeat case\)</label>', page)
    assert "Required when “Course of action” is “Merge duplicate (repeat case)”" in page
    assert ">Refusal reason</label>" in page
    for chinese in ("处理方式", "并单（重复件）", "重复件原工单号", ">不予受理理由<"):
        assert chinese not in page, chinese


def test_the_timeline_shows_form_values_in_english(login, driver):
    number = driver.register()
    driver.do(number, "dispatch", "dispatcher", decision="merge_duplicate", duplicate_of=driver.register())
    client = login("dispatcher")
    client.get("/lang/en")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "Course of action" in page and "Merge duplicate (repeat case)" in page
    assert "处理方式" not in page and "并单（重复件）" not in page
