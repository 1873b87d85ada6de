"""Plotting plumbing: figures go to PNG files in the output folder; ``--show`` also opens them, and
in a notebook they are shown inline as well.

Every function takes the run's context first (``runtime.RunContext``: ``output_dir``, ``show``).

Matplotlib runs headless (the Agg backend) unless ``--show`` is given, so scripts work over SSH,
in CI and in tests.
"""

from __future__ import annotations

import os
import pathlib

import matplotlib
import numpy as np

from seminar.runtime import in_notebook


def _want_screen(run) -> bool:
    """``--show``, or a notebook whose backend draws inline (the kernel's default)."""
    if run is not None and getattr(run, "show", False):
        return True
    return in_notebook() and "inline" in matplotlib.get_backend().lower()


def pyplot(run=None):
    """Return ``matplotlib.pyplot``, on a headless backend unless the plots are to be shown."""
    if not _want_screen(run) and "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, run, filename: str) -> pathlib.Path:
    """Write ``fig`` to ``<output-dir>/<filename>``; show it if ``--show``; return the path."""
    plt = pyplot(run)
    path = pathlib.Path(run.output_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    if _want_screen(run):
        plt.show()
    plt.close(fig)
    return path


def graph_edges(concrete_function) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The operations ``(name, type)`` and edges ``(from, to)`` of a traced ``tf.function``.

    An edge goes from the operation that produces a tensor to each operation that consumes it.
    """
    graph = concrete_function.graph
    nodes = [(op.name, op.type) for op in graph.get_operations()]
    edges = [(tensor.op.name, op.name) for op in graph.get_operations() for tensor in op.inputs]
    return nodes, edges


def draw_graph(concrete_function, run, filename: str, title: str = "") -> pathlib.Path:
    """Draw a traced function's operations as boxes in layers (inputs on the left) with arrows
    for the tensors between them: the seminar's "draw the schema of the code"."""
    plt = pyplot(run)
    nodes, edges = graph_edges(concrete_function)
    # Layer of a node = length of the longest path from an input to it.
    layer = {name: 0 for name, _ in nodes}
    for _ in nodes:  # the graph is acyclic: |nodes| relaxations are enough
        for source, target in edges:
            layer[target] = max(layer[target], layer[source] + 1)
    columns: dict[int, list[str]] = {}
    for name, _ in nodes:
        columns.setdefault(layer[name], []).append(name)
    position = {}
    for column, names in columns.items():
        for row, name in enumerate(names):
            position[name] = (column * 3.0, -(row - (len(names) - 1) / 2) * 1.4)
    kinds = dict(nodes)
    fig, ax = plt.subplots(figsize=(2.6 * (len(columns) + 1), 1.2 * max(len(v) for v in columns.values()) + 1.5))
    for source, target in edges:
        ax.annotate("", xy=position[target], xytext=position[source],
                    arrowprops=dict(arrowstyle="->", color="0.4", shrinkA=28, shrinkB=28))
    for name, (x, y) in position.items():
        colour = "#cfe8ff" if kinds[name] == "Placeholder" else "#ffe9c2" if kinds[name] == "Const" else "#e2f5d9"
        label = kinds[name] if name == kinds[name] else f"{kinds[name]}\n{name}"
        ax.text(x, y, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.4", facecolor=colour, edgecolor="0.3"))
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 1, max(ys) + 1)
    ax.axis("off")
    ax.set_title(title or "Traced graph: blue = inputs you feed, orange = constants, green = operations")
    return save(fig, run, filename)


def plot_image_rows(run, rows: list, filename: str,
                    title: str, *, signed: bool = False) -> pathlib.Path:
    """One row of 28x28 images per ``(label, images)``, e.g. test digits above their
    reconstructions. Pixels in [0, 1] are drawn black on white; ``signed`` images (directions in
    pixel space) red for positive, blue for negative, each on its own symmetric scale."""
    plt = pyplot(run)
    columns = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.05 * columns + 1.2, 1.15 * len(rows) + 0.5),
                             squeeze=False)
    for row, (label, images) in enumerate(rows):
        images = np.asarray(images, np.float32).reshape(-1, 28, 28)
        for column in range(columns):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            if column >= len(images):
                ax.axis("off")
                continue
            if signed:
                limit = float(np.abs(images[column]).max()) or 1.0
                ax.imshow(images[column], cmap="RdBu_r", vmin=-limit, vmax=limit)
            else:
                ax.imshow(np.clip(images[column], 0.0, 1.0), cmap="gray_r", vmin=0.0, vmax=1.0)
        axes[row, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title)
    return save(fig, run, filename)
