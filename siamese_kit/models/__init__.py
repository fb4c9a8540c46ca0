"""Encoders, the twin, prototype and embedding models, test-time ensembles and support-set fine-tuning;
loaded on first use."""

from .._lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["ENCODERS", "conv4", "get_encoder", "koch_105", "lenet_28", "resnet12"], ".encoders"),
    **dict.fromkeys(["SiameseModel", "embed"], ".twin"),
    "PrototypeModel": ".prototype",
    "EmbeddingModel": ".embedding",
    "EmbeddingEnsemble": ".ensemble",
    "SupportFineTuning": ".support_tuning",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
