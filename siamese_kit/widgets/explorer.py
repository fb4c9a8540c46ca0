"""An interactive explorer for a trained twin: compare two images, slide the threshold, rank candidates.

`PairExplorer(model, imageset)` embeds every image once and then answers from the embeddings alone, so
moving a widget costs a head call on a few vectors and a redraw, never an encoder pass. It works with
a contrastive twin (distance, small = same), a twin classifier (probability, large = same) and a
`PrototypeModel` (distance between embeddings).

    explorer = PairExplorer(model, test_set, threshold=calibrated_threshold)
    explorer            # in a notebook cell: shows the three panels

Every widget is an attribute, so the explorer can be driven from Python (and is tested that way):
`explorer.threshold.value = 0.8` updates `explorer.accuracy.value` and the pair grid as a slider
drag would.
"""

from __future__ import annotations

import numpy as np

from ..data.imageset import ImageSet
from ..data.streams.pairs import PairSet, fixed_pairs
from ..evaluation import best_accuracy_threshold, pair_accuracy, predict_same
from ._common import display_widget, figure_png, image_png, score_pairs

# CSS classes on the widgets a browser test (or a user's stylesheet) needs to find.
THRESHOLD_CLASS = "siamese-kit-threshold"
ACCURACY_CLASS = "siamese-kit-accuracy"
DECISION_CLASS = "siamese-kit-decision"
EXPLORER_CLASS = "siamese-kit-explorer"


