"""Intent classification trained per workspace from its own labelled history.

The labels are whatever the workspace routes on (a tag, a team, a topic). Features and model are
those of `classifier.TextClassifier` with the settings below, chosen by cross-validation on the
BANKING77 training split (docs/nlp.md): word and character n-grams plus the multilingual sentence
embedding weighted 2, one-vs-rest linear SVM with C=1. The embedding makes an intent learnt from
English examples recognisable in Italian too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ascolto.assistant.nlp.classifier import (
    ClassifierConfig,
    FloatMatrix,
    Prediction,
    TextAnalysis,
    TextClassifier,
)
from ascolto.assistant.nlp.embedding import SentenceEncoder, default_encoder
from ascolto.assistant.nlp.store import load_arrays, save_arrays

KIND = "intent"
INTENT_CONFIG = ClassifierConfig(embedding_weight=2.0, estimator="svm", C=1.0)


class IntentModel:
    def __init__(self, classifier: TextClassifier) -> None:
        self.classifier = classifier

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        config: ClassifierConfig = INTENT_CONFIG,
        encoder: SentenceEncoder | None = None,
        use_embeddings: bool = True,
    ) -> IntentModel:
        """Fit a model; raises classifier.TrainingDataError on unusable examples."""
        if use_embeddings and encoder is None:
            encoder = default_encoder()
        classifier = TextClassifier(config, encoder if use_embeddings else None)
        return cls(classifier.fit(texts, labels))

    @property
    def labels(self) -> list[str]:
        return self.classifier.labels

    @property
    def uses_embeddings(self) -> bool:
        return self.classifier.encoder is not None

    def predict(
        self,
        text: str,
        *,
        embedding: FloatMatrix | None = None,
        analysis: TextAnalysis | None = None,
    ) -> Prediction:
        return self.classifier.predict_one(text, embedding=embedding, analysis=analysis)

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        return self.classifier.predict(texts)

    def save(self, path: Path) -> Path:
        meta, arrays = self.classifier.to_arrays()
        return save_arrays(path, kind=KIND, meta={"classifier": meta}, arrays=arrays)

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        stored = load_arrays(path, kind=KIND)
        return cls(TextClassifier.from_arrays(stored.meta["classifier"], stored.arrays))
