"""Diagram interchange (DI) for BPMN files that have none.

bpmn-js draws only what has BPMNShape/BPMNEdge entries, so a diagram written by hand (or by a
tool that skips DI) cannot be viewed or edited. ``add_layout`` computes a plain left-to-right
layout and *appends* it: the input bytes stay verbatim (comments, formatting, ids) and the
generated ``bpmndi:BPMNDiagram`` is spliced in before the closing root tag. SpiffWorkflow ignores
DI, so this never changes what runs. Existing DI is left alone; only roots without a plane get one.

The layout: longest-path layering over sequence flows (back edges found by DFS are left out of
the layering and drawn along a channel at the top of their target's lane), one column per layer;
lanes are horizontal bands and a node takes a row in its lane's band; an expanded subprocess is
flattened into the same grid between two zero-width border columns, so its children can stay in
their own lanes; boundary events straddle their host's bottom edge. Edges are orthogonal: each
picks, among a few candidate routes, the one crossing fewest nodes and other edges.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lxml import etree

from .reading import safe_xml_parser

MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
GAP = 60        # between columns: room for bends; wider where a flow's label sits in the gap
ROW = 140       # row pitch in a lane: a task, its boundary events and the labels under events
HEAD = 30       # bpmn-js draws pool and lane names in a 30px band on their left
MARGIN = 40     # between a lane's name band and the first column, and after the last one
TRACK = 12      # spacing of back-edge tracks in the channel at the top of a lane
SUBPROCESS = ("subProcess", "transaction", "adHocSubProcess")


def _q(tag: str) -> str:
    return f"{{{MODEL}}}{tag}"


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _is_flow_node(el) -> bool:
    name = _local(el)
    return bool(name) and etree.QName(el).namespace == MODEL and (
        name.lower().endswith("task") or name.endswith(("Event", "Gateway")) or name in ("callActivity",) + SUBPROCESS)


def _size(el) -> tuple[int, int]:
    name = _local(el)
    return (36, 36) if name.endswith("Event") else (50, 50) if name.endswith("Gateway") else (100, 80)


def _text_size(text: str) -> tuple[int, int]:
    """Generous size of a label in bpmn-js's 11px font (CJK glyphs are square). bpmn-js wraps a
    label's text at the width of its bounds (at most 90 here), so a short estimate breaks words."""
    width = sum(12 if ord(c) > 0x2E7F else 7 for c in text) + 4
    return min(width, 90), 14 * math.ceil(width / 90)


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float
    r = property(lambda self: self.x + self.w)
    b = property(lambda self: self.y + self.h)
    cx = property(lambda self: self.x + self.w / 2)
    cy = property(lambda self: self.y + self.h / 2)


def _missing_roots(root) -> list:
    """Collaborations and free-standing processes that no BPMNPlane draws."""
    planes = {p.get("bpmnElement") for p in root.iter(f"{{{BPMNDI}}}BPMNPlane")}
    collabs = [c for c in root.findall(_q("collaboration")) if c.find(_q("participant")) is not None]
    pooled = {p.get("processRef") for c in collabs for p in c.findall(_q("participant"))}
    return [c for c in collabs if c.get("id") not in planes] + [
        p for p in root.findall(_q("process")) if p.get("id") not in planes | pooled]


def has_layout(xml: bytes) -> bool:
    return not _missing_roots(etree.fromstring(xml, safe_xml_parser()))