class PairExplorer:
    """Three linked panels over one labelled ImageSet and a trained twin.

    1. Compare: pick two images by class and index; both are shown with the score and the decision.
    2. Threshold: a slider over the score range; the accuracy on a fixed, seeded pair set and a grid of
       its first pairs (right in green, wrong in red with the word WRONG) follow the slider.
    3. Rank: pick a query image; the `top_k` most similar other images are shown in order, with their
       scores, same-class ones framed green.

    Args:
        model: a trained `SiameseModel` (contrastive or twin classifier) or `PrototypeModel`.
        imageset: labelled images to explore (usually test or validation images).
        threshold: the starting decision threshold. Calibrate it on validation pairs
            (`evaluation.best_threshold`) and pass it here; when None the explorer starts at the
            accuracy-best threshold of its own pair set, which flatters the model and says so.
        pairs: the pair set behind the accuracy and the grid; None draws `num_pairs` seeded pairs.
        num_pairs: size of the drawn pair set.
        grid_pairs: pairs shown in the grid.
        top_k: candidates shown for a query.
        seed: pair-set seed.

    Attributes:
        widget: the whole explorer (a `VBox`), shown when the explorer is a cell's value.
        class_a, index_a, class_b, index_b, pair_view, decision: the compare panel.
        threshold, accuracy, grid: the threshold panel.
        query_class, query_index, ranking: the rank panel.
        embeddings: `[N, D]` embeddings of `imageset`, computed once.
        decision_text: the compare panel's decision as plain text (no markup).

    Raises:
        ValueError: if the model has no `embed` or `score_kind`, or the arguments are out of range.
    """

    def __init__(
        self,
        model,
        imageset: ImageSet,
        threshold: float | None = None,
        pairs: PairSet | None = None,
        num_pairs: int = 200,
        grid_pairs: int = 10,
        top_k: int = 8,
        seed: int = 0,
    ):
        import ipywidgets as widgets

        if not hasattr(model, "embed") or getattr(model, "score_kind", None) not in ("distance", "similarity"):
            raise ValueError(
                "PairExplorer needs a trained siamese_kit model (SiameseModel or PrototypeModel) with "
                f"embed() and score_kind; got {type(model).__name__}."
            )
        if not isinstance(imageset, ImageSet):
            raise ValueError(f"PairExplorer: imageset must be an ImageSet, got {type(imageset).__name__}.")
        if grid_pairs < 1 or top_k < 1:
            raise ValueError(f"PairExplorer: grid_pairs and top_k must be >= 1, got {grid_pairs} and {top_k}.")
        if top_k >= len(imageset):
            raise ValueError(
                f"PairExplorer: top_k={top_k} but the ImageSet has only {len(imageset)} images; lower top_k."
            )
        self.model = model
        self.imageset = imageset
        self.score_kind = model.score_kind
        self.embeddings = model.embed(imageset)
        self.pairs = pairs if pairs is not None else fixed_pairs(imageset, num_pairs, seed=seed)
        self.pair_scores = score_pairs(
            model, self.embeddings[self.pairs.index_a], self.embeddings[self.pairs.index_b]
        )
        self.grid_pairs = min(grid_pairs, len(self.pairs))
        self.top_k = top_k
        self.threshold_source = "given"
        if threshold is None:
            threshold = best_accuracy_threshold(self.pair_scores, self.pairs.pair_label, self.score_kind)
            self.threshold_source = "best on these pairs (optimistic: calibrate on validation pairs)"
        self._members = [np.flatnonzero(imageset.labels == k) for k in range(imageset.num_classes)]
        classes = [(name, k) for k, name in enumerate(imageset.class_names) if len(self._members[k])]
        layout = widgets.Layout(width="260px")

        # Compare panel.
        self.class_a = widgets.Dropdown(options=classes, value=classes[0][1], description="class A", layout=layout)
        self.index_a = widgets.BoundedIntText(value=0, min=0, description="index A", layout=layout)
        second = classes[1][1] if len(classes) > 1 else classes[0][1]
        self.class_b = widgets.Dropdown(options=classes, value=second, description="class B", layout=layout)
        self.index_b = widgets.BoundedIntText(value=0, min=0, description="index B", layout=layout)
        picture = widgets.Layout(width="112px", height="112px", margin="0 6px 0 0")
        self.image_a = widgets.Image(format="png", layout=picture)
        self.image_b = widgets.Image(format="png", layout=picture)
        self.decision = widgets.HTML()
        self.decision.add_class(DECISION_CLASS)
        self.pair_view = widgets.HBox([self.image_a, self.image_b], layout=widgets.Layout(overflow="visible"))

        # Threshold panel.
        low, high = float(self.pair_scores.min()), float(self.pair_scores.max())
        step = max(high - low, 1e-6) / 200
        # One step past each end, so the ends mean "every pair same" and "every pair different".
        low, high = low - step, high + step
        self.threshold = widgets.FloatSlider(
            value=float(np.clip(threshold, low, high)), min=low, max=high, step=step,
            readout_format=".3f", description="threshold", continuous_update=False,
            layout=widgets.Layout(width="520px"),
        )
        self.threshold.add_class(THRESHOLD_CLASS)
        self.accuracy = widgets.HTML()
        self.accuracy.add_class(ACCURACY_CLASS)
        self.grid = widgets.Image(format="png", layout=widgets.Layout(width="760px"))
        # The same pairs as two histograms, the threshold a line the slider moves across them.
        self.histogram = widgets.Image(format="png", layout=widgets.Layout(width="560px"))

        # Rank panel.
        self.query_class = widgets.Dropdown(options=classes, value=classes[0][1], description="query", layout=layout)
        self.query_index = widgets.BoundedIntText(value=0, min=0, description="index", layout=layout)
        self.ranking = widgets.Image(format="png", layout=widgets.Layout(width="760px"))
        self.ranking_text = widgets.HTML()

        for control in (self.class_a, self.index_a, self.class_b, self.index_b):
            control.observe(self._on_compare_change, names="value")
        self.threshold.observe(self._on_threshold_change, names="value")
        for control in (self.query_class, self.query_index):
            control.observe(self._on_query_change, names="value")

        def title(text):
            return widgets.HTML(f"<h4 style='margin:8px 0 2px 0'>{text}</h4>")

        self.widget = widgets.VBox([
            title("Compare two images"),
            widgets.HBox([widgets.VBox([self.class_a, self.index_a]), widgets.VBox([self.class_b, self.index_b])]),
            widgets.HBox([self.pair_view, self.decision]),
            title(f"Threshold on {len(self.pairs)} pairs"),
            self.threshold, self.accuracy, self.histogram, self.grid,
            title(f"Rank: the {top_k} nearest images to a query"),
            widgets.HBox([self.query_class, self.query_index]),
            self.ranking_text, self.ranking,
        ])
        self.widget.add_class(EXPLORER_CLASS)
        self._on_compare_change()
        self._on_threshold_change()
        self._on_query_change()

    def _ipython_display_(self):
        display_widget(self.widget, "Pair explorer: pick two images, see their score and the decision at a threshold "
                                    "slider (interactive in a running notebook; its static pictures follow).")

    # -- picking images -------------------------------------------------------------------------------

    def image_index(self, class_index: int, index_in_class: int) -> int:
        """The ImageSet index of the `index_in_class`-th image of a class.

        Args:
            class_index: class number.
            index_in_class: position among that class's images (0-based).

        Returns:
            index into `imageset`.

        Raises:
            ValueError: naming the class and how many images it has when out of range.
        """
        members = self._members[class_index]
        if not 0 <= index_in_class < len(members):
            raise ValueError(
                f"class {self.imageset.class_names[class_index]!r} has {len(members)} images; "
                f"index {index_in_class} is out of range (0..{len(members) - 1})."
            )
        return int(members[index_in_class])

    def _limit_index(self, class_control, index_control) -> int:
        # The index box's maximum follows the chosen class, so a bad index cannot be typed in.
        members = self._members[class_control.value]
        index_control.max = len(members) - 1
        index_control.value = min(index_control.value, index_control.max)
        return self.image_index(class_control.value, index_control.value)

    # -- compare --------------------------------------------------------------------------------------

    def compare(self, first: int, second: int) -> tuple[float, bool]:
        """Score and decision for two images of the ImageSet, from the stored embeddings.

        Args:
            first: ImageSet index of the first image.
            second: ImageSet index of the second image.

        Returns:
            `(score, same)`: the pair score and whether it falls on the "same" side of the threshold.
        """
        score = float(score_pairs(self.model, self.embeddings[[first]], self.embeddings[[second]])[0])
        same = bool(predict_same([score], self.threshold.value, self.score_kind)[0])
        return score, same

    def _on_compare_change(self, _change=None) -> None:
        first = self._limit_index(self.class_a, self.index_a)
        second = self._limit_index(self.class_b, self.index_b)
        self.image_a.value = image_png(self.imageset.images[first])
        self.image_b.value = image_png(self.imageset.images[second])
        self._picked = (first, second)
        self._show_decision()

    def _decision(self) -> tuple[float, bool, bool]:
        """`(score, predicted same, truly same)` for the picked pair at the current threshold."""
        first, second = self._picked
        score, same = self.compare(first, second)
        truly_same = bool(self.imageset.labels[first] == self.imageset.labels[second])
        return score, same, truly_same

    def _decision_parts(self) -> list[str]:
        # One wording for the plain text and the snapshot, so the two never disagree.
        score, same, truly_same = self._decision()
        word = "distance" if self.score_kind == "distance" else "P(same)"
        return [
            f"{word} {score:.3f}",
            f"threshold {self.threshold.value:.3f}",
            f"predicted {'same' if same else 'different'}",
            f"truth {'same' if truly_same else 'different'}",
            "RIGHT" if same == truly_same else "WRONG",
        ]

    @property
    def decision_text(self) -> str:
        """The compare panel's decision as one line of plain text, to print where markup would show.

        Returns:
            e.g. "distance 1.136 | threshold 1.050 | predicted different | truth different | RIGHT"
            ("P(same) 0.731 | ..." for a twin classifier).
        """
        return " | ".join(self._decision_parts())

    def _show_decision(self) -> None:
        # The only part of the compare panel that depends on the threshold: a slider move redraws
        # this line, not the two pictures.
        from ..plotting import CORRECT_COLOUR, WRONG_COLOUR

        score, same, truly_same = self._decision()
        right = same == truly_same
        colour = CORRECT_COLOUR if right else WRONG_COLOUR
        word = "distance" if self.score_kind == "distance" else "P(same)"
        self.decision.value = (
            f"<div style='padding-left:12px;font-size:15px'>{word}: <b>{score:.3f}</b><br>"
            f"threshold: {self.threshold.value:.3f}<br>"
            f"predicted: <b>{'same' if same else 'different'}</b><br>"
            f"truth: {'same' if truly_same else 'different'}<br>"
            f"<span style='color:{colour}'><b>{'RIGHT' if right else 'WRONG'}</b></span></div>"
        )

    # -- threshold ------------------------------------------------------------------------------------

    def accuracy_at(self, threshold: float) -> float:
        """Pair accuracy of the explorer's pair set at a threshold.

        Args:
            threshold: decision threshold on the model's score.

        Returns:
            accuracy in [0, 1].
        """
        return pair_accuracy(self.pair_scores, self.pairs.pair_label, threshold, self.score_kind)

    def _on_threshold_change(self, _change=None) -> None:
        from .. import plotting

        threshold = self.threshold.value
        predictions = predict_same(self.pair_scores, threshold, self.score_kind)
        correct = int(np.sum(predictions == self.pairs.pair_label))
        self.accuracy.value = (
            f"<b>accuracy {correct / len(self.pairs):.1%}</b> ({correct}/{len(self.pairs)} pairs) at "
            f"threshold {threshold:.3f} <span style='color:#666'>(start: {self.threshold_source})</span>"
        )
        shown = slice(0, self.grid_pairs)
        images = self.imageset.images
        figure = plotting.pair_grid(
            images[self.pairs.index_a[shown]], images[self.pairs.index_b[shown]],
            self.pairs.pair_label[shown], predictions[shown], self.pair_scores[shown],
            score_name="distance" if self.score_kind == "distance" else "P(same)",
        )
        self.grid.value = figure_png(figure, dpi=100)
        self.histogram.value = figure_png(self._draw_histograms(threshold), dpi=90)
        self._show_decision()

    def _draw_histograms(self, threshold: float, ax=None):
        from .. import plotting

        return plotting.score_histograms(
            self.pair_scores, self.pairs.pair_label, threshold, self.score_kind, ax=ax,
            title=f"{len(self.pairs)} pairs: what falls on the wrong side of {threshold:.3f} is a mistake")

    # -- rank -----------------------------------------------------------------------------------------

    def rank(self, query: int) -> tuple[np.ndarray, np.ndarray]:
        """The `top_k` images most like `query` (itself excluded), best first.

        Args:
            query: ImageSet index of the query image.

        Returns:
            `(indices, scores)`, each `[top_k]`; ties go to the lower index.
        """
        others = np.delete(np.arange(len(self.imageset)), query)
        query_embeddings = np.repeat(self.embeddings[[query]], len(others), axis=0)
        scores = score_pairs(self.model, query_embeddings, self.embeddings[others])
        order = np.argsort(scores if self.score_kind == "distance" else -scores, kind="stable")[: self.top_k]
        return others[order], scores[order]

    def _on_query_change(self, _change=None) -> None:
        query = self._limit_index(self.query_class, self.query_index)
        self._query = query
        indices, scores = self.rank(query)
        labels = self.imageset.labels
        hits = int(np.sum(labels[indices] == labels[query]))
        self.ranking_text.value = f"{hits} of the {self.top_k} nearest are of the query's class"
        self.ranking.value = figure_png(self._draw_ranking(query, indices, scores), dpi=100)

    def _draw_ranking(self, query: int, indices, scores, figure=None, title: str | None = None):
        from .. import plotting

        labels = self.imageset.labels
        return plotting.retrieval_grid(
            self.imageset.images[[query]], self.imageset.images, indices[None, :],
            labels[[query]], labels, distances=scores[None, :], class_names=self.imageset.class_names,
            score_name="dist" if self.score_kind == "distance" else "P(same)", title=title, figure=figure,
        )

    # -- a static picture -----------------------------------------------------------------------------

    def snapshot(self, with_grid: bool = False):
        """The explorer as it stands, as one static matplotlib Figure that outlives the widgets.

        Widgets render blank wherever no kernel runs them (HTML pages, GitHub); make this a cell's
        last expression (or `display` it, or `savefig` it) to leave a picture of the three panels:

        1. Compare: the two picked images side by side (framed green when the decision is right,
           red and marked WRONG when it is not), titled with the score, the threshold, the
           predicted decision, the truth and RIGHT or WRONG, worded as `decision_text`.
        2. Threshold: the accuracy of the explorer's fixed pair set over the slider's range, with
           the current threshold marked and its accuracy written beside it, and below it the pair
           set's scores as same and different histograms with the threshold drawn across them.
        3. Rank: the query and its `top_k` nearest images, same-class ones framed green, others red
           and marked OTHER CLASS.
        4. With `with_grid=True`: the first `grid_pairs` pairs at the current threshold, as the
           widget's pair grid shows them.

        Like every figure of `siamese_kit.plotting` it is made without pyplot: nothing stays open,
        and a notebook shows it exactly once.

        Args:
            with_grid: add the pair grid at the current threshold as a fourth panel.

        Returns:
            a `matplotlib.figure.Figure`.
        """
        from matplotlib.figure import Figure

        from .. import plotting

        first, second = self._picked
        score, same, truly_same = self._decision()
        parts = self._decision_parts()
        images, labels, names = self.imageset.images, self.imageset.labels, self.imageset.class_names

        rows = [1.6, 1.0] + ([1.3] if with_grid else [])
        figure = Figure(figsize=(max(10.0, 1.5 * (self.top_k + 1)), 4.5 * sum(rows)), layout="constrained")
        panels = figure.subfigures(len(rows), 1, height_ratios=rows)
        top, bottom = panels[0], panels[1]
        compare, curve = top.subfigures(1, 2, width_ratios=[1.0, 1.5])

        plotting.pair_grid(
            images[[first]], images[[second]], [int(truly_same)], [int(same)], [score],
            score_name="distance" if self.score_kind == "distance" else "P(same)", columns=1, figure=compare,
        )
        compare.axes[0].set_xlabel(
            f"A: {names[labels[first]]} #{self.index_a.value}    B: {names[labels[second]]} #{self.index_b.value}",
            fontsize=9,
        )
        # The full decision on two lines: one line of it is wider than the panel.
        compare.suptitle(
            " | ".join(parts[:2]) + "\n" + " | ".join(parts[2:]), fontsize=11, fontweight="bold",
            color=plotting.CORRECT_COLOUR if same == truly_same else plotting.WRONG_COLOUR,
        )

        accuracy_axes, histogram_axes = curve.subplots(2, 1)
        self._draw_accuracy_curve(accuracy_axes)
        self._draw_histograms(self.threshold.value, ax=histogram_axes)

        indices, scores = self.rank(self._query)
        hits = int(np.sum(labels[indices] == labels[self._query]))
        self._draw_ranking(
            self._query, indices, scores, figure=bottom,
            title=f"Rank: {hits} of the {self.top_k} nearest images share the query's class",
        )
        if with_grid:
            shown = slice(0, self.grid_pairs)
            predictions = predict_same(self.pair_scores, self.threshold.value, self.score_kind)
            plotting.pair_grid(
                images[self.pairs.index_a[shown]], images[self.pairs.index_b[shown]], self.pairs.pair_label[shown],
                predictions[shown], self.pair_scores[shown],
                score_name="distance" if self.score_kind == "distance" else "P(same)", figure=panels[2],
            )
            panels[2].suptitle(f"The first {self.grid_pairs} pairs at threshold {self.threshold.value:.3f}",
                               fontsize=11)
        figure.suptitle(f"Pair explorer: {self.imageset.name} ({len(self.imageset)} images)", fontsize=13)
        return figure

    def _draw_accuracy_curve(self, ax) -> None:
        threshold = self.threshold.value
        # The slider's range, finely sampled, and the current value, so the marked point is on the curve.
        grid = np.union1d(np.linspace(self.threshold.min, self.threshold.max, 401), [threshold])
        called_same = predict_same(self.pair_scores[np.newaxis, :], grid[:, np.newaxis], self.score_kind)
        accuracy = np.mean(called_same == self.pairs.pair_label[np.newaxis, :], axis=1)
        here = self.accuracy_at(threshold)
        correct = int(round(here * len(self.pairs)))
        ax.plot(grid, accuracy, color="C0", linewidth=1.8)
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.0)
        ax.plot([threshold], [here], linestyle="", marker="o", markersize=8, markerfacecolor="none",
                markeredgecolor="black", markeredgewidth=2.0)
        # The label goes toward the middle, so it stays inside the axes at either end of the range.
        left_half = threshold <= 0.5 * (self.threshold.min + self.threshold.max)
        ax.annotate(f"{here:.1%} at {threshold:.3f}", (threshold, here), xytext=(10 if left_half else -10, -14),
                    textcoords="offset points", ha="left" if left_half else "right", va="top", fontsize=9)
        ax.set_ylim(-0.02, 1.05)
        if self.score_kind == "distance":
            ax.set_xlabel("threshold on the distance (pairs below it are called same)")
        else:
            ax.set_xlabel("threshold on P(same) (pairs at or above it are called same)")
        ax.set_ylabel(f"accuracy on {len(self.pairs)} pairs")
        ax.grid(alpha=0.3)
        ax.set_title(f"accuracy {here:.1%} ({correct}/{len(self.pairs)} pairs) at threshold {threshold:.3f}\n"
                     f"start: {self.threshold_source}", fontsize=10)
