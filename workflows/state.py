"""Per-instance workflow state without the process spec.

SpiffWorkflow's serializer writes the whole spec (every task spec of every
diagram) into each instance; that is ~14 KB of identical bytes per open case.
Specs are deployed once as a process version, so here the workflow converter
is replaced by one that leaves them out on the way in and takes the already
parsed specs on the way back. The JSON is then zlib-compressed: task ids and
state names repeat a lot, and the stored row is never queried by content.
"""
from __future__ import annotations

import json
import zlib
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .workflow import CaseWorkflow

FORMAT = "bihuan-state-1"


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None, script_engine=None):
        workflow = self.target_class(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class StateCodec:
    def __init__(self):
        config = dict(SPIFF_CONFIG)
        config.pop(BpmnWorkflow)
        config[CaseWorkflow] = _SpeclessWorkflowConverter
        self.registry = BpmnWorkflowSerializer.configure(config)
        self.serializer = BpmnWorkflowSerializer(self.registry)

    def to_json(self, wf: BpmnWorkflow) -> str:
        self.registry._encoder_mode = True
        try:
            dct = self.registry.convert(wf)
        finally:
            self.registry._encoder_mode = False
        dct["format"] = FORMAT
        return json.dumps(dct, separators=(",", ":"), ensure_ascii=False, cls=self.serializer._encoder_cls)

    def dump(self, wf: BpmnWorkflow) -> bytes:
        return zlib.compress(self.to_json(wf).encode("utf-8"), 6)

    def load(self, state: bytes, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
        return self.from_dict(state_dict(state), spec, subprocess_specs, script_engine)

    def from_dict(self, dct: dict, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
        """A workflow from ``state_dict`` output (possibly rewritten, see ``workflows.migrate``)."""
        dct = {k: v for k, v in dct.items() if k not in ("format", "typename")}
        converter = self.registry.convert_from_dict["CaseWorkflow"]
        return converter(dct, spec=spec, subprocess_specs=subprocess_specs, script_engine=script_engine)


def state_dict(state: bytes) -> dict:
    """Stored state bytes as the serializer's dict (task map, subprocesses ...); ValueError when the
    bytes are not state in this format."""
    try:
        dct = json.loads(zlib.decompress(state))
    except (zlib.error, ValueError, TypeError) as exc:
        raise ValueError(f"stored workflow state cannot be read: {exc}") from None
    if not isinstance(dct, dict) or dct.get("format") != FORMAT:
        raise ValueError("stored workflow state has an unknown format")
    return dct
