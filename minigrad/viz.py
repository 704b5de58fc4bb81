"""The backward graph, drawn: :func:`make_dot` writes Graphviz DOT text for a tensor's graph.

    loss = loss_fn(model(x), y)
    dot = make_dot(loss, params=dict(model.named_parameters()))
    print(dot.source)                       # the DOT text: needs nothing extra
    dot.render("graph.png")                 # needs the `graphviz` package and the `dot` program

One node per op (its name, output shape and dtype) and one per leaf that requires grad (its
parameter name when ``params`` names it, else its shape); edges point the way gradients flow,
from an op to the nodes of its inputs. A tensor reached twice is drawn once, so a shared
subgraph appears once with several edges into it. Graphs recorded by ``create_graph=True``
(gradients of gradients) are ordinary graphs and are drawn the same way.

Large models: record which module made each op with :func:`trace_modules` and pass the trace
as ``group_by_module``; each module's ops are then drawn inside one box (a DOT cluster)::

    with trace_modules(model) as trace:
        loss = loss_fn(model(x), y)
    make_dot(loss, params=dict(model.named_parameters()), group_by_module=trace)

Tracing wraps the modules' ``forward`` only inside the ``with`` block (instance attributes,
removed on exit): nothing is added to ``Module.__call__``, so it costs nothing when unused.

References:
    torchviz (S. Zagoruyko), micrograd's ``draw_dot`` (A. Karpathy), DeZero's
    ``plot_dot_graph`` (K. Saito): the same idea for their frameworks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping

from .tensor import Tensor

_INSTALL_PACKAGE = "pip install 'minigrad-tensor[viz]' (or: pip install graphviz)"
_INSTALL_DOT = ("install the Graphviz programs, e.g. `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS) or `conda install graphviz`")

# Attributes the Function base sets on every recorded node: bookkeeping, not saved values.
_BOOKKEEPING = frozenset({"inputs", "needs_input_grad", "sequence", "writes", "versions",
                          "saved"})


# --------------------------------------------------------------------------- the adapter


def _node_of(t: Tensor):
    """The one place that reads autograd internals: ``(key, name, inputs, saved)`` of the op
    that produced ``t``, or None for a leaf.

    ``key`` identifies the node; ``inputs`` is the tuple of input Tensors (None once a
    backward without ``retain_graph`` freed it); ``saved`` maps a label to what backward
    keeps: the inputs' and the output's values when the op saves them, and any other
    attribute the op's forward set (masks, axes, shapes).
    """
    fn = t._ctx
    if fn is None:
        return None
    saved: dict[str, object] = {}
    for k, v in enumerate(getattr(fn, "saved", ())):  # what forward saved for backward
        if v is t.array:
            saved["output"] = v
        else:
            i = next((i for i, p in enumerate(fn.inputs or ()) if p.array is v), None)
            saved[f"saved{k}" if i is None else f"input{i}"] = v
    for k, v in vars(fn).items():
        if k not in _BOOKKEEPING and not k.startswith("_"):
            saved[k] = v
    name = type(fn).__name__
    return id(fn), name, getattr(fn, "inputs", None), saved


# --------------------------------------------------------------------------- module tracing


class ModuleTrace:
    """Which module made which op, recorded by :func:`trace_modules`.

    ``names[key]`` is the dotted name of the innermost module whose ``forward`` created the
    op with node key ``key`` ('' is the traced model itself).
    """

    def __init__(self):
        self.names: dict[int, str] = {}
        self.kinds: dict[str, str] = {}  # dotted module name -> its class name
        self._alive: list = []  # the traced tensors, so node keys (ids) are not reused

    def module_of(self, key: int) -> str | None:
        return self.names.get(key)

    def _claim(self, name: str, outputs, stop: set[int]) -> None:
        """Tag every untagged op reachable from ``outputs`` without passing through the
        call's input tensors (``stop``): those are the ops this call created, since inner
        modules finish (and tag theirs) first."""
        stack = [o for o in _tensors_in(outputs)]
        seen: set[int] = set()
        while stack:
            t = stack.pop()
            if id(t) in stop or id(t) in seen:
                continue
            seen.add(id(t))
            node = _node_of(t)
            if node is None:
                continue
            key, _, inputs, _ = node
            self._alive.append(t)
            if key in self.names:
                continue  # made by an inner module (or an earlier call): already tagged
            self.names[key] = name
            stack.extend(inputs or ())


def _tensors_in(obj) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


@contextlib.contextmanager
def trace_modules(model) -> Iterator[ModuleTrace]:
    """Record, for the ops created inside the block, which of ``model``'s modules made them.

    Each module's ``forward`` is wrapped (an instance attribute, removed on exit) so that
    after it returns, the ops between its inputs and its outputs not yet claimed by a
    submodule are tagged with its dotted name.

    Args:
        model: a :class:`minigrad.nn.Module`.

    Yields:
        A :class:`ModuleTrace` to pass to ``make_dot(..., group_by_module=trace)``.
    """
    if not callable(getattr(model, "named_modules", None)):
        raise TypeError(f"trace_modules needs a minigrad.nn.Module, got {type(model).__name__}")
    trace = ModuleTrace()
    wrapped = []
    for name, mod in model.named_modules():
        if "forward" in mod.__dict__:
            continue  # already wrapped (a module reached twice) or user-patched: leave it
        wrapped.append(mod)
        mod.__dict__["forward"] = _traced_forward(mod, name, trace)
        trace.kinds[name] = type(mod).__name__
    try:
        yield trace
    finally:
        for mod in wrapped:
            mod.__dict__.pop("forward", None)


def _traced_forward(mod, name: str, trace: ModuleTrace):
    forward = type(mod).forward.__get__(mod)

    def traced(*args, **kwargs):
        out = forward(*args, **kwargs)
        stop = {id(t) for t in _tensors_in((args, kwargs))}
        trace._claim(name, out, stop)
        return out

    return traced


# --------------------------------------------------------------------------- the graph


class Dot:
    """A DOT graph: ``source`` (text), :meth:`render` (a picture file) and an SVG for
    notebooks (``_repr_svg_``)."""

    def __init__(self, source: str, nodes: dict[str, str], edges: list[tuple[str, str]]):
        self.source = source
        self.nodes = nodes  # node id -> label
        self.edges = edges  # (from, to): the way gradients flow

    def __repr__(self) -> str:
        return f"Dot(nodes={len(self.nodes)}, edges={len(self.edges)})"

    def render(self, path: str | os.PathLike, format: str | None = None) -> str:  # noqa: A002
        """Draw the graph into ``path`` with Graphviz's ``dot`` program.

        Args:
            path: the picture's file name (e.g. ``graph.png``).
            format: 'png', 'svg' or 'pdf' (any format ``dot`` knows); by default the
                extension of ``path``.

        Returns:
            The path written.

        Raises:
            ImportError: the ``graphviz`` package is missing (with how to install it).
            RuntimeError: the ``dot`` program is missing (with how to install it).
        """
        path = os.fspath(path)
        fmt = format or os.path.splitext(path)[1].lstrip(".").lower()
        if not fmt:
            raise ValueError(f"render: give format= or a path with an extension, got {path!r}")
        graphviz = _graphviz()
        try:
            data = graphviz.Source(self.source).pipe(format=fmt)
        except graphviz.ExecutableNotFound as err:
            raise RuntimeError(f"render needs Graphviz's `dot` program: {_INSTALL_DOT}") from err
        with open(path, "wb") as f:
            f.write(data)
        return path

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002
        """The picture's bytes in ``format``, without writing a file."""
        graphviz = _graphviz()
        try:
            return graphviz.Source(self.source).pipe(format=format)
        except graphviz.ExecutableNotFound as err:
            raise RuntimeError(f"rendering needs Graphviz's `dot` program: {_INSTALL_DOT}") from err

    def _repr_svg_(self) -> str | None:
        """Jupyter's SVG display; None (the text repr) when Graphviz is not installed."""
        try:
            return self.pipe("svg").decode("utf-8")
        except (ImportError, RuntimeError):
            return None