class _Process:
    """Layout of one process at (x0, y0), optionally inside a pool."""

    def __init__(self, proc, x0: float, y0: float, pool: bool):
        self.edges: dict[str, list[tuple[float, float]]] = {}
        self.labels: dict[str, Box] = {}
        self._collect(proc)
        self._layer()
        self._rows()
        pad = defaultdict(int)
        for _ in range(3):   # grow a lane's bottom until what hangs below its rows fits in it
            self._geometry(x0, y0, pool, pad)
            if not self._overflow(pad):
                break
        self._route()
        self._place_labels()

    def _collect(self, proc):
        self.el, self.parent, self.attached, self.expanded = {}, {}, {}, []
        self.order: list[str] = []   # layering nodes in document order; IN:/OUT: border columns
        self.flows = [(f.get("id"), f.get("sourceRef"), f.get("targetRef"), f.get("name") or "")
                      for f in proc.iter(_q("sequenceFlow"))]

        def walk(container, cid):
            for el in (el for el in container if _is_flow_node(el) and el.get("id")):
                nid = el.get("id")
                self.el[nid], self.parent[nid] = el, cid
                if _local(el) == "boundaryEvent":
                    self.attached[nid] = el.get("attachedToRef")
                elif _local(el) in SUBPROCESS and any(_is_flow_node(c) for c in el):
                    self.expanded.append(nid)
                    self.order.append("IN:" + nid)
                    walk(el, nid)
                    self.order.append("OUT:" + nid)
                else:
                    self.order.append(nid)
        walk(proc, None)
        # Leaf lanes become bands in document order; a parent lane spans its leaves.
        self.lanes, self.lane_of, leaves = [], {}, [0]

        def lanes(laneset, depth):
            for lane in laneset.findall(_q("lane")):
                entry = [lane, depth, leaves[0], None]   # lane, depth, first band, end band
                self.lanes.append(entry)
                child = lane.find(_q("childLaneSet"))
                if child is not None and child.find(_q("lane")) is not None:
                    lanes(child, depth + 1)   # children first: a node takes its innermost lane
                else:
                    leaves[0] += 1
                for ref in lane.findall(_q("flowNodeRef")):
                    self.lane_of.setdefault((ref.text or "").strip(), entry[2])
                entry[3] = max(leaves[0], entry[2] + 1)
        for laneset in proc.findall(_q("laneSet")):
            lanes(laneset, 0)
        self.nbands = max(leaves[0], 1)
        # A node no lane names follows a neighbour in its container (an inner start event goes
        # with the first task), else its host's or subprocess's lane, else the first band.
        for _ in range(3):
            for _, a, b, _ in self.flows:
                for n, m in ((b, a), (a, b)):
                    if n in self.el and n not in self.lane_of and m in self.lane_of and self.parent[n] == self.parent.get(m):
                        self.lane_of[n] = self.lane_of[m]
        for nid in self.el:
            p = nid
            while p is not None and p not in self.lane_of:
                p = self.attached.get(p) or self.parent.get(p)
            self.lane_of[nid] = self.lane_of.get(p, 0)

    def band(self, n: str) -> int:   # ids are NCNames, so "IN:x" cannot clash with a real id
        return self.lane_of[n.split(":", 1)[-1]]

    def _head(self, n):   # where a flow into n lands in the layering graph
        return "IN:" + n if n in self.expanded else n

    def _tail(self, n):   # where a flow out of n leaves it (boundary events leave via their host)
        n = self.attached.get(n, n)
        return "OUT:" + n if n in self.expanded else n

    def _layer(self):
        edges = [(self._tail(s), self._head(t), fid, s in self.attached)   # (u, v, flow, boundary)
                 for fid, s, t, _ in self.flows if self.attached.get(s, s) in self.el and t in self.el]
        for sp in self.expanded:
            kids = [n for n in self.el if self.parent[n] == sp and n not in self.attached]
            edges += [("IN:" + sp, self._head(k), None, False)
                      for k in [k for k in kids if k not in {f[2] for f in self.flows}] or kids[:1]]
            edges += [(self._tail(k), "OUT:" + sp, None, False) for k in kids if k not in {f[1] for f in self.flows}]
        succ = defaultdict(list)
        for e in edges:
            succ[e[0]].append(e)
        # DFS from the sources in document order: an edge to a node still on the stack closes a
        # cycle (a rework loop); it is drawn back along a channel instead of being layered.
        self.back, state, targets = set(), {}, {e[1] for e in edges}
        for start in [n for n in self.order if n not in targets] + self.order:
            stack = [] if start in state else [(start, iter(succ[start]))]
            state.setdefault(start, 1)
            while stack:
                node, it = stack[-1]
                e = next(it, None)
                if e is None:
                    state[node] = 2
                    stack.pop()
                elif state.get(e[1]) == 1:
                    self.back.add(e)
                elif e[1] not in state:
                    state[e[1]] = 1
                    stack.append((e[1], iter(succ[e[1]])))
        self.fwd = [e for e in edges if e not in self.back]
        fwd, self.preds, indeg = set(self.fwd), defaultdict(list), defaultdict(int)
        for e in self.fwd:
            self.preds[e[1]].append(e)
            indeg[e[1]] += 1
        self.layer, self.topo, ready = {}, [], [n for n in self.order if not indeg[n]]
        while ready:   # Kahn's algorithm; longest path: a node goes right of all its predecessors
            n = ready.pop(0)
            self.topo.append(n)
            self.layer[n] = max((self.layer[e[0]] + 1 for e in self.preds[n]), default=0)
            for e in (e for e in succ[n] if e in fwd):
                indeg[e[1]] -= 1
                if not indeg[e[1]]:
                    ready.append(e[1])
        # Longest way on to an end, counted within the lane first: the branch that carries the
        # lane's work onward (the happy path) keeps the predecessor's row.
        self.height = {}
        for n in reversed(self.topo):
            nxt = [e[1] for e in succ[n] if e in fwd]
            self.height[n] = (max([self.height[v][0] for v in nxt if self.band(v) == self.band(n)], default=-1) + 1,
                              max([self.height[v][1] for v in nxt], default=-1) + 1)

    def _rows(self):
        self.row, used, columns = {}, defaultdict(set), defaultdict(list)
        block = defaultdict(dict)   # (layer, band) -> {row: subprocess}: only its own nodes go there
        rank = {n: i for i, n in enumerate(self.order)}

        def taken(n, layer, r):
            sp = block[layer, self.band(n)].get(r)
            return r in used[layer, self.band(n)] or (sp is not None and not self._within(n, sp))

        def desired(n):   # stay on a same-lane predecessor's row; below it after a boundary event
            return min([self.row[u] + b for u, _, _, b in self.preds[n] if self.band(u) == self.band(n)], default=0)
        for n in self.topo:
            columns[self.layer[n]].append(n)
        for layer in sorted(columns):   # left to right: predecessors already have their rows
            for n in sorted(columns[layer], key=lambda n: (desired(n), -self.height[n][0], -self.height[n][1], rank[n])):
                r = desired(n)
                while n in self.el and taken(n, layer, r):
                    r += 1
                if n in self.el:   # the border columns (IN:/OUT:) hold no node
                    used[layer, self.band(n)].add(r)
                elif n.startswith("IN:"):   # keep the subprocess's row clear across its columns
                    for col in range(layer, self.layer["OUT:" + n[3:]] + 1):
                        block[col, self.band(n)].setdefault(r, n[3:])
                self.row[n] = r
        # A node outside a subprocess that lands inside its box moves to a fresh row at the
        # bottom of its lane (the box's rows are known only once its children have rows).
        for _ in range(5):
            moved = False
            for sp in self.expanded:
                inside = [n for n in self.topo if n in self.el and self._within(n, sp)]
                span = range(self.layer["IN:" + sp], self.layer["OUT:" + sp] + 1)
                rows = [self._global(n) for n in inside]
                for n in self.topo:
                    if (n in self.el and n not in inside and not self._within(sp, n)
                            and self.layer[n] in span and min(rows) <= self._global(n) <= max(rows)):
                        self.row[n], moved = self._nrows(self.band(n)), True
            if not moved:
                break

    def _within(self, n, container):
        while n is not None and n != container:
            n = self.parent[n]
        return n is not None

    def _nrows(self, band):
        return max([self.row[n] + 1 for n in self.topo if n in self.el and self.band(n) == band], default=1)

    def _global(self, n):
        return sum(self._nrows(b) for b in range(self.band(n))) + self.row[n]

    def _geometry(self, x0, y0, pool, pad):
        self.shapes: dict[str, tuple[Box, str]] = {}   # element id -> (bounds, extra attributes)
        self.stretch: list[Box] = []                    # pool/lane boxes widened to the diagram
        depth = max([d for _, d, _, _ in self.lanes], default=-1) + 1
        left = x0 + (HEAD if pool else 0) + depth * HEAD + MARGIN
        ncols = max(self.layer.values(), default=-1) + 1
        width, gap = [0] * ncols, [GAP] * (ncols + 1)
        for n in self.topo:
            if n in self.el:
                width[self.layer[n]] = max(width[self.layer[n]], _size(self.el[n])[0])
        names = {f[0]: f[3] for f in self.flows}
        for u, v, fid, _ in self.fwd:   # a flow's label sits in the gap before its target
            if names.get(fid) and self.layer[v] == self.layer[u] + 1:
                gap[self.layer[v]] = max(gap[self.layer[v]], _text_size(names[fid])[0] + 40)
        colx = [left]
        for i in range(1, ncols):
            colx.append(colx[-1] + width[i - 1] + gap[i])
        self.before = [colx[i] - gap[i] / 2 for i in range(ncols)]
        self.after = [colx[i] + width[i] + gap[i + 1] / 2 for i in range(ncols)]
        # Back edges run in a channel at the top of their target's lane, one track each.
        self.track, tracks = {}, defaultdict(int)
        rank = {n: i for i, n in enumerate(self.order)}   # (sorted: iterating a set isn't stable)
        for e in sorted(self.back, key=lambda e: (rank[e[1]], rank[e[0]], e[2] or "")):
            self.track[e[2]] = (self.band(e[1]), tracks[self.band(e[1])])
            tracks[self.band(e[1])] += 1
        chan = [TRACK * (tracks[b] + 1) if tracks[b] else 0 for b in range(self.nbands)]
        self.lane_top = [y0]
        for b in range(self.nbands):
            self.lane_top.append(self.lane_top[-1] + chan[b] + self._nrows(b) * ROW + pad[b])
        right = (colx[-1] + width[-1] if ncols else left) + MARGIN
        for n in (n for n in self.topo if n in self.el):
            (w, h), b = _size(self.el[n]), self.band(n)
            cx = colx[self.layer[n]] + width[self.layer[n]] / 2
            cy = self.lane_top[b] + chan[b] + self.row[n] * ROW + ROW / 2
            self._put(n, Box(cx - w / 2, cy - h / 2, w, h))
        for sp in reversed(self.expanded):   # listed outer before inner: innermost first
            kids = [self.shapes[n][0] for n in self.el if self.parent[n] == sp and n in self.shapes]
            y1, y2 = min(k.y for k in kids) - 28, max(k.b for k in kids) + 24
            x1, x2 = colx[self.layer["IN:" + sp]], colx[self.layer["OUT:" + sp]]
            self._put(sp, Box(x1, y1, x2 - x1, y2 - y1), ' isExpanded="true"')
        for host in list(self.shapes):   # boundary events straddle the host's bottom edge
            hb = self.shapes[host][0]
            events = [n for n, h in self.attached.items() if h == host]
            for i, n in enumerate(events):
                # Two fit under the host from its right; a third (a deadline and its reminders) and
                # more start at its left and run past its right edge, each still starting on it.
                x = hb.r - 54 - i * 46 if len(events) <= 2 else hb.x + (len(events) - 1 - i) * 46
                self._put(n, Box(x, hb.b - 18, 36, 36))
        lx = x0 + (HEAD if pool else 0)
        for lane, d, first, end in self.lanes:
            box = Box(lx + d * HEAD, self.lane_top[first], right - lx - d * HEAD,
                      self.lane_top[end] - self.lane_top[first])
            self.shapes[lane.get("id")] = (box, ' isHorizontal="true"')
            self.stretch.append(box)
        self.box = Box(x0, y0, right - x0, self.lane_top[-1] - y0)

    def _overflow(self, pad) -> bool:
        """Boundary events (and their labels) under a host low in its lane, and subprocess boxes
        around low children, can reach past the lane's bottom: add that to the lane's padding."""
        grow = defaultdict(int)
        for n, (box, _) in self.shapes.items():
            if n in self.el:
                band = max([k for k in range(self.nbands) if self.lane_top[k] < box.b - 1] or [0])
                grow[band] = max(grow[band], box.b + (32 if n in self.attached else 8) - self.lane_top[band + 1])
        for band, extra in grow.items():
            pad[band] += max(extra, 0)
        return any(extra > 0 for extra in grow.values())

    def _put(self, n, box, attrs=""):
        self.shapes[n] = (Box(round(box.x), round(box.y), round(box.w), round(box.h)), attrs)

    def _route(self):
        back = {e[2] for e in self.back}
        obstacles = _Columns()
        for n in self.el:
            if n in self.shapes and n not in self.expanded:
                box = self.shapes[n][0]
                obstacles.add(box.x, box.r, (n, box))
        self.ports = defaultdict(set)   # (node, x, y) -> {"in", "out"}: don't enter where others leave
        placed = _Columns()             # (source, target, segment) of the edges routed so far
        # Back edges have fixed tracks and boundary edges few choices: they go first.
        for fid, s, t, _ in sorted(self.flows, key=lambda f: (f[0] not in back, f[1] not in self.attached)):
            if s not in self.shapes or t not in self.shapes:
                continue
            a, b = self.shapes[s][0], self.shapes[t][0]
            if fid in back:
                band, k = self.track[fid]
                y = self.lane_top[band] + TRACK * (k + 1)
                if s == t:   # a task looping to itself: out of its top, back into its left side
                    pts = [(a.cx, a.y), (a.cx, y), (a.x - 20, y), (a.x - 20, a.cy), (a.x, a.cy)]
                else:
                    pts = [(a.cx, a.y if y < a.y else a.b), (a.cx, y), (b.cx, y), (b.cx, b.y)]
            else:
                skip = (s, t, self.attached.get(s))

                def others(x1, x2):
                    return [o for n, o in obstacles.near(x1, x2) if n not in skip]

                def score(pts):
                    clash = "in" in self.ports[(s,) + pts[0]] or "out" in self.ports[(t,) + pts[-1]]
                    # running along another edge makes two flows read as one (unless they share
                    # an end: flows into one merge may well join early)
                    along = sum(_overlap(g, h) for g in zip(pts, pts[1:])
                                for u, v, h in placed.near(min(g[0][0], g[1][0]), max(g[0][0], g[1][0]))
                                if u != s and v != t)
                    return _score(pts, b, others) + 5 * clash + 20 * along
                pts = min(_candidates(a, b, s in self.attached, self.after[self.layer[self._tail(s)]],
                                      self.before[self.layer[self._head(t)]]), key=score)
            for g in zip(pts, pts[1:]):
                placed.add(min(g[0][0], g[1][0]), max(g[0][0], g[1][0]), (s, t, g))
            self.ports[(s,) + pts[0]].add("out")
            self.ports[(t,) + pts[-1]].add("in")
            self.edges[fid] = pts

    def _place_labels(self):
        """A gateway's question goes above it, clear of the branches leaving its bottom; a
        boundary event's name beside it, clear of the flow leaving downwards; a flow's name by
        the last run into its target, so branches sharing a trunk keep their names apart."""
        for n, (box, _) in self.shapes.items():
            name = self.el[n].get("name") if n in self.el else None
            if name:
                (w, h), kind = _text_size(name), _local(self.el[n])
                if kind.endswith("Gateway") and not self.ports[(n, box.cx, box.y)]:
                    self.labels[n] = Box(box.cx - w / 2, box.y - h - 6, w, h)
                elif kind == "boundaryEvent":
                    self.labels[n] = Box(box.r + 2, box.cy + 4, w, h)
        for fid, _, _, name in self.flows:
            if name and fid in self.edges:
                pts, (w, h) = self.edges[fid], _text_size(name)
                (x1, y1), (x2, y2) = pts[-2:]
                if y1 == y2 and x2 - x1 < w + 10 and len(pts) > 2:   # short last run: by the bend
                    x2 = x1
                self.labels[fid] = (Box(x2 - w - 8 if x2 >= x1 else x2 + 8, y2 - h - 3, w, h) if y1 == y2
                                    else Box(x2 + 6, y2 + 6 if y1 > y2 else y2 - h - 6, w, h))


