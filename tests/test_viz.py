"""make_dot: the exact nodes and edges of small graphs, names, sharing, double backward, render."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.autograd import grad
from minigrad.viz import Dot, make_dot, trace_modules

HAS_DOT = shutil.which("dot") is not None
try:
    import graphviz  # noqa: F401

    HAS_GRAPHVIZ = True
except ImportError:
    HAS_GRAPHVIZ = False


def _op(t) -> str:
    return type(t.grad_fn).__name__.lstrip("_")


def _graph(d: Dot) -> tuple[list[str], set[tuple[str, str]], list[tuple[str, str]]]:
    """(first label lines of the nodes, edges by first label lines, raw edges)."""
    first = {nid: label.split("\n")[0] for nid, label in d.nodes.items()}
    return sorted(first.values()), {(first[a], first[b]) for a, b in d.edges}, d.edges


def test_small_graph_exact_nodes_and_edges(device):
    a = mg.randn(2, 3, requires_grad=True, device=device)
    b = mg.randn(3, requires_grad=True, device=device)
    c = a * b
    d = c.sum()
    dot = make_dot(d, params={"a": a, "b": b})
    labels, edges, raw = _graph(dot)
    assert labels == sorted([_op(d), _op(c), "a", "b"])
    assert edges == {(_op(d), _op(c)), (_op(c), "a"), (_op(c), "b")}
    assert len(raw) == 3
    # the op boxes carry the output shape and dtype; leaves their name and shape
    assert set(dot.nodes.values()) >= {f"{_op(c)}\n(2, 3) float32", f"{_op(d)}\n() float32",
                                       "a\n(2, 3) float32", "b\n(3,) float32"}
    for x, y in raw:
        assert f"{x} -> {y}" in dot.source
    assert dot.source.startswith("digraph")


def test_unnamed_leaves_show_shapes_and_constants_are_not_drawn():
    a = mg.randn(4, requires_grad=True)
    const = mg.randn(4)  # requires no grad: no gradient flows there
    s = a + const
    y = s.sum()
    dot = make_dot(y)
    labels, edges, _ = _graph(dot)
    assert labels == sorted([_op(y), _op(s), "(4,) float32"])  # the constant has no node
    assert edges == {(_op(y), _op(s)), (_op(s), "(4,) float32")}


def test_shared_subgraph_drawn_once():
    x = mg.randn(3, requires_grad=True)
    h = x.exp()
    hh = h * h
    y = hh + h
    dot = make_dot(y, params={"x": x})
    labels, edges, raw = _graph(dot)
    assert labels.count(_op(h)) == 1
    assert labels.count("x") == 1
    assert len(dot.nodes) == 4  # Add, Mul, Exp, x
    assert edges == {(_op(y), _op(hh)), (_op(y), _op(h)), (_op(hh), _op(h)), (_op(h), "x")}
    # h * h uses h twice: two edges into the one Exp node, as two gradients flow there
    assert raw.count(next(e for e in raw if dot.nodes[e[0]].startswith(_op(hh)))) == 2
    assert len(raw) == 5


def test_parameter_names_from_a_model():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    loss = model(mg.randn(5, 3)).sum()
    dot = make_dot(loss, params=dict(model.named_parameters()))
    labels, _, _ = _graph(dot)
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= set(labels)
    assert len([lab for lab in labels if lab.endswith(("weight", "bias"))]) == 4
    assert "0.weight\n(4, 3) float32" in dot.nodes.values()


def test_double_backward_graph():
    x = mg.randn(3, requires_grad=True)
    w = mg.randn(3, requires_grad=True)
    z = (x * w).sum()
    (gx,) = grad(z, [x], create_graph=True)  # dz/dx = w: a graph that reaches w, not x
    dot = make_dot(gx, params={"x": x, "w": w})
    labels, edges, _ = _graph(dot)
    assert "w" in labels and "x" not in labels
    assert all(b in set(labels) for _, b in edges)
    # the gradient of a gradient through x**3: d/dx (3 x^2) = 6 x, drawn down to x once
    y = (x * x * x).sum()
    (g,) = grad(y, [x], create_graph=True)
    dot2 = make_dot(g, params={"x": x})
    labels2, _, _ = _graph(dot2)
    assert labels2.count("x") == 1
    g.sum().backward()  # the drawn graph is the one backward runs through: 6 x
    np.testing.assert_allclose(x.grad.array, 6 * x.array, rtol=1e-5)


def test_show_saved_lists_saved_values():
    a = mg.randn(2, 3, requires_grad=True)
    y = a.tanh()
    plain = make_dot(y)
    saved = make_dot(y, show_saved=True)
    op_plain = next(v for v in plain.nodes.values() if v.startswith(_op(y)))
    op_saved = next(v for v in saved.nodes.values() if v.startswith(_op(y)))
    assert op_plain == f"{_op(y)}\n(2, 3) float32"
    extra = op_saved.split("\n")[2:]
    assert extra and all("(2, 3) float32" in line for line in extra)  # tanh keeps x or y


def test_freed_graph_drawn_dashed():
    a = mg.randn(3, requires_grad=True)
    y = (a * 2).sum()
    y.backward()
    dot = make_dot(y)
    assert 'style="dashed"' in dot.source
    assert len(dot.nodes) == 1 and dot.edges == []


def test_group_by_module_clusters():
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = mg.randn(5, 3)
    with trace_modules(model) as trace:
        loss = model(x).sum()
    assert all("forward" not in m.__dict__ for m in model.modules())  # nothing left behind
    dot = make_dot(loss, params=dict(model.named_parameters()), group_by_module=trace)
    src = dot.source
    assert src.count("subgraph cluster_") == 3
    for title in ("0: Linear", "1: ReLU", "2: Linear"):
        assert f'label="{title}"' in src
    # the ReLU's op sits in the ReLU's box; the loss's Sum is outside every box
    relu_box = src.split('label="1: ReLU"')[1].split("}")[0]
    assert "ReLU\\n(5, 4)" in relu_box
    weight_box = src.split('label="0: Linear"')[1].split("}")[0]
    assert "0.weight" in weight_box and "0.bias" in weight_box
    lines = src.splitlines()
    last_box_end = max(i for i, line in enumerate(lines) if line == "  }")
    sum_line = next(i for i, line in enumerate(lines) if f'label="{_op(loss)}' in line)
    assert sum_line > last_box_end



def test_a_traced_sequential_draws_linear_and_relu_as_two_modules():
    """nn.Sequential runs Linear + ReLU as one node; inside trace_modules each module runs
    its own (traced) forward, so each gets its box, also after an untraced call planned the
    fused node; afterwards the model runs fused again."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU())
    x = mg.randn(5, 3)
    assert type(model(x).grad_fn).__name__ == "LinearReLU"
    with trace_modules(model) as trace:
        out = model(x)
        loss = out.sum()
    assert type(out.grad_fn).__name__ == "ReLU"
    dot = make_dot(loss, params=dict(model.named_parameters()), group_by_module=trace)
    for box in ("1: ReLU", "3: ReLU"):
        assert "ReLU\\n(5, " in dot.source.split(f'label="{box}"')[1].split("}")[0]
    assert type(model(x).grad_fn).__name__ == "LinearReLU"