def _graphviz():
    try:
        import graphviz  # noqa: PLC0415  (optional dependency)
    except ImportError as err:
        raise ImportError(f"rendering a graph needs the `graphviz` package: {_INSTALL_PACKAGE}; "
                          f"and the `dot` program: {_INSTALL_DOT}") from err
    if shutil.which("dot") is None:
        raise RuntimeError(f"rendering a graph needs Graphviz's `dot` program: {_INSTALL_DOT}")
    return graphviz


def _describe(value) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "dtype", None) is not None:
        return f"{tuple(shape)} {value.dtype}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _walk(roots: list[Tensor]):
    """Every op node and leaf reachable from ``roots``, once each, without recursion.

    Returns (nodes, edges): nodes maps a DOT id ('n0', 'n1', ... in the order reached) to
    (kind, tensor, name, saved, freed) with kind 'op' or 'leaf' (for an op, the tensor is its
    output); edges lists (from id, to id) the way gradients flow, one per input use.
    """
    ids: dict[int, str] = {}  # node key (ops) or tensor id (leaves) -> DOT id
    nodes: dict[str, tuple] = {}
    edges: list[tuple[str, str]] = []

    def visit(t: Tensor) -> tuple[str, bool]:
        node = _node_of(t)
        key = id(t) if node is None else node[0]
        if key in ids:
            return ids[key], False
        ids[key] = dot_id = f"n{len(ids)}"
        if node is None:
            nodes[dot_id] = ("leaf", t, None, {}, False)
        else:
            nodes[dot_id] = ("op", t, node[1], node[3], node[2] is None)
        return dot_id, True

    stack = []
    for r in roots:
        dot_id, new = visit(r)
        if new:
            stack.append((dot_id, r))
    while stack:
        dot_id, t = stack.pop()
        node = _node_of(t)
        if node is None:
            continue
        for x in node[2] or ():
            if not x.requires_grad:
                continue  # no gradient flows there: constants and data are not drawn
            child, new = visit(x)
            edges.append((dot_id, child))
            if new:
                stack.append((child, x))
    return nodes, edges


