"""The engine façade over SpiffWorkflow: diagrams in, ready tasks and state bytes out. No Flask.

    from workflows.bundle import load_bundle, read_directory
    from workflows.engine import Engine
    from workflows.workdays import WorkingCalendar

    bundle = load_bundle(read_directory("bpmn"), known_roles={"dispatcher", "handler", ...})  # parse + validate
    engine = Engine(calendar=lambda: WorkingCalendar(days, official_years=[...], provisional_years=[...]))
    wf = engine.start(bundle, "case_lifecycle", {"type": "complaint", ...})
    task = engine.ready_tasks(bundle, wf)[0]            # id, bpmn_id, name, role (lane), form, due
    engine.complete(bundle, wf, task.id, {"decision": "dispatch", ...})   # form-validated
    state = engine.dump(wf)                             # compact bytes, no spec inside
    wf = engine.restore(bundle, "case_lifecycle", state)
    engine.next_timer_at(wf)                            # what the sweep index mirrors
    engine.fire_due_timers(wf)

Modules (this is the only package that touches SpiffWorkflow; ``model`` is a leaf the others build on):

* ``model`` — what a bundle is: ``Bundle`` (files, hash, specs, forms, user tasks, element names),
  ``TaskMeta``, ``hash_files``;
* ``reading`` — reading untrusted files safely (XML, JSON Schema forms), where each kind of model
  lives in a bundle (``model_kind``), file titles;
* ``validation`` — every check a bundle must pass, as ``Problem`` lists; builds the ``Bundle``;
* ``bundle`` — loading a bundle from a directory or from files, or refusing it (``BundleInvalid``);
* ``engine`` — running processes: start, ready tasks, complete, timers, supervision runs;
* ``joint`` — 联动处置: the co-handlers' parts of a case (mixed into ``Engine``);
* ``workflow`` — the BpmnWorkflow subclass with a cheaper engine-step loop;
* ``state`` — spec-less, compressed serialization of an instance;
* ``migrate`` — rebasing an instance's state onto another version of its bundle;
* ``rules`` — evaluating a DMN decision outside a running case (deadline previews);
* ``sandbox`` — RestrictedPython for every script and expression;
* ``limits`` — the sandbox's resource limits: size checks before operators, a CPU budget, a cap on
  the task data a script leaves;
* ``notices`` — noting the ``notify(...)`` calls of reminder paths for the application to deliver;
* ``clock`` — the one source of now;
* ``workdays`` — statutory working days, and which years the calendar knows (library, imported,
  provisional); ``CalendarGap`` for any other;
* ``holidays`` — the statutory holidays of a year by rule, for a provisional calendar;
* ``deadlines`` — noticing deadlines computed on a provisional year, and recomputing them;
* ``diff`` — element-level differences between two bundles;
* ``layout`` — diagram layout (DI) for BPMN files that have none;
* ``astguard`` — one AST construction at a time (a CPython 3.11 bug), installed here at import.
"""

from . import astguard as _astguard

_astguard.install()