def _candidates(a: Box, b: Box, boundary: bool, after: float, before: float):
    """Orthogonal routes from a to b (b lies to the right); the scorer picks one. `after` and
    `before` are the middles of the column gaps after a and before b (offsets let two edges
    share a gap side by side)."""
    down, xs = b.cy > a.cy, (before, after, before - 12, after + 12)
    if boundary:   # leave through the bottom, as bpmn-js does for boundary events
        if b.cy > a.b:
            yield [(a.cx, a.b), (a.cx, b.cy), (b.x, b.cy)]
        for x in xs:
            yield [(a.cx, a.b), (a.cx, a.b + 20), (x, a.b + 20), (x, b.cy), (b.x, b.cy)]
        if b.cy <= a.b:   # under the host, then up into the target's bottom
            yb = max(a.b, b.b) + 20
            yield [(a.cx, a.b), (a.cx, yb), (b.cx, yb), (b.cx, b.b)]
        return
    if a.y < b.cy < a.b:     # level with each other (or one is a tall subprocess): straight
        yield [(a.r, b.cy), (b.x, b.cy)]
    elif b.y < a.cy < b.b:
        yield [(a.r, a.cy), (b.x, a.cy)]
    for x in xs:
        yield [(a.r, a.cy), (x, a.cy), (x, b.cy), (b.x, b.cy)]
    yield [(a.cx, a.b if down else a.y), (a.cx, b.cy), (b.x, b.cy)]
    yield [(a.r, a.cy), (b.cx, a.cy), (b.cx, b.y if down else b.b)]
    yc = (a.b + b.y) / 2 if down else (b.b + a.y) / 2   # between the rows, past what's in between
    yield [(a.cx, a.b if down else a.y), (a.cx, yc), (before, yc), (before, b.cy), (b.x, b.cy)]