def make_dot(root: Tensor | list[Tensor] | tuple[Tensor, ...],
             params: Mapping[str, Tensor] | None = None, show_saved: bool = False,
             group_by_module: ModuleTrace | None = None) -> Dot:
    """The backward graph of ``root`` as Graphviz DOT.

    Draw it before a ``backward()`` that frees the graph (or backward with
    ``retain_graph=True``): a freed op is drawn dashed, without its inputs.

    Args:
        root: the tensor (e.g. the loss) whose graph to draw, or a list of them.
        params: names for leaves, e.g. ``dict(model.named_parameters())``; other leaves
            are labelled with their shape.
        show_saved: list, in each op's box, what it keeps for backward (saved input and
            output values, masks, axes) with shapes and dtypes.
        group_by_module: a :class:`ModuleTrace` from :func:`trace_modules`: each module's
            ops (and its named parameters) are drawn inside one box labelled with its name.

    Returns:
        A :class:`Dot` with ``source`` (the DOT text), ``nodes`` (id -> label), ``edges``
        (from id, to id) and ``render(path)``.
    """
    roots = [root] if isinstance(root, Tensor) else list(root)
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"make_dot: root must be a Tensor or a list of Tensors, got "
                            f"{type(r).__name__}")
    if group_by_module is not None and not isinstance(group_by_module, ModuleTrace):
        raise TypeError("make_dot: group_by_module must be the ModuleTrace of "
                        f"trace_modules(model), got {type(group_by_module).__name__}")
    names = {id(p): n for n, p in (params or {}).items()}
    nodes, edges = _walk(roots)
    labels, lines, clusters = {}, [], {}
    for nid, node in nodes.items():
        is_root = any(node[1] is r for r in roots)
        label, entry, module = _entry(nid, node, names, show_saved, group_by_module, is_root)
        labels[nid] = label
        if group_by_module is not None and module is not None:
            clusters.setdefault(module, []).append(entry)
        else:
            lines.append(entry)
    out = ["digraph backward {", '  graph [rankdir=TB, fontname="Helvetica"]',
           '  node [fontname="Helvetica", fontsize=10]']
    if clusters:
        lines = clusters.pop("", []) + lines  # the model's own ops: outside every box
        out.extend(_clusters(clusters, group_by_module.kinds))
    out.extend(lines)
    out.extend(f"  {a} -> {b}" for a, b in edges)
    out.append("}")
    return Dot("\n".join(out) + "\n", labels, edges)


def _clusters(clusters: dict[str, list[str]], kinds: dict[str, str]) -> list[str]:
    """DOT subgraphs, nested as the modules are ('0' holds '0.1'), each titled
    'name: Class'; a module with nothing of its own but boxed children is boxed too."""
    order: dict[str, None] = {}  # every boxed module and its ancestors, in order of appearance
    for name in clusters:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            order.setdefault(".".join(parts[:i]))
    children: dict[str, list[str]] = {}
    for name in order:
        children.setdefault(name.rpartition(".")[0], []).append(name)
    out: list[str] = []
    counter = iter(range(len(order)))

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        kind = kinds.get(name, "")
        out.append(f"{pad}subgraph cluster_{next(counter)} {{")
        out.append(f'{pad}  label="{_escape(f"{name}: {kind}" if kind else name)}"; '
                   'style="rounded,dashed"')
        out.extend(pad + e for e in clusters.get(name, []))
        for child in children.get(name, []):
            emit(child, depth + 1)
        out.append(f"{pad}}}")

    for top in children.get("", []):
        emit(top, 1)
    return out


def _entry(nid: str, node: tuple, names: dict[int, str], show_saved: bool,
           trace: ModuleTrace | None, is_root: bool) -> tuple[str, str, str | None]:
    """(plain label, DOT node line, module name or None) of one node of :func:`_walk`."""
    kind, t, name, saved, freed = node
    shape = f"{tuple(t.shape)} {t.dtype}"
    module = None
    if kind == "leaf":
        label = f"{names[id(t)]}\n{shape}" if id(t) in names else shape
        style = 'shape=box, style=filled, fillcolor="lightblue"'
        if id(t) in names:
            module = names[id(t)].rpartition(".")[0]
    else:
        label = f"{name.lstrip('_')}\n{shape}"
        style = "shape=box, style=" + ('"dashed"' if freed else '"rounded"')
        if trace is not None:
            module = trace.module_of(_node_of(t)[0])
    dot_label = _escape(label).replace("\n", "\\n")
    if show_saved and kind == "op" and saved:
        saved_lines = [f"{k}: {_describe(v)}" for k, v in saved.items()]
        label += "\n" + "\n".join(saved_lines)
        dot_label += "\\n" + "".join(_escape(x) + "\\l" for x in saved_lines)
    if is_root:
        style += ', color="darkgreen", penwidth=2'
    return label, f'  {nid} [label="{dot_label}", {style}]', module


def _escape(text: str) -> str:
    """Escape backslashes and quotes for a DOT string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


__all__ = ["Dot", "ModuleTrace", "make_dot", "trace_modules"]
