"""Diagram interchange: the shipped diagrams carry DI that bpmn-js can draw, and
workflows.layout adds it to diagrams without it (and leaves existing DI alone)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from app.auth.models import ROLES
from workflows.bundle import load_bundle, read_directory
from workflows.reading import safe_xml_parser
from workflows.layout import add_layout, has_layout

BPMN = Path(__file__).parents[1] / "bpmn"
SHIPPED = ["case_lifecycle.bpmn", "supervision_escalation.bpmn", "volunteer_redemption.bpmn"]
M = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
WAYPOINT = "{http://www.omg.org/spec/DD/20100524/DI}waypoint"
NODE_TAGS = ("Task", "task", "Event", "Gateway", "callActivity", "subProcess")


def strip_di(xml: bytes) -> bytes:
    return re.sub(rb"  <bpmndi:BPMNDiagram .*?</bpmndi:BPMNDiagram>\n", b"", xml, flags=re.S)


def parse(xml: bytes):
    return etree.fromstring(xml, safe_xml_parser())


def bounds(shape) -> tuple[float, float, float, float]:
    b = shape.find(DC + "Bounds")
    x, y = float(b.get("x")), float(b.get("y"))
    return x, y, x + float(b.get("width")), y + float(b.get("height"))


def inside(inner, outer) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(params=SHIPPED)
def shipped(request):
    return (BPMN / request.param).read_bytes()


def test_every_element_has_exactly_one_shape_or_edge(shipped):
    root = parse(shipped)
    shapes = [s.get("bpmnElement") for s in root.iter(DI + "BPMNShape")]
    nodes = [el for el in root.iter() if isinstance(el.tag, str) and el.tag.startswith(M)
             and el.tag[len(M):].endswith(NODE_TAGS)]
    assert nodes
    for el in nodes + list(root.iter(M + "lane")) + list(root.iter(M + "participant")):
        assert shapes.count(el.get("id")) == 1, el.get("id")
    edges = {e.get("bpmnElement"): e for e in root.iter(DI + "BPMNEdge")}
    for flow in root.iter(M + "sequenceFlow"):
        assert len(edges[flow.get("id")].findall(WAYPOINT)) >= 2, flow.get("id")
    assert len(edges) == len(list(root.iter(M + "sequenceFlow")))
    assert all(s.get("isExpanded") == "true" for s in root.iter(DI + "BPMNShape")
               if s.get("bpmnElement") in {sp.get("id") for sp in root.iter(M + "subProcess")})


def test_shapes_sit_in_their_lanes_without_overlapping(shipped):
    root = parse(shipped)
    box = {s.get("bpmnElement"): bounds(s) for s in root.iter(DI + "BPMNShape")}
    lane_of = {ref.text: lane.get("id") for lane in root.iter(M + "lane") for ref in lane.iter(M + "flowNodeRef")}
    # Boundary events are drawn on their host, wherever their own lane is (the two timers on
    # 签收/办理 are listed under 督办). The supervision subprocess (lane 社会治理中心) holds tasks
    # of all three tiers, each in its own lane: its box spans the lanes, so it only starts in
    # its lane, and it contains its children.
    spanning = {sp.get("id") for sp in root.iter(M + "subProcess")
                if len({lane_of.get(c.get("id")) for c in sp.iter() if c.get("id") in lane_of}) > 1}
    hosts = {ev.get("id"): ev.get("attachedToRef") for ev in root.iter(M + "boundaryEvent")}
    for node, lane in lane_of.items():
        if node in spanning:
            assert box[lane][1] <= box[node][1] < box[lane][3], node
        elif node not in hosts:
            assert inside(box[node], box[lane]), (node, lane)
    for sp in root.iter(M + "subProcess"):
        for child in (c for c in sp if c.get("id") in box):
            assert inside(box[child.get("id")], box[sp.get("id")]), child.get("id")
    for event, host in hosts.items():   # on the host's bottom edge
        assert box[event][1] < box[host][3] < box[event][3] and box[host][0] <= box[event][0] <= box[host][2]
    containers = {sp.get("id") for sp in root.iter(M + "subProcess")}
    plain = [el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.tag.startswith(M)
             and el.tag[len(M):].endswith(NODE_TAGS) and el.get("id") not in containers | set(hosts)]
    for i, a in enumerate(plain):
        for b in plain[i + 1:]:
            assert not overlap(box[a], box[b]), (a, b)


def test_edges_start_and_end_on_their_shapes(shipped):
    root = parse(shipped)
    box = {s.get("bpmnElement"): bounds(s) for s in root.iter(DI + "BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(DI + "BPMNEdge")}
    for flow in root.iter(M + "sequenceFlow"):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edges[flow.get("id")].findall(WAYPOINT)]
        for (x, y), ref in ((points[0], flow.get("sourceRef")), (points[-1], flow.get("targetRef"))):
            x1, y1, x2, y2 = box[ref]
            assert x1 - 1 <= x <= x2 + 1 and y1 - 1 <= y <= y2 + 1, (flow.get("id"), ref)
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:])), flow.get("id")


def test_layout_regenerates_the_shipped_di(shipped):
    bare = strip_di(shipped)
    assert b"BPMNDiagram" not in bare and not has_layout(bare)
    assert add_layout(bare) == shipped


def test_laid_out_file_is_returned_unchanged(shipped):
    assert has_layout(shipped)
    assert add_layout(shipped) is shipped


def test_bundle_with_di_still_loads():
    bundle = load_bundle(read_directory(BPMN), known_roles=ROLES)
    assert set(bundle.specs) == {"case_lifecycle", "supervision_escalation", "volunteer_redemption"}
    assert bundle.tasks["accountability"].role == "supervisor_party"


def test_only_roots_without_di_get_it_and_the_rest_of_the_file_is_kept():
    laid_out = (BPMN / "supervision_escalation.bpmn").read_bytes()
    extra = (b'  <bpmn:process id="extra" isExecutable="false">\n'
             b'    <!-- kept --><bpmn:startEvent id="x_start" /><bpmn:endEvent id="x_end" />\n'
             b'    <bpmn:sequenceFlow id="x_flow" sourceRef="x_start" targetRef="x_end" />\n'
             b'  </bpmn:process>\n')
    xml = laid_out.replace(b"  <bpmndi:BPMNDiagram", extra + b"  <bpmndi:BPMNDiagram", 1)
    assert not has_layout(xml)
    out = add_layout(xml)
    assert out.startswith(xml[:xml.rindex(b"</bpmn:definitions>")]) and has_layout(out)
    planes = [p.get("bpmnElement") for p in parse(out).iter(DI + "BPMNPlane")]
    assert planes == ["supervision_escalation_collaboration", "extra"]


def test_prefixes_are_declared_when_the_file_lacks_them():
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">\n'
           b'  <process id="p"><startEvent id="s" /><task id="t" name="do it" />'
           b'<sequenceFlow id="f" sourceRef="s" targetRef="t" /></process>\n</definitions>\n')
    root = parse(add_layout(xml))
    assert {s.get("bpmnElement") for s in root.iter(DI + "BPMNShape")} == {"s", "t"}
    assert [e.get("bpmnElement") for e in root.iter(DI + "BPMNEdge")] == ["f"]
