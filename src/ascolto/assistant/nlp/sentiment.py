"""Message and comment sentiment: negative, neutral or positive, one model per language.

Each language with labelled data gets its own classifier; a message in any other language goes
to the `default` model, which is trained with the multilingual sentence embedding and so
transfers to the languages USE covers. Settings, chosen by cross-validation on the training
splits (docs/nlp.md):

- Italian / English / default: word and character n-grams plus the sentence embedding, linear
  SVM (the embedding carries most of the signal on tweets).
- Hebrew: USE does not cover Hebrew; word and character n-grams with logistic regression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

KIND = "sentiment"
LABELS = ("negative", "neutral", "positive")
DEFAULT = "default"

EMBEDDING_CONFIG = ClassifierConfig(embedding_weight=1.0, estimator="svm", C=0.1)
HEBREW_CONFIG = ClassifierConfig(
    char_ngrams=(1, 5), embedding_weight=0.0, estimator="logreg", C=30.0
)


def config_for(language: str) -> ClassifierConfig:
    return HEBREW_CONFIG if language == "he" else EMBEDDING_CONFIG


class SentimentModel:
    def __init__(self, classifiers: Mapping[str, TextClassifier]) -> None:
        if not classifiers:
            raise ValueError("A sentiment model needs at least one language.")
        self.classifiers = dict(classifiers)

    @classmethod
    def train(
        cls,
        data: Mapping[str, tuple[Sequence[str], Sequence[str]]],
        *,
        encoder: SentenceEncoder | None = None,
        use_embeddings: bool = True,
    ) -> SentimentModel:
        """`data` maps a language code (or "default") to (texts, labels)."""
        if use_embeddings and encoder is None:
            encoder = default_encoder()
        if not use_embeddings:
            encoder = None
        classifiers = {}
        for language, (texts, labels) in data.items():
            config = config_for(language)
            classifiers[language] = TextClassifier(config, encoder).fit(texts, labels)
        return cls(classifiers)

    @property
    def languages(self) -> list[str]:
        return sorted(self.classifiers)

    def classifier_for(self, language: str | None) -> TextClassifier | None:
        if language is not None and language in self.classifiers:
            return self.classifiers[language]
        return self.classifiers.get(DEFAULT)

    def predict(
        self,
        text: str,
        *,
        language: str | None,
        embedding: FloatMatrix | None = None,
        analysis: TextAnalysis | None = None,
    ) -> Prediction | None:
        """None when no model covers the language and there is no default model."""
        classifier = self.classifier_for(language)
        if classifier is None:
            return None
        if classifier.encoder is None:
            embedding = None
        return classifier.predict_one(text, embedding=embedding, analysis=analysis)

    def uses_embeddings(self, language: str | None) -> bool:
        classifier = self.classifier_for(language)
        return classifier is not None and classifier.encoder is not None

    def save(self, path: Path) -> Path:
        arrays = {}
        metas = {}
        for language, classifier in self.classifiers.items():
            meta, language_arrays = classifier.to_arrays()
            metas[language] = meta
            arrays.update({f"{language}/{name}": value for name, value in language_arrays.items()})
        return save_arrays(path, kind=KIND, meta={"languages": metas}, arrays=arrays)

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        stored = load_arrays(path, kind=KIND)
        classifiers = {}
        for language, meta in stored.meta["languages"].items():
            prefix = f"{language}/"
            arrays = {
                name[len(prefix) :]: value
                for name, value in stored.arrays.items()
                if name.startswith(prefix)
            }
            classifiers[language] = TextClassifier.from_arrays(meta, arrays)
        return cls(classifiers)
