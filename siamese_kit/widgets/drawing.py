"""Draw and match: a drawing pad (ipycanvas), and a tool ranking a one-shot run's candidates for it."""

from __future__ import annotations

import numpy as np

from ._common import display_widget, image_png


PAD_CLASS = "siamese-kit-drawing-pad"
MATCHES_CLASS = "siamese-kit-matches"
CLEAR_CLASS = "siamese-kit-clear"
DRAW_AND_MATCH_CLASS = "siamese-kit-draw-and-match"
DRAW_PROMPT = "Draw a character on the pad: its best matches appear here."


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _mosaic(images: np.ndarray, paper: int, per_row: int = 10, gap: int = 2) -> np.ndarray:
    """Images side by side, `per_row` to a row, with `gap` pixels of grey between them."""
    count, height, width, channels = images.shape
    rows = -(-count // per_row)
    sheet = np.full((rows * (height + gap) + gap, min(count, per_row) * (width + gap) + gap, channels), 128, np.uint8)
    for i, image in enumerate(images):
        top, left = gap + (i // per_row) * (height + gap), gap + (i % per_row) * (width + gap)
        sheet[top:top + height, left:left + width] = image
    if count % per_row:  # blank paper where the last row ends early
        last = (rows - 1) * (height + gap) + gap
        sheet[last:last + height, gap + (count % per_row) * (width + gap):-gap] = paper
    return sheet


class DrawingPad:
    """A square canvas (ipycanvas) to draw a character on with the mouse, a pen or a finger.

    The strokes are kept as lists of canvas points and rasterised in Python (`image`), so what a model
    sees never depends on the browser: the pad works, and is tested, without one. Mouse and touch
    events and `draw_stroke` all go through the same three handlers (pen down, pen moves, pen up).

    Args:
        size: width and height of the canvas in screen pixels.
        line_width: stroke width in canvas pixels; None gives `size / 21`, about the width of an
            Omniglot stroke (5 px at 105 px).

    Attributes:
        canvas: the `ipycanvas.Canvas` (CSS class `siamese-kit-drawing-pad`).
        strokes: the finished strokes, each a list of `(x, y)` canvas points.

    Raises:
        ValueError: if `size` or `line_width` is not a positive number (or `size` is below 16).

    Example:
        >>> pad = DrawingPad()
        >>> pad.draw_stroke([(40, 40), (170, 170)])   # what a drag from corner to corner does
        >>> pad.image((28, 28)).shape
        (28, 28, 1)
    """

    def __init__(self, size: int = 210, line_width: float | None = None):
        from ipycanvas import Canvas
        from ipywidgets import Layout

        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 16:
            raise ValueError(f"DrawingPad: size must be an int >= 16 (canvas pixels), got {size!r}.")
        if line_width is None:
            line_width = size / 21
        if not _is_number(line_width) or not 0 < line_width < size:
            raise ValueError(f"DrawingPad: line_width must be a number in (0, {size}), got {line_width!r}.")
        self.size = int(size)
        self.line_width = float(line_width)
        self.strokes: list[list[tuple[float, float]]] = []
        self._current: list[tuple[float, float]] | None = None
        self._listeners = []
        self.canvas = Canvas(width=self.size, height=self.size,
                             layout=Layout(width=f"{self.size}px", height=f"{self.size}px",
                                           border="1px solid #888", margin="0 12px 0 0"))
        self.canvas.add_class(PAD_CLASS)
        self.canvas.on_mouse_down(self._pen_down)
        self.canvas.on_mouse_move(self._pen_move)
        self.canvas.on_mouse_up(self._pen_up)
        # Leaving the canvas with the button held ends the stroke: the matching mouse-up never comes.
        self.canvas.on_mouse_out(self._pen_up)
        self.canvas.on_touch_start(lambda touches: self._pen_down(*touches[0]))
        self.canvas.on_touch_move(lambda touches: self._pen_move(*touches[0]))
        self.canvas.on_touch_end(lambda touches: self._pen_up(*(touches[0] if touches else (None, None))))
        self._blank_canvas()

    def _ipython_display_(self):
        display_widget(self.canvas, "Drawing pad (draws in a running notebook).")

    def observe(self, callback) -> None:
        """Calls `callback()` after every finished stroke and after every `clear`.

        Args:
            callback: a function of no arguments.
        """
        self._listeners.append(callback)

    def _notify(self) -> None:
        for callback in self._listeners:
            callback()

    def _blank_canvas(self) -> None:
        self.canvas.clear()
        self.canvas.fill_style = "white"
        self.canvas.fill_rect(0, 0, self.size, self.size)
        self.canvas.fill_style = "black"
        self.canvas.stroke_style = "black"
        self.canvas.line_width = self.line_width
        self.canvas.line_cap = "round"
        self.canvas.line_join = "round"

    def _clip(self, x, y) -> tuple[float, float]:
        # The browser reports fractional and, at the very edge, slightly outside coordinates.
        return float(np.clip(x, 0, self.size)), float(np.clip(y, 0, self.size))

    # The three pen handlers: the canvas's mouse and touch events and draw_stroke all end here.

    def _pen_down(self, x, y) -> None:
        point = self._clip(x, y)
        self._current = [point]
        self.canvas.fill_circle(point[0], point[1], self.line_width / 2)

    def _pen_move(self, x, y) -> None:
        if self._current is None:  # the mouse moving over the pad without a button held
            return
        point = self._clip(x, y)
        previous = self._current[-1]
        if point == previous:
            return
        self._current.append(point)
        self.canvas.stroke_line(previous[0], previous[1], point[0], point[1])

    def _pen_up(self, x=None, y=None) -> None:
        if self._current is None:
            return
        if x is not None and y is not None:
            self._pen_move(x, y)
        stroke, self._current = self._current, None
        self.strokes.append(stroke)
        self._notify()

    def draw_stroke(self, points) -> None:
        """Draws one stroke as a mouse drag through `points` would: pen down, moves, pen up.

        Args:
            points: a sequence of at least one `(x, y)` canvas point, each coordinate a finite number
                in `[0, size]` (x to the right, y downwards, as on screen).

        Raises:
            ValueError: naming the first bad point and the valid range; the pad is left unchanged.
        """
        if isinstance(points, np.ndarray):
            points = points.tolist()
        if isinstance(points, (str, bytes)) or not hasattr(points, "__len__") or len(points) == 0:
            raise ValueError(
                f"draw_stroke: points must be a non-empty list of (x, y) pairs, got {points!r}; e.g. "
                "pad.draw_stroke([(20, 30), (60, 30)])."
            )
        checked = []
        for i, point in enumerate(points):
            if not hasattr(point, "__len__") or len(point) != 2 or not all(_is_number(v) for v in point):
                raise ValueError(f"draw_stroke: points[{i}] = {point!r} is not an (x, y) pair of numbers.")
            x, y = float(point[0]), float(point[1])
            if not (np.isfinite(x) and np.isfinite(y) and 0 <= x <= self.size and 0 <= y <= self.size):
                raise ValueError(
                    f"draw_stroke: points[{i}] = ({x}, {y}) lies outside the {self.size} x {self.size} pad; "
                    f"every coordinate must be a finite number in [0, {self.size}]."
                )
            checked.append((x, y))
        if self._current is not None:  # a stroke the mouse left unfinished ends here first
            self._pen_up()
        self._pen_down(*checked[0])
        for x, y in checked[1:]:
            self._pen_move(x, y)
        self._pen_up()

    def trace(self, image) -> int:
        """Copies an image onto the pad, one horizontal stroke over each run of ink in each row.

        A way to try a tool with a drawing whose answer is known (say, another drawing of one of the
        candidates) without drawing it by hand. The ink is whatever differs from the image's paper:
        dark on light paper, light on dark.

        Args:
            image: uint8 `[H, W]` or `[H, W, 1]`; it is stretched to fill the pad.

        Returns:
            the number of strokes drawn.

        Raises:
            ValueError: if `image` is not a 2-D grey image.
        """
        pixels = np.asarray(image)
        if pixels.ndim == 3 and pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        if pixels.ndim != 2 or min(pixels.shape) < 1:
            raise ValueError(f"DrawingPad.trace: image must be [H, W] or [H, W, 1] grey pixels, got shape {pixels.shape}.")
        light_paper = float(np.median(pixels)) >= 128
        ink = pixels < 128 if light_paper else pixels >= 128
        row_step, column_step = self.size / pixels.shape[0], self.size / pixels.shape[1]
        drawn = 0
        for row, inked in enumerate(ink):
            edges = np.diff(np.concatenate([[0], inked.astype(np.int8), [0]]))
            y = (row + 0.5) * row_step
            for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
                self.draw_stroke([((start + 0.5) * column_step, y), ((stop - 0.5) * column_step, y)])
                drawn += 1
        return drawn

    def clear(self) -> None:
        """Wipes the pad: no strokes, a white canvas; listeners are told."""
        self.strokes = []
        self._current = None
        self._blank_canvas()
        self._notify()

    @property
    def is_empty(self) -> bool:
        """Whether nothing has been drawn since the pad was made or cleared."""
        return not self.strokes

    def image(self, shape: tuple[int, int] = (28, 28), ink: int = 0, background: int = 255) -> np.ndarray:
        """The drawing as a uint8 image, rasterised from the strokes and resized like Omniglot's loader.

        Args:
            shape: `(height, width)` of the image.
            ink: pixel value of the strokes (0: black, as Omniglot's strokes).
            background: pixel value of the paper (255: white).

        Returns:
            uint8 `[height, width, 1]`.

        Raises:
            ValueError: for a bad `shape`, `ink` or `background`.
        """
        from PIL import Image, ImageDraw

        from ..data.sources.omniglot import RESAMPLE

        if (not isinstance(shape, (tuple, list)) or len(shape) != 2
                or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape)):
            raise ValueError(f"DrawingPad.image: shape must be (height, width) of positive ints, got {shape!r}.")
        for name, value in (("ink", ink), ("background", background)):
            if not isinstance(value, (int, np.integer)) or not 0 <= value <= 255:
                raise ValueError(f"DrawingPad.image: {name} must be an int in 0..255, got {value!r}.")
        picture = Image.new("L", (self.size, self.size), int(background))
        draw = ImageDraw.Draw(picture)
        radius = self.line_width / 2
        for stroke in self.strokes:
            if len(stroke) > 1:
                draw.line(stroke, fill=int(ink), width=max(1, round(self.line_width)), joint="curve")
            # Round ends (and a dot for a single tap), as the canvas draws them.
            for x, y in (stroke[0], stroke[-1]):
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=int(ink))
        # The same area-averaging filter the Omniglot loader shrinks its 105 px images with.
        picture = picture.resize((int(shape[1]), int(shape[0])), RESAMPLE)
        return np.asarray(picture, dtype=np.uint8)[..., np.newaxis]


