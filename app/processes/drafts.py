"""The designers' working copy: one shared draft of the whole bundle, saved with revisions.

Designers edit BPMN diagrams, DMN tables and JSON Schema forms in the browser. Every save goes
into the single ``ProcessDraft`` row (id 1); nothing runs from it until ``deploy_draft`` turns it
into the next ``ProcessVersion``. Running cases keep the version they started on.

Two designers can have the draft open at once. Each save names the revision it was based on; a
stale one is refused with ``Conflict`` naming who saved last, so nobody's work is overwritten
silently. The revision is also SQLAlchemy's version counter, so two saves racing in parallel
transactions still end as one success and one conflict.

Every function takes a SQLAlchemy ``session`` opened by the caller with ``core.db.unit_of_work()``
(writes) or ``core.db.read()`` (reads); errors come from ``app.errors``.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflows.bundle import read_directory
from workflows.clock import utcnow
from workflows.model import hash_files
from workflows.reading import MAX_FILE_BYTES, model_kind, model_title, unsafe_path
from workflows.validation import Problem, validate_files

from ..auth.models import ROLES
from ..cases.models import AuditEntry, WorkflowInstance
from ..errors import Conflict, Invalid, NotFound
from .models import ProcessDraft, ProcessVersion
from .problem_text import describe
from .problem_text import tr as _
from .services import LIFECYCLE_PROCESS, SHIPPED_BUNDLE, deploy, ensure_shipped_version, latest_version

DRAFT_ID = 1
SOURCE = "designer"


def require_model_path(path: str) -> str:
    """The kind of model ('bpmn' | 'dmn' | 'form') a bundle keeps at ``path`` (``workflows.reading.model_kind``);
    Invalid saying why for any other path (absolute, '..', hidden, another kind of file)."""
    kind = model_kind(path)
    if kind is not None:
        return kind
    why = unsafe_path(path)
    if why == "invalid":
        raise Invalid(_("文件路径无效。"), fields=[("path", "invalid path")])
    if why == "escapes":
        raise Invalid(_("文件路径无效：%(path)s（不能是绝对路径，也不能含有 ..）", path=path),
                      fields=[("path", "invalid path")])
    if why == "hidden":
        raise Invalid(_("文件路径无效：%(path)s", path=path), fields=[("path", "invalid path")])
    raise Invalid(_("不支持的文件：%(path)s（请使用 *.bpmn、rules/*.dmn 或 forms/*.schema.json）", path=path),
                  fields=[("path", "unsupported file")])


def bundle_problems(files: dict[str, bytes]) -> list[Problem]:
    """Every problem of these files as a bundle of this application, never raising: the checks of
    ``workflows.validation.validate_files`` against its roles (lane ids) and its lifecycle process
    ``case_lifecycle``. 'error' problems block a deploy, 'warning' ones do not."""
    return validate_files(files, known_roles=ROLES, required_process=LIFECYCLE_PROCESS)


def errors_only(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _audit(session: Session, actor: str, action: str, changes: dict) -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor or "", case_id=None, action=action, changes=changes,
                           source=SOURCE))


def _encode(files: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode("utf-8") for path, text in files.items()}


# -- reading --------------------------------------------------------------------------------------
def get_draft(session: Session) -> ProcessDraft | None:
    """The shared draft, or None when nobody has opened one since the last discard."""
    return session.get(ProcessDraft, DRAFT_ID)


def _shipped_files() -> dict[str, str]:
    return {path: data.decode("utf-8") for path, data in read_directory(SHIPPED_BUNDLE).items()}


def draft_files(session: Session) -> dict[str, str]:
    """path -> text of the draft if there is one, else of the latest deployed version (on a fresh
    install with nothing deployed yet: the shipped files in bpmn/, which become version 1)."""
    draft = get_draft(session)
    if draft is not None:
        return dict(draft.files)
    latest = latest_version(session)
    return dict(latest.files) if latest is not None else _shipped_files()


def _title(path: str, kind: str, text: str) -> str:
    return model_title(path, kind, text.encode("utf-8"))


def list_models(session: Session) -> list[dict]:
    """The process library: one dict per editable file, sorted by kind then path.

    ``{path, kind: 'bpmn'|'dmn'|'form', title, deployed_version, draft_changed, changed_by,
    changed_at, deleted}``:

    * ``title`` — the process name, the decision name, or the form's ``title`` (else the path);
    * ``deployed_version`` — number of the latest deployed version that contains this file
      (0 when the file exists only in the draft);
    * ``draft_changed`` — the draft's text differs from the latest version (new, edited or
      deleted in the draft); ``deleted`` — the draft removed it;
    * ``changed_by`` / ``changed_at`` — for a file changed in the draft, the designer who last
      saved it and when; otherwise who deployed the version that last changed it.
    """
    versions = list(session.scalars(select(ProcessVersion).order_by(ProcessVersion.version)))
    latest = versions[-1] if versions else None
    draft = get_draft(session)
    # Nothing deployed yet: the shipped files are what version 1 will be.
    deployed = dict(latest.files) if latest else _shipped_files()
    current = dict(draft.files) if draft else deployed
    last_saves = _last_saves(session, draft) if draft else {}
    rows = []
    for path in sorted(set(deployed) | set(current)):
        kind = model_kind(path)
        if kind is None:
            continue
        text = current.get(path, deployed.get(path, ""))
        changed = current.get(path) != deployed.get(path)
        if changed and draft is not None:
            by, at = last_saves.get(path, (draft.updated_by, draft.updated_at))
        else:
            introduced = _introduced_in(versions, path)
            by, at = (introduced.deployed_by, introduced.deployed_at) if introduced else ("", None)
        rows.append({
            "path": path, "kind": kind, "title": _title(path, kind, text),
            "deployed_version": _latest_containing(versions, path),
            "draft_changed": changed, "deleted": path not in current,
            "changed_by": by, "changed_at": at,
        })
    order = {"bpmn": 0, "dmn": 1, "form": 2}
    return sorted(rows, key=lambda r: (order[r["kind"]], r["path"]))


def _latest_containing(versions: list[ProcessVersion], path: str) -> int:
    for row in reversed(versions):
        if path in row.files:
            return row.version
    return 0


def _introduced_in(versions: list[ProcessVersion], path: str) -> ProcessVersion | None:
    """The earliest version since which the file has had its current deployed text."""
    found = None
    text = versions[-1].files.get(path) if versions else None
    for row in reversed(versions):
        if row.files.get(path) != text:
            break
        found = row
    return found


def _last_saves(session: Session, draft: ProcessDraft) -> dict[str, tuple[str, datetime]]:
    rows = session.scalars(select(AuditEntry).where(
        AuditEntry.case_id.is_(None), AuditEntry.action.in_(("draft_save", "draft_delete", "draft_import")),
        AuditEntry.at >= draft.created_at).order_by(AuditEntry.id))
    saves = {}
    for row in rows:
        path = (row.changes or {}).get("path")
        if path:
            saves[path] = (row.actor, row.at)
    return saves


def version_summaries(session: Session) -> list[dict]:
    """Every deployed version, newest first: ``{id, version, deployed_at, deployed_by, note,
    open_cases, content_hash}``; ``open_cases`` counts the not-completed workflow instances on it."""
    counts = dict(session.execute(
        select(WorkflowInstance.process_version_id, func.count())
        .where(WorkflowInstance.completed.is_(False)).group_by(WorkflowInstance.process_version_id)).all())
    return [{"id": row.id, "version": row.version, "deployed_at": row.deployed_at, "deployed_by": row.deployed_by,
             "note": row.note, "open_cases": int(counts.get(row.id, 0)), "content_hash": row.content_hash,
             "whatif_run_id": row.whatif_run_id, "whatif_summary": row.whatif_summary}
            for row in session.scalars(select(ProcessVersion).order_by(ProcessVersion.version.desc()))]


def get_version(session: Session, version: int) -> ProcessVersion:
    row = session.scalars(select(ProcessVersion).where(ProcessVersion.version == version)).first()
    if row is None:
        raise NotFound(_("流程版本 %(version)s 不存在。", version=version))
    return row


# -- editing --------------------------------------------------------------------------------------
def open_draft(session: Session, actor: str) -> ProcessDraft:
    """The shared draft, created from the latest deployed version when there is none."""
    draft = get_draft(session)
    if draft is not None:
        return draft
    base = ensure_shipped_version(session)
    now = utcnow()
    draft = ProcessDraft(id=DRAFT_ID, base_version_id=base.id, files=dict(base.files), created_at=now,
                         updated_at=now, updated_by=actor or "")
    session.add(draft)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(_("另一位设计员刚刚同时打开了草稿，请刷新页面。")) from None
    _audit(session, actor, "draft_open", {"base_version": base.version})
    return draft


def _require_revision(draft: ProcessDraft, base_revision) -> None:
    try:
        base_revision = int(base_revision)
    except (TypeError, ValueError):
        raise Invalid(_("缺少草稿修订号（base_revision）。"), fields=[("base_revision", "required")]) from None
    if draft.revision != base_revision:
        at = draft.updated_at.astimezone(timezone.utc).isoformat(timespec="seconds") if draft.updated_at else "?"
        raise Conflict(_("草稿在您打开后已被修改：%(who)s 于 %(at)s 保存（修订 %(revision)s），您打开的是修订 "
                         "%(yours)s。", who=draft.updated_by or "?", at=at, revision=draft.revision,
                         yours=base_revision))


def _write(session: Session, draft: ProcessDraft, files: dict[str, str], actor: str) -> None:
    draft.files = files
    draft.updated_at = utcnow()
    draft.updated_by = actor or ""
    try:
        session.flush()  # the version counter bumps the revision (and catches a parallel save)
    except StaleDataError:
        raise Conflict(_("草稿刚被另一位设计员同时保存，请刷新后重试。")) from None
    from .whatif_runs import mark_stale
    mark_stale(session, draft.revision)  # a what-if of an older revision answers for other files


def save_draft_file(session: Session, *, path: str, text: str, base_revision: int, actor: str) -> ProcessDraft:
    """Replace (or add) one file of the draft.

    Refused with Conflict when the draft's revision is no longer ``base_revision`` (the message
    says who saved and when). Otherwise it always succeeds, even for invalid content — validation
    is separate — bumps the revision and writes an audit row ``draft_save`` {path, revision}.
    ``path`` must be ``<name>.bpmn``, ``rules/<name>.dmn`` or ``forms/<name>.schema.json``.
    """
    require_model_path(path)
    if not isinstance(text, str):
        raise Invalid(_("文件内容必须是文本。"), fields=[("text", "not text")])
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise Invalid(_("文件超过 %(mb)s MB：%(path)s", mb=MAX_FILE_BYTES // 1024 // 1024, path=path),
                      fields=[("text", "too large")])
    draft = open_draft(session, actor)
    _require_revision(draft, base_revision)
    files = dict(draft.files)
    files[path] = text
    _write(session, draft, files, actor)
    _audit(session, actor, "draft_save", {"path": path, "revision": draft.revision})
    return draft


def delete_draft_file(session: Session, *, path: str, base_revision: int, actor: str) -> ProcessDraft:
    """Remove one file from the draft (same revision rule as saving); NotFound if it is not there."""
    require_model_path(path)
    draft = open_draft(session, actor)
    _require_revision(draft, base_revision)
    if path not in draft.files:
        raise NotFound(_("草稿中没有文件 %(path)s。", path=path))
    files = dict(draft.files)
    del files[path]
    _write(session, draft, files, actor)
    _audit(session, actor, "draft_delete", {"path": path, "revision": draft.revision})
    return draft


def discard_draft(session: Session, *, actor: str, base_revision: int | None = None) -> None:
    """Throw the draft away (the next ``open_draft`` starts again from the latest version).

    With ``base_revision`` it is refused when someone saved since (Conflict)."""
    draft = get_draft(session)
    if draft is None:
        return
    if base_revision is not None:
        _require_revision(draft, base_revision)
    _audit(session, actor, "draft_discard", {"revision": draft.revision})
    from .whatif_runs import mark_stale
    mark_stale(session)
    session.delete(draft)
    session.flush()


def validate_draft(session: Session) -> list[Problem]:
    """Problems of the draft (or of the latest version when there is no draft)."""
    return bundle_problems(_encode(draft_files(session)))


def deploy_draft(session: Session, *, actor: str, note: str = "", expected_revision: int,
                 force: bool = False, require_reason: bool = False) -> ProcessVersion:
    """Deploy the draft as the next process version.

    * Conflict when the draft's revision is not ``expected_revision`` (someone saved since);
    * Conflict when another version was deployed since the draft was opened (e.g. from the CLI),
      unless ``force`` — deploying would silently drop that version's changes;
    * Invalid(message, fields=[(element_id or file, message), ...]) listing every error found;
    * Invalid when nothing changed (the bundle is identical to an existing version).

    * Invalid when ``require_reason`` (the page and the CLI) and ``note`` — the reason — is empty.

    Otherwise creates version N+1 (``processes.services.deploy``), writes an audit row ``deploy``
    and rebases the draft on it (its revision goes on counting). New cases start on the new
    version; running cases keep theirs.
    """
    draft = get_draft(session)
    if draft is None:
        raise Invalid(_("没有草稿可发布。"))
    _require_revision(draft, expected_revision)
    latest = latest_version(session)
    if latest is not None and draft.base_version_id != latest.id and not force:
        base = session.get(ProcessVersion, draft.base_version_id) if draft.base_version_id else None
        raise Conflict(_("草稿基于版本 %(base)s，但之后 %(who)s 已发布了版本 %(latest)s。",
                         base=base.version if base else "?", who=latest.deployed_by or "?", latest=latest.version))
    files = _encode(draft.files)
    problems = errors_only(bundle_problems(files))
    if problems:
        raise Invalid(_("流程有 %(n)s 个问题，无法发布：%(problems)s", n=len(problems),
                        problems="; ".join(describe(p) for p in problems[:5])),
                      fields=[(p.element_id or p.file, describe(p)) for p in problems])
    existing = session.scalars(select(ProcessVersion).where(ProcessVersion.content_hash == hash_files(files))).first()
    if existing is not None:
        if latest is not None and existing.id == latest.id:
            raise Invalid(_("自上次发布以来没有改动：草稿与版本 %(n)s 完全相同。", n=existing.version))
        raise Invalid(_("与已有版本相同：草稿与版本 %(n)s 完全相同。", n=existing.version))
    if require_reason and not (note or "").strip():
        raise Invalid(_("请填写发布理由（为什么改、预期什么效果），它会记入版本历史。"),
                      fields=[("note", "required")])
    row, created = deploy(session, files, actor=actor, note=(note or "")[:500])
    if not created:  # pragma: no cover - the hash check above already caught it
        raise Invalid(_("与已有版本相同：草稿与版本 %(n)s 完全相同。", n=row.version))
    from . import whatif, whatif_runs
    evidence = whatif_runs.evidence(session, draft.revision)
    if evidence is not None and evidence.result:
        # The expectation this version was deployed with (its 分析影响), kept with the version.
        row.whatif_run_id, row.whatif_summary = evidence.id, whatif.summary(evidence.result)
    whatif_runs.mark_stale(session)
    draft.base_version_id = row.id
    draft.updated_at = utcnow()
    draft.updated_by = actor or ""
    session.flush()
    _audit(session, actor, "deploy", {"version": row.version, "note": row.note, "revision": draft.revision,
                                      "content_hash": row.content_hash})
    return row


# -- files in and out -------------------------------------------------------------------------------
def import_file(session: Session, *, filename: str, data: bytes, base_revision: int,
                actor: str) -> tuple[ProcessDraft, list[Problem]]:
    """Take an uploaded ``.bpmn`` / ``.dmn`` / ``.json`` file into the draft.

    Hostile or foreign input either lands in the draft or raises Invalid with a specific message
    (see ``app.processes.importing``): larger than 50 MB, not UTF-8, malformed XML, a DOCTYPE or
    entity declaration, a root that is not BPMN/DMN ``definitions``, JSON that is not a JSON Schema
    object. Vendor extensions (camunda:, zeebe:, bioc:, color:, signavio ...) are kept.

    The file lands at ``<process id>.bpmn`` (or replaces the draft file that already defines that
    process), ``rules/<decision id>.dmn`` (or the file with that decision) or
    ``forms/<name>.schema.json``. A BPMN without diagram layout gets one. Returns the draft and
    the problems of the whole draft after the import (import notes first, as warnings).
    """
    from .importing import prepare_import
    draft = open_draft(session, actor)
    _require_revision(draft, base_revision)
    prepared = prepare_import(filename, data, dict(draft.files))
    files = dict(draft.files)
    files[prepared.path] = prepared.text
    _write(session, draft, files, actor)
    _audit(session, actor, "draft_import", {"path": prepared.path, "filename": str(filename)[:200],
                                            "revision": draft.revision, "replaced": prepared.replaced})
    problems = bundle_problems(_encode(files))
    mine = [p for p in problems if p.file == prepared.path]
    others = [p for p in problems if p.file != prepared.path]
    return draft, prepared.notes + mine + others


def import_outside_transaction(db, *, filename: str, data: bytes, base_revision: int,
                               actor: str) -> tuple[ProcessDraft, list[Problem]]:
    """``import_file`` for the web and the CLI, with the heavy work outside the write transaction.

    Decoding, parsing, laying out a diagram without DI and validating the whole draft can take
    seconds on a big upload; inside a unit of work, SQLite's write lock would be held all that time
    and every other writer (a login included) would wait on it. So: read the draft, prepare and
    validate without a transaction, then write in a short one that checks the draft is still the
    revision that was prepared against (else the designer is told to retry)."""
    from .importing import prepare_import
    with db.read() as session:
        draft = get_draft(session)
        snapshot = draft.revision if draft is not None else None
        if draft is not None:
            _require_revision(draft, base_revision)
        files = draft_files(session)
    prepared = prepare_import(filename, data, files)
    files[prepared.path] = prepared.text
    problems = bundle_problems(_encode(files))
    with db.unit_of_work() as session:
        draft = open_draft(session, actor)
        _require_revision(draft, base_revision)
        if snapshot is not None and draft.revision != snapshot:
            raise Conflict(_("导入期间草稿被另一位设计员修改，请刷新后重新导入。"))
        files = dict(draft.files)
        files[prepared.path] = prepared.text
        _write(session, draft, files, actor)
        _audit(session, actor, "draft_import", {"path": prepared.path, "filename": str(filename)[:200],
                                                "revision": draft.revision, "replaced": prepared.replaced})
    mine = [p for p in problems if p.file == prepared.path]
    others = [p for p in problems if p.file != prepared.path]
    return draft, prepared.notes + mine + others


def export_file(session: Session, *, path: str, version: int | None = None) -> bytes:
    """The bytes of one file: from the draft when ``version`` is None (the latest version if there
    is no draft), else from that deployed version. NotFound for an unknown version or path."""
    require_model_path(path)
    files = draft_files(session) if version is None else dict(get_version(session, int(version)).files)
    if path not in files:
        raise NotFound(_("文件 %(path)s 不存在。", path=path))
    return files[path].encode("utf-8")
