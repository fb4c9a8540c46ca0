"""Support-set fine-tuning: a few gradient steps on each trial set's own labelled images before its
queries are scored, the tower restored afterwards."""

from __future__ import annotations

import numpy as np

from .._checks import positive_int
from ..devices import on_tensorflow
from ..distances import l2_normalize


class SupportFineTuning:
    """Scores one-shot trial sets after tuning the tower on each set's support images.

    For every trial set (a Lake run, an episode): the support images, each as drawn and under `views`
    random affine distortions, make a batch labelled by class; `steps` plain gradient steps of the
    batch-hard triplet loss adapt the tower to this set's characters; then support and queries are
    embedded and each query goes to the nearest class prototype, as in `class_scores`. The tower's
    weights are restored before the next set, so no set learns from another, and the queries are never
    seen while tuning. Batch normalisation stays in inference mode while tuning (its statistics are not
    re-estimated from 20 images).

    Args:
        model: a trained distance tower with an `encoder` (`PrototypeModel`, `EmbeddingModel`).
        steps: gradient steps per trial set.
        learning_rate: step size of plain gradient descent (no optimizer state carried between sets).
        views: distorted copies of each support image per step, besides the image itself.
        margin: the triplet loss's margin.
        seed: which distortions.

    Raises:
        ValueError: for a model without an encoder or one that scores by similarity, or a bad count, or on
            a Keras backend other than TensorFlow.

    Example:
        >>> tuned = SupportFineTuning(tower, steps=10)
        >>> hits = tuned.episode_hits(evaluation, fixed_episodes(evaluation, 200, ways=20, seed=0))
    """

    score_kind = "distance"

    def __init__(self, model, steps: int = 10, learning_rate: float = 1e-3, views: int = 5, margin: float = 1.0,
                 seed: int = 0):
        if not on_tensorflow():
            import keras

            raise ValueError(
                f"SupportFineTuning: its tuning step is a TensorFlow GradientTape, and Keras runs on "
                f"{keras.backend.backend()!r}; run it with KERAS_BACKEND=tensorflow (a .keras file from any "
                "backend loads there)."
            )
        if getattr(model, "score_kind", None) != "distance" or getattr(model, "encoder", None) is None:
            raise ValueError(f"SupportFineTuning: the model ({type(model).__name__}) must be a distance tower with "
                             "an encoder (PrototypeModel, EmbeddingModel).")
        self.model = model
        self.steps, self.views, self.learning_rate, self.margin, self.seed = steps, views, learning_rate, margin, seed
        self._step, self._step_settings = None, None
        self._settings()
        self.last_losses: list[float] = []  # the loss of each step on the last trial set, for inspection

    def _settings(self) -> tuple:
        """The settings, checked (and kept as numbers); the compiled step holds the ones it was built with."""
        if not self.learning_rate > 0:
            raise ValueError(f"SupportFineTuning: learning_rate must be > 0, got {self.learning_rate}.")
        self.steps = positive_int(self.steps, "SupportFineTuning: steps", example="10")
        self.views = positive_int(self.views, "SupportFineTuning: views", example="5")
        self.learning_rate, self.margin, self.seed = float(self.learning_rate), float(self.margin), int(self.seed)
        return self.views, self.learning_rate, self.margin, self.seed, id(self.model.encoder)

    def _train_step(self):
        import tensorflow as tf

        from ..data.streams.augment import AffineDistortion
        from ..data.streams.seeds import batch_key, derived_key
        from ..losses import TripletLoss

        encoder, loss = self.model.encoder, TripletLoss(self.margin, "batch_hard")
        distortion, unit_length = AffineDistortion(), getattr(self.model, "unit_length", False)

        @tf.function(reduce_retracing=True)
        def step(support, labels, number):
            copies = [support] + [distortion(support, derived_key(batch_key(self.seed, number * self.views + view),
                                                                  "support tuning view"))
                                  for view in range(self.views)]
            images = tf.concat(copies, axis=0)
            with tf.GradientTape() as tape:
                embeddings = encoder(images, training=False)
                if unit_length:
                    embeddings = l2_normalize(embeddings)
                value = loss(tf.tile(labels, [self.views + 1]), embeddings)
            gradients = tape.gradient(value, encoder.trainable_variables)
            for variable, gradient in zip(encoder.trainable_variables, gradients):
                if gradient is not None:
                    variable.assign_sub(self.learning_rate * gradient)
            return value

        return step

    def scores(self, support_images: np.ndarray, query_images: np.ndarray) -> np.ndarray:
        """Distances of every query to every class prototype after tuning on the support images.

        Args:
            support_images: pixels `[ways, shots, H, W, C]` (0..255).
            query_images: pixels `[Q, H, W, C]`.

        Returns:
            float32 `[Q, ways]` distances (smaller is more alike); the tower is left as it was.
        """
        import tensorflow as tf

        from ..evaluation.one_shot import class_scores

        support_images = np.asarray(support_images, np.float32)
        ways, shots = support_images.shape[:2]
        settings = self._settings()
        if self._step is None or settings != self._step_settings:
            # The compiled step fixed the margin, views, learning rate and seed when it was traced: one
            # changed afterwards (tuned.margin = 0.5) needs a new step, or it would be silently ignored.
            self._step, self._step_settings = self._train_step(), settings
        saved = [variable.numpy() for variable in self.model.encoder.trainable_variables]
        flat = tf.constant(support_images.reshape(ways * shots, *support_images.shape[2:]))
        labels = tf.constant(np.repeat(np.arange(ways), shots), tf.int32)
        try:
            self.last_losses = [float(self._step(flat, labels, tf.constant(number, tf.int64)))
                                for number in range(self.steps)]
            support = self.model.embed(flat.numpy()).reshape(ways, shots, -1)
            queries = self.model.embed(np.asarray(query_images, np.float32))
        finally:
            for variable, value in zip(self.model.encoder.trainable_variables, saved):
                variable.assign(value)
        return class_scores(self.model, support, queries)

    def episode_hits(self, imageset, episodes) -> np.ndarray:
        """Whether each query of each episode goes to its own class, tuning afresh for every episode.

        Args:
            imageset: the images the episodes index.
            episodes: from `siamese_kit.data.fixed_episodes`.

        Returns:
            bool `[episodes, ways * queries]`, as `siamese_kit.evaluation.episode_hits`.
        """
        count, ways, queries_per_class = episodes.query_index.shape
        truth = np.repeat(np.arange(ways), queries_per_class)
        hits = []
        for number in range(count):
            scores = self.scores(imageset.images[episodes.support_index[number]],
                                 imageset.images[episodes.query_index[number].reshape(-1)])
            hits.append(np.argmin(scores, axis=1) == truth)
        return np.stack(hits)

    def lake_accuracy(self, runs) -> float:
        """Share of Lake's trials answered right, tuning afresh on each run's 20 training images.

        Args:
            runs: from `siamese_kit.data.load_lake_runs` at the tower's image size.

        Returns:
            accuracy over all trials.
        """
        hits = [np.argmin(self.scores(run.support_images[:, None], run.query_images), axis=1) == run.answers
                for run in runs]
        return float(np.mean(np.concatenate(hits)))