class DrawAndMatch:
    """Draw a character and see which of a one-shot run's candidates a trained model says it is.

    The candidates (one image each, e.g. the 20 of one of Lake's runs) are embedded once. After every
    stroke the drawing is rasterised at the candidates' size, embedded, and scored against every
    candidate as one-shot evaluation does (`evaluation.class_scores`, nearest first for distances, most
    likely first for a twin classifier's probability); the `top_k` are listed and shown with their
    scores. Strokes are drawn black on white when the candidates are (Omniglot), white on black when
    they are (MNIST).

    Args:
        model: a trained `SiameseModel` or `PrototypeModel` (anything with `embed` and `score_kind`)
            whose encoder takes the candidates' image size.
        run: the candidates: a `OneShotRun` (its `support_images` and `support_files`) or a uint8
            array `[S, H, W, C]`.
        top_k: how many matches to show; None shows 5 (or every candidate when there are fewer).
        names: a name per candidate; defaults to the run's file names without `.png`, else
            "candidate 1", "candidate 2", ...
        pad_size: canvas size in screen pixels.
        line_width: stroke width on the canvas (see `DrawingPad`).

    Attributes:
        pad: the `DrawingPad`.
        ranking: HTML listing the matches (CSS class `siamese-kit-matches`).
        clear_button: wipes the pad.
        widget: the whole tool, shown when it is a cell's value.
        support_embeddings: `[S, D]`, computed once.

    Raises:
        ValueError: if the model has no `embed`/`score_kind`, the candidates are not images, or
            `top_k`, `names` do not fit them.

    Example:
        >>> tool = DrawAndMatch(model, load_lake_runs(image_size=28)[0])
        >>> tool                      # in a notebook: draw, and read the ranking
        >>> tool.pad.draw_stroke([(50, 100), (160, 100)]); tool.matches()
        >>> tool.snapshot()           # a static picture that stays in the saved notebook
    """

    def __init__(self, model, run, top_k: int | None = None, names=None, pad_size: int = 210,
                 line_width: float | None = None):
        import ipywidgets as widgets

        if not hasattr(model, "embed") or getattr(model, "score_kind", None) not in ("distance", "similarity"):
            raise ValueError(
                "DrawAndMatch needs a trained siamese_kit model (SiameseModel or PrototypeModel) with "
                f"embed() and score_kind; got {type(model).__name__}."
            )
        support = np.asarray(getattr(run, "support_images", run))
        if support.ndim != 4 or support.shape[-1] not in (1, 3) or support.dtype != np.uint8 or len(support) < 2:
            raise ValueError(
                "DrawAndMatch: run must be a OneShotRun or a uint8 array [S, H, W, 1 or 3] of at least 2 "
                f"candidate images, got {type(run).__name__} of shape {support.shape} and dtype {support.dtype}."
            )
        top_k = min(5, len(support)) if top_k is None else top_k
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= len(support):
            raise ValueError(f"DrawAndMatch: top_k must be an int in 1..{len(support)} (the candidates), got {top_k!r}.")
        if names is None:
            files = tuple(getattr(run, "support_files", ()) or ())
            names = [f.rsplit(".", 1)[0] for f in files] if len(files) == len(support) else [
                f"candidate {i + 1}" for i in range(len(support))]
        names = [str(n) for n in names]
        if len(names) != len(support):
            raise ValueError(f"DrawAndMatch: {len(names)} names for {len(support)} candidates; give one name each.")
        self.model = model
        self.score_kind = model.score_kind
        self.support_images = support
        self.names = names
        self.top_k = int(top_k)
        self.support_embeddings = model.embed(support)
        # Strokes take the colour opposite to the candidates' paper (its median pixel).
        light_paper = float(np.median(support)) >= 128
        self.ink, self.background = (0, 255) if light_paper else (255, 0)
        self._scores: np.ndarray | None = None

        self.pad = DrawingPad(size=pad_size, line_width=line_width)
        self.ranking = widgets.HTML(DRAW_PROMPT)
        self.ranking.add_class(MATCHES_CLASS)
        self.clear_button = widgets.Button(description="Clear", icon="eraser")
        self.clear_button.add_class(CLEAR_CLASS)
        self.clear_button.on_click(lambda _button: self.pad.clear())
        picture = widgets.Layout(width="84px", height="84px")
        self.seen = widgets.Image(format="png", layout=picture)
        self._tiles = [widgets.Image(format="png", layout=picture) for _ in range(self.top_k)]
        self._captions = [widgets.HTML() for _ in range(self.top_k)]
        tiles = widgets.HBox([widgets.VBox([image, caption]) for image, caption in zip(self._tiles, self._captions)])
        what = "nearest" if self.score_kind == "distance" else "most likely"
        self.gallery = widgets.Image(value=image_png(_mosaic(support, self.background), scale=2), format="png")
        self.widget = widgets.VBox([
            widgets.HTML(f"<h4 style='margin:8px 0 2px 0'>Draw a character; the {self.top_k} {what} of "
                         f"{len(support)} candidates follow</h4>"),
            widgets.HBox([self.pad.canvas, widgets.VBox([widgets.HTML("what the model sees"), self.seen,
                                                         self.clear_button])]),
            self.ranking, tiles,
            widgets.HTML(f"<small>The candidates ({self.names[0]} to {self.names[-1]}, in reading order):</small>"),
            self.gallery,
        ])
        self.widget.add_class(DRAW_AND_MATCH_CLASS)
        self.pad.observe(self._update)
        self._update()

    def _ipython_display_(self):
        display_widget(self.widget, "Draw and match: a drawing pad and the candidates ranked after every stroke "
                                    "(interactive in a running notebook; its static pictures follow).")

    def drawn_image(self) -> np.ndarray:
        """The drawing as the model sees it: uint8 `[H, W, C]` at the candidates' size and colours."""
        height, width, channels = self.support_images.shape[1:]
        image = self.pad.image((height, width), ink=self.ink, background=self.background)
        return np.repeat(image, channels, axis=-1)

    @property
    def scores(self) -> np.ndarray | None:
        """The drawing's score against every candidate, `[S]` (None while the pad is empty)."""
        return self._scores

    def matches(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The `top_k` best candidates for the drawing, best first.

        Returns:
            `(indices, scores)`, each `[top_k]`, the first index being what `evaluation.choose` picks
            (ties go to the lower index); None while the pad is empty.
        """
        if self._scores is None:
            return None
        order = self._order()[: self.top_k]
        return order, self._scores[order]

    def _order(self) -> np.ndarray:
        """Every candidate, best first, as `evaluation.choose` ranks them (ties to the lower index)."""
        return np.argsort(self._scores if self.score_kind == "distance" else -self._scores, kind="stable")

    def _update(self) -> None:
        from ..evaluation.one_shot import class_scores

        if self.pad.is_empty:
            self._scores = None
            self.ranking.value = DRAW_PROMPT
            self.seen.value = b""
            for tile, caption in zip(self._tiles, self._captions):
                tile.value, caption.value = b"", ""
            return
        drawn = self.drawn_image()
        query = self.model.embed(drawn[np.newaxis])
        self._scores = class_scores(self.model, self.support_embeddings[:, np.newaxis, :], query)[0]
        indices, scores = self.matches()
        word = "distance" if self.score_kind == "distance" else "P(same)"
        listed = " &nbsp; ".join(f"{rank}. <b>{self.names[i]}</b> ({word} {s:.3f})"
                                 for rank, (i, s) in enumerate(zip(indices, scores), start=1))
        strokes = len(self.pad.strokes)
        self.ranking.value = f"Best matches after {strokes} stroke{'s' if strokes > 1 else ''}: {listed}"
        scale = max(1, 84 // max(drawn.shape[:2]))
        self.seen.value = image_png(drawn, scale=scale)
        for rank, (tile, caption, i, s) in enumerate(zip(self._tiles, self._captions, indices, scores), start=1):
            tile.value = image_png(self.support_images[i], scale=scale)
            caption.value = f"<small>{rank}. {self.names[i]}<br>{word} {s:.3f}</small>"

    def _answer_index(self, answer) -> int | None:
        if answer is None:
            return None
        if isinstance(answer, str):
            if answer not in self.names:
                raise ValueError(
                    f"DrawAndMatch.snapshot: answer {answer!r} is not a candidate's name; names run "
                    f"{self.names[0]!r} .. {self.names[-1]!r}."
                )
            return self.names.index(answer)
        if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)) or not 0 <= answer < len(self.names):
            raise ValueError(
                f"DrawAndMatch.snapshot: answer must be a candidate's index (0..{len(self.names) - 1}) or "
                f"name, got {answer!r}."
            )
        return int(answer)

    def snapshot(self, answer=None):
        """The tool as it stands, as one static matplotlib Figure that outlives the widgets.

        The canvas and the tiles render blank wherever no kernel runs them (HTML pages, GitHub);
        make this a cell's last expression (or `display` it, or `savefig` it) to keep a picture:
        the drawing as the model sees it, then the `top_k` candidates best first, each titled with
        its rank, name and score. While the pad is empty it says "nothing drawn yet" and shows the
        candidates instead.

        Like every figure of `siamese_kit.plotting` it is made without pyplot: nothing stays open,
        and a notebook shows it exactly once.

        Args:
            answer: the candidate the drawing is meant to be (its index or name), when known, e.g.
                after tracing another drawing of it: it is framed green and marked RIGHT ANSWER, and
                a different first choice is framed red and marked WRONG. None marks nothing.

        Returns:
            a `matplotlib.figure.Figure`.

        Raises:
            ValueError: if `answer` is neither a candidate's index nor its name.
        """
        from matplotlib.figure import Figure

        from ..plotting import CORRECT_COLOUR, WRONG_COLOUR, format_score, hide_ticks, show_image

        answer = self._answer_index(answer)
        height, width = self.support_images.shape[1:3]
        aspect = width / height
        if self._scores is None:
            figure = Figure(figsize=(2.2 + 0.9 * min(10, len(self.names)) * aspect, 2.8), layout="constrained")
            note, gallery = figure.subplots(1, 2, width_ratios=[1.0, 0.9 * min(10, len(self.names)) * aspect / 2])
            hide_ticks(note, frame=True)
            note.set_box_aspect(height / width)
            note.text(0.5, 0.5, "nothing drawn yet", ha="center", va="center", fontsize=11,
                      transform=note.transAxes)
            note.set_title("what the model sees", fontsize=9)
            show_image(gallery, _mosaic(self.support_images, self.background))
            hide_ticks(gallery)
            gallery.set_title(f"the {len(self.names)} candidates ({self.names[0]} to {self.names[-1]}, "
                              "in reading order)", fontsize=9)
            figure.suptitle("Draw and match: draw a character on the pad")
            return figure

        indices, scores = self.matches()
        word = "distance" if self.score_kind == "distance" else "P(same)"
        figure = Figure(figsize=(1.7 * (self.top_k + 1) * max(aspect, 0.6) + 0.3, 2.9), layout="constrained")
        axes = figure.subplots(1, self.top_k + 1, squeeze=False)[0]
        show_image(axes[0], self.drawn_image())
        hide_ticks(axes[0], frame=True)
        for spine in axes[0].spines.values():
            spine.set_edgecolor("black")
            spine.set_linewidth(2.0)
        strokes = len(self.pad.strokes)
        axes[0].set_title(f"what the model sees\n({strokes} stroke{'s' if strokes != 1 else ''})",
                          fontsize=9, fontweight="bold")
        for rank, (ax, index, score) in enumerate(zip(axes[1:], indices, scores), start=1):
            show_image(ax, self.support_images[index])
            hide_ticks(ax, frame=True)
            lines, colour, thickness = [f"#{rank} {self.names[index]}", f"{word} {format_score(score)}"], "black", 0.8
            if index == answer:
                lines.append("RIGHT ANSWER")
                colour, thickness = CORRECT_COLOUR, 2.5
            elif rank == 1 and answer is not None:
                lines.append("WRONG")
                colour, thickness = WRONG_COLOUR, 4.0
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(thickness)
            ax.set_title("\n".join(lines), fontsize=8, color=colour,
                         fontweight="bold" if colour != "black" else "normal")
        what = "nearest" if self.score_kind == "distance" else "most likely"
        title = f"Draw and match: the {self.top_k} {what} of {len(self.names)} candidates"
        if answer is not None:
            place = int(np.flatnonzero(self._order() == answer)[0]) + 1
            verdict = "right" if place == 1 else f"wrong: the answer, {self.names[answer]}, ranks #{place}"
            title += f" ({verdict})"
        figure.suptitle(title)
        return figure