def test_bad_arguments():
    with pytest.raises(TypeError, match="root must be a Tensor"):
        make_dot([1.0])
    with pytest.raises(TypeError, match="ModuleTrace"):
        make_dot(mg.randn(2, requires_grad=True), group_by_module=True)
    with pytest.raises(TypeError, match="Module"):
        with trace_modules(object()):
            pass


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's `dot` program is not installed")
@pytest.mark.skipif(not HAS_GRAPHVIZ, reason="the graphviz package is not installed")
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_render(tmp_path, fmt):
    a = mg.randn(2, requires_grad=True)
    dot = make_dot((a * a).sum(), params={"a": a})
    path = dot.render(tmp_path / f"g.{fmt}")
    data = open(path, "rb").read()
    assert data.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in data
    assert "<svg" in dot._repr_svg_()


def test_render_errors_say_how_to_install(monkeypatch, tmp_path):
    dot = make_dot(mg.randn(2, requires_grad=True))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    if HAS_GRAPHVIZ:
        with pytest.raises(RuntimeError, match="apt-get install graphviz"):
            dot.render(tmp_path / "g.png")
        assert dot._repr_svg_() is None
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r"minigrad-tensor\[viz\]"):
        dot.render(tmp_path / "g.png")
    assert "digraph" in dot.source  # the text needs nothing extra


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x)) + x


def test_nested_modules_give_nested_boxes():
    mg.manual_seed(0)
    model = nn.Sequential(_Block(), _Block())
    with trace_modules(model) as trace:
        loss = model(mg.randn(3, 4)).sum()
    src = make_dot(loss, params=dict(model.named_parameters()), group_by_module=trace).source
    lines = src.splitlines()

    def box(title):  # the lines inside the box titled `title`, nested boxes included
        start = next(i for i, line in enumerate(lines) if f'label="{title}"' in line)
        depth, body = 1, []
        for line in lines[start + 1:]:
            depth += line.count("{") - line.count("}")
            if depth == 0:
                return "\n".join(body)
            body.append(line)
        raise AssertionError(f"box {title} not closed")

    outer = box("1: _Block")
    assert 'label="1.fc: Linear"' in outer and 'label="1.act: Tanh"' in outer
    assert "1.fc.weight" in outer and "Add\\n(3, 4)" in outer  # the block's own op
    assert "0.fc.weight" not in outer
    assert "Tanh\\n(3, 4)" in box("1.act: Tanh")
    assert src.count("subgraph cluster_") == 6