def _score(pts, target: Box, others) -> float:
    """Crossing a node is worst, then bends, then not entering the target from its left.
    ``others(x1, x2)`` gives the nodes whose columns a segment from x1 to x2 passes."""
    hits, length = 0, 0.0
    for (x1, y1), (x2, y2) in zip(pts, pts[1:]):
        length += abs(x2 - x1) + abs(y2 - y1)
        hits += sum(min(x1, x2) < o.r - 2 and max(x1, x2) > o.x + 2 and
                    min(y1, y2) < o.b - 2 and max(y1, y2) > o.y + 2 for o in others(min(x1, x2), max(x1, x2)))
    return hits * 100 + (len(pts) - 2) * 3 + 2 * (pts[-1][0] != target.x) + length / 1000


class _Columns:
    """Items bucketed by the vertical strips of the canvas their x-range spans. Routing asks only
    for what lies in the strips a segment passes, so each edge looks at its neighbourhood and the
    whole layout stays near-linear (comparing every edge with every node was quadratic: a 1 000-task
    chain took half a minute)."""
    WIDTH = 240

    def __init__(self):
        self.strips: dict[int, list] = defaultdict(list)

    def add(self, x1: float, x2: float, item) -> None:
        for k in range(int(x1 // self.WIDTH) - 1, int(x2 // self.WIDTH) + 2):
            self.strips[k].append(item)

    def near(self, x1: float, x2: float) -> list:
        seen, found = set(), []
        for k in range(int(x1 // self.WIDTH), int(x2 // self.WIDTH) + 1):
            for item in self.strips.get(k, ()):
                if id(item) not in seen:
                    seen.add(id(item))
                    found.append(item)
        return found


def _overlap(g, h) -> bool:
    """Two axis-parallel segments on the same line sharing more than a few pixels."""
    (ax1, ay1), (ax2, ay2), (bx1, by1), (bx2, by2) = *g, *h
    for same, p1, p2, q1, q2 in ((ax1 == ax2 == bx1 == bx2, ay1, ay2, by1, by2),
                                 (ay1 == ay2 == by1 == by2, ax1, ax2, bx1, bx2)):
        if same and min(max(p1, p2), max(q1, q2)) - max(min(p1, p2), min(q1, q2)) > 4:
            return True
    return False


def _message_edge(a: Box, b: Box):
    """Message flows run vertically between pools."""
    ya, yb = (a.b, b.y) if a.cy < b.cy else (a.y, b.b)
    lo, hi = max(a.x, b.x), min(a.r, b.r)
    if lo < hi:
        return [((lo + hi) / 2, ya), ((lo + hi) / 2, yb)]
    return [(a.cx, ya), (a.cx, (ya + yb) / 2), (b.cx, (ya + yb) / 2), (b.cx, yb)]


def _diagram(root, element):
    """Shapes (id, bounds, attributes, label) in document order, and edges (id, waypoints,
    label), for one collaboration (pools stacked top to bottom) or free-standing process."""
    processes = {p.get("id"): p for p in root.findall(_q("process"))}
    x0, y, shapes, edges, labels, layouts = 100, 80, [], {}, {}, []
    if _local(element) == "process":
        layouts.append(_Process(element, x0, y, pool=False))
    for part in element.findall(_q("participant")):
        proc = processes.pop(part.get("processRef"), None)   # a process is drawn in one pool only
        lay = _Process(proc, x0, y, pool=True) if proc is not None else None
        box = lay.box if lay else Box(x0, y, 600, 120)   # a black-box pool
        box.h = max(box.h, 120)
        shapes.append((part.get("id"), box, ' isHorizontal="true"'))
        if lay:
            lay.stretch.append(box)
            layouts.append(lay)
        y = box.b + 40
    width = max([lay.box.r for lay in layouts] + [x0 + 600])
    for box in [box for _, box, _ in shapes] + [box for lay in layouts for box in lay.stretch]:
        box.w = width - box.x   # every pool and lane as wide as the widest pool
    for lay in layouts:
        shapes += [(n, box, attrs) for n, (box, attrs) in lay.shapes.items()]
        edges.update(lay.edges)
        labels.update(lay.labels)
    bounds = {n: box for n, box, _ in shapes}
    for mf in element.findall(_q("messageFlow")):
        a, b = bounds.get(mf.get("sourceRef")), bounds.get(mf.get("targetRef"))
        if a and b:
            edges[mf.get("id")] = _message_edge(a, b)
    order = {el.get("id"): i for i, el in enumerate(root.iter()) if isinstance(el.tag, str)}
    shapes.sort(key=lambda s: order.get(s[0], 0))   # pools, lanes, then nodes: document order
    return ([(n, box, attrs, labels.get(n)) for n, box, attrs in shapes],
            [(n, pts, labels.get(n)) for n, pts in edges.items()])


def _fresh(base: str, ids: set) -> str:
    cand, i = base, 2
    while cand in ids:
        cand, i = f"{base}_{i}", i + 1
    ids.add(cand)
    return cand


def add_layout(xml: bytes) -> bytes:
    """Return xml with DI appended for every collaboration/process that has none."""
    root = etree.fromstring(xml, safe_xml_parser())
    missing = _missing_roots(root)
    if not missing:
        return xml
    # Reuse the prefixes the document binds; declare the others on the diagram element.
    wanted = ((BPMNDI, "bpmndi"), (DC, "dc"), (DI, "di"))
    bound = {uri: p for p, uri in root.nsmap.items() if p}
    declare = "".join(f' xmlns:{p}="{uri}"' for uri, p in wanted if uri not in bound)
    di, dc, dd = (bound.get(uri, p) for uri, p in wanted)
    ids = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}

    def bounds(box, indent):
        return f'{indent}<{dc}:Bounds x="{round(box.x)}" y="{round(box.y)}" width="{round(box.w)}" height="{round(box.h)}" />'

    def element(tag, n, attrs, body, label):
        return ([f'      <{di}:{tag} id={quoteattr(_fresh(n + "_di", ids))} bpmnElement={quoteattr(n)}{attrs}>']
                + body + ([f"        <{di}:BPMNLabel>", bounds(label, "          "), f"        </{di}:BPMNLabel>"]
                          if label else []) + [f"      </{di}:{tag}>"])
    out = []
    for root_element in missing:
        eid = root_element.get("id")
        shapes, edges = _diagram(root, root_element)
        out.append(f'  <{di}:BPMNDiagram id={quoteattr(_fresh(eid + "_diagram", ids))}{declare}>')
        out.append(f'    <{di}:BPMNPlane id={quoteattr(_fresh(eid + "_plane", ids))} bpmnElement={quoteattr(eid)}>')
        for n, box, attrs, label in shapes:
            out += element("BPMNShape", n, attrs, [bounds(box, "        ")], label)
        for n, pts, label in edges:
            out += element("BPMNEdge", n, "", [f'        <{dd}:waypoint x="{round(x)}" y="{round(y)}" />'
                                               for x, y in pts], label)
        out += [f"    </{di}:BPMNPlane>", f"  </{di}:BPMNDiagram>"]
    # Splice before the closing root tag so every byte of the original stays as it was.
    end = list(re.finditer(rb"</(?:[\w.-]+:)?definitions\s*>", xml))[-1].start()
    lead = b"" if xml[:end].endswith(b"\n") else b"\n"
    encoding = root.getroottree().docinfo.encoding or "UTF-8"
    return xml[:end] + lead + ("\n".join(out) + "\n").encode(encoding) + xml[end:]
