"""The engine façade over SpiffWorkflow: diagrams in, ready tasks and state bytes out. No Flask.

    from workflows.bundle import load_bundle, read_directory
    from workflows.engine import Engine
    from workflows.workdays import WorkingCalendar

    bundle = load_bundle(read_directory("bpmn"), known_roles={"dispatcher", "handler", ...})  # parse + validate
    engine = Engine(calendar=lambda: WorkingCalendar(overrides))
    wf = engine.start(bundle, "case_lifecycle", {"type": "complaint", ...})
    task = engine.ready_tasks(bundle, wf)[0]            # id, bpmn_id, name, role (lane), form, due
    engine.complete(bundle, wf, task.id, {"decision": "dispatch", ...})   # form-validated
    state = engine.dump(wf)                             # compact bytes, no spec inside
    wf = engine.restore(bundle, "case_lifecycle", state)
    engine.next_timer_at(wf)                            # what the sweep index mirrors
    engine.fire_due_timers(wf)

Modules: ``bundle`` (load/validate BPMN, DMN, forms), ``engine`` (run), ``sandbox``
(RestrictedPython for every script and expression), ``state`` (spec-less serialization),
``workdays`` (statutory working days), ``workflow`` (the BpmnWorkflow subclass).
"""
