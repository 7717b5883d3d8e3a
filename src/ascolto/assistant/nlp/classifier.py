"""A text classifier for short messages: n-gram TF-IDF plus sentence embeddings, linear model.

Features are word 1-2-grams and character 2-5-grams (TF-IDF, sublinear), optional Hebrew stems
(see `text.hebrew_stems`) and, when an encoder is available, the sentence embedding scaled by
`embedding_weight`. The estimator is a one-vs-rest linear SVM or a multinomial logistic regression.
Confidences are a softmax of the decision scores divided by a temperature fitted on a held-out
slice of the training data (then the model is refitted on all of it), so a confidence floor of
0.7 means roughly "right 7 times out of 10 or more".

A fitted classifier is plain arrays (vocabularies, idf weights, one weight matrix) so it can be
stored without pickle; see `store.py`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import repeat
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from ascolto.assistant.nlp.embedding import SentenceEncoder, encoder_by_name
from ascolto.assistant.nlp.text import has_hebrew, hebrew_stems, normalize

FloatMatrix = npt.NDArray[np.float32]
Estimator = Literal["svm", "logreg"]

# Below this many examples a held-out slice is too small to fit a temperature on.
_MIN_EXAMPLES_TO_CALIBRATE = 40
_WORD_PATTERN = r"(?u)\b\w+\b|[^\w\s]"
# The encoder's cost grows with the length of the text (~0.1 ms per token on one core); a long
# e-mail would blow the per-message budget, and its opening carries the request. The n-gram
# features still see the whole text.
MAX_EMBEDDED_CHARS = 300


def _opening(text: str) -> str:
    if len(text) <= MAX_EMBEDDED_CHARS:
        return text
    cut = text[:MAX_EMBEDDED_CHARS]
    space = cut.rfind(" ")
    return cut[:space] if space > MAX_EMBEDDED_CHARS // 2 else cut


class TrainingDataError(ValueError):
    """The examples cannot train a model (too few, one label only, empty texts)."""


@dataclass(frozen=True)
class ClassifierConfig:
    char_ngrams: tuple[int, int] = (2, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    char_min_df: int = 2
    max_char_features: int | None = 200_000
    max_word_features: int | None = 100_000
    hebrew_stems: bool = False
    embedding_weight: float = 2.0
    estimator: Estimator = "svm"
    C: float = 1.0
    calibrate: bool = True
    holdout_fraction: float = 0.15
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassifierConfig:
        values = dict(data)
        for key in ("char_ngrams", "word_ngrams"):
            values[key] = tuple(values[key])
        return cls(**values)


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


class TextAnalysis:
    """One message's normal form and n-gram counts, computed once and shared by the models of a
    triage: the intent and sentiment models mostly use the same analyser settings."""

    __slots__ = ("_counts", "_normalized", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._normalized: str | None = None
        self._counts: dict[tuple[Any, ...], Counter[str]] = {}

    @property
    def normalized(self) -> str:
        if self._normalized is None:
            self._normalized = normalize(self.text)
        return self._normalized

    def counts(self, key: tuple[Any, ...], analyzer: Any, source: str) -> Counter[str]:
        """How often each n-gram of `analyzer` occurs in `source` (cached under `key`)."""
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = Counter(analyzer(source))
        return counts


def _analyzer_key(name: str, vectorizer: TfidfVectorizer) -> tuple[Any, ...]:
    return (
        name,
        vectorizer.analyzer,
        tuple(vectorizer.ngram_range),
        vectorizer.token_pattern,
        vectorizer.lowercase,
    )


def _vectorizers(config: ClassifierConfig) -> dict[str, TfidfVectorizer]:
    vectorizers = {
        "char": TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=config.char_ngrams,
            min_df=config.char_min_df,
            max_features=config.max_char_features,
            sublinear_tf=True,
            lowercase=False,
            dtype=np.float32,
        ),
        "word": TfidfVectorizer(
            analyzer="word",
            ngram_range=config.word_ngrams,
            token_pattern=_WORD_PATTERN,
            max_features=config.max_word_features,
            sublinear_tf=True,
            lowercase=False,
            dtype=np.float32,
        ),
    }
    if config.hebrew_stems:
        vectorizers["stem"] = TfidfVectorizer(
            analyzer="word",
            token_pattern=r"\S+",  # noqa: S106 (a regular expression, not a password)
            sublinear_tf=True,
            lowercase=False,
            dtype=np.float32,
        )
    return vectorizers


def _softmax(scores: npt.NDArray[np.float64], temperature: float) -> npt.NDArray[np.float64]:
    z: npt.NDArray[np.float64] = np.asarray(scores / temperature, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def fit_temperature(scores: npt.NDArray[np.float64], truth: npt.NDArray[np.intp]) -> float:
    """The temperature minimising the log-loss of softmax(scores / T) on held-out rows."""
    rows = np.arange(len(truth))
    best, best_loss = 1.0, math.inf
    for temperature in np.geomspace(0.01, 20.0, 80):
        probabilities = _softmax(scores, float(temperature))
        loss = -float(np.mean(np.log(probabilities[rows, truth] + 1e-12)))
        if loss < best_loss:
            best, best_loss = float(temperature), loss
    return best


class TextClassifier:
    """Fit on (text, label) pairs; predict a label with a confidence for new texts."""

    def __init__(
        self, config: ClassifierConfig | None = None, encoder: SentenceEncoder | None = None
    ) -> None:
        self.config = config or ClassifierConfig()
        self.encoder = encoder if self.config.embedding_weight > 0 else None
        self.labels: list[str] = []
        self.vectorizers: dict[str, TfidfVectorizer] = {}
        self.weights: FloatMatrix = np.zeros((0, 0), dtype=np.float32)
        self.bias: FloatMatrix = np.zeros(0, dtype=np.float32)
        self.temperature = 1.0
        self.training_seconds = 0.0
        # CPU time tells the cost on an idle machine when the measuring one is shared.
        self.training_cpu_seconds = 0.0
        self.training_examples = 0
        self._analyzers: dict[str, Any] | None = None

    # ------------------------------------------------------------------ features
    def embed(self, texts: Sequence[str]) -> FloatMatrix | None:
        """Sentence embeddings of the openings of `texts` (MAX_EMBEDDED_CHARS), zero rows for
        scripts the encoder does not cover."""
        if self.encoder is None:
            return None
        covered = [
            row
            for row, text in enumerate(texts)
            if "he" in self.encoder.languages or not has_hebrew(text)
        ]
        vectors = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        if covered:
            vectors[covered] = self.encoder.encode([_opening(texts[row]) for row in covered])
        return vectors

    def _features(
        self, texts: Sequence[str], embeddings: FloatMatrix | None, *, fit: bool
    ) -> sparse.csr_matrix:
        normalized = [normalize(text) for text in texts]
        blocks: list[Any] = []
        for name, vectorizer in self.vectorizers.items():
            source = [hebrew_stems(text) for text in normalized] if name == "stem" else normalized
            blocks.append(vectorizer.fit_transform(source) if fit else vectorizer.transform(source))
        if self.encoder is not None:
            if embeddings is None:
                embeddings = self.embed(texts)
            assert embeddings is not None
            blocks.append(sparse.csr_matrix(embeddings * np.float32(self.config.embedding_weight)))
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    # ------------------------------------------------------------------ training
    def _fit_linear(
        self, features: sparse.csr_matrix, targets: npt.NDArray[np.intp], n_labels: int
    ) -> tuple[FloatMatrix, FloatMatrix]:
        config = self.config
        model: LinearSVC | LogisticRegression
        if config.estimator == "svm":
            model = LinearSVC(C=config.C, random_state=config.seed)
        else:
            model = LogisticRegression(C=config.C, max_iter=3000)
        model.fit(features, targets)
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        if n_labels == 2 and coef.shape[0] == 1:
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        return np.ascontiguousarray(coef.T), intercept

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        embeddings: FloatMatrix | None = None,
    ) -> TextClassifier:
        """Train on the examples. Raises TrainingDataError when they cannot train a model."""
        started = time.perf_counter()
        started_cpu = time.process_time()
        if len(texts) != len(labels):
            raise TrainingDataError("There must be exactly one label per text.")
        counts = Counter(labels)
        if len(counts) < 2:
            raise TrainingDataError("Training needs examples of at least two different labels.")
        if not any(text.strip() for text in texts):
            raise TrainingDataError("All the training texts are empty.")
        self.labels = sorted(counts)
        index = {label: position for position, label in enumerate(self.labels)}
        targets = np.array([index[label] for label in labels], dtype=np.intp)
        if embeddings is None and self.encoder is not None:
            embeddings = self.embed(texts)

        self.temperature = 1.0
        if self.config.calibrate and len(texts) >= _MIN_EXAMPLES_TO_CALIBRATE:
            self.temperature = self._held_out_temperature(texts, targets, embeddings)

        self.vectorizers = _vectorizers(self.config)
        self._analyzers = None
        features = self._features(texts, embeddings, fit=True)
        self.weights, self.bias = self._fit_linear(features, targets, len(self.labels))
        self.training_seconds = time.perf_counter() - started
        self.training_cpu_seconds = time.process_time() - started_cpu
        self.training_examples = len(texts)
        return self

    def _held_out_temperature(
        self,
        texts: Sequence[str],
        targets: npt.NDArray[np.intp],
        embeddings: FloatMatrix | None,
    ) -> float:
        positions = np.arange(len(texts))
        counts = np.bincount(targets)
        stratify = targets if counts.min() >= 2 else None
        n_holdout = max(int(len(texts) * self.config.holdout_fraction), len(self.labels))
        if n_holdout >= len(texts) - len(self.labels):
            return 1.0
        fit_rows, held_rows = train_test_split(
            positions,
            test_size=n_holdout,
            stratify=stratify,
            random_state=self.config.seed,
        )
        if len(np.unique(targets[fit_rows])) < 2:
            return 1.0
        self.vectorizers = _vectorizers(self.config)
        fit_texts = [texts[row] for row in fit_rows]
        held_texts = [texts[row] for row in held_rows]
        fit_embeddings = None if embeddings is None else embeddings[fit_rows]
        held_embeddings = None if embeddings is None else embeddings[held_rows]
        features = self._features(fit_texts, fit_embeddings, fit=True)
        present = np.unique(targets[fit_rows])
        weights, bias = self._fit_linear(features, targets[fit_rows], len(present))
        # Labels missing from the fitting slice keep a zero column and a low bias; that only
        # makes the fitted temperature a little more cautious.
        full_weights = np.zeros((weights.shape[0], len(self.labels)), dtype=np.float32)
        full_bias = np.full(len(self.labels), -1.0, dtype=np.float32)
        full_weights[:, present] = weights
        full_bias[present] = bias
        held = self._features(held_texts, held_embeddings, fit=False)
        scores = np.asarray(held @ full_weights, dtype=np.float64) + full_bias
        return fit_temperature(scores, targets[held_rows])

    # ------------------------------------------------------------------ prediction
    @property
    def fitted(self) -> bool:
        return bool(self.labels)

    def decision_scores(
        self, texts: Sequence[str], *, embeddings: FloatMatrix | None = None
    ) -> npt.NDArray[np.float64]:
        if not self.fitted:
            raise RuntimeError("The classifier is not trained.")
        features = self._features(texts, embeddings, fit=False)
        return np.asarray(features @ self.weights, dtype=np.float64) + self.bias

    def predict_proba(
        self, texts: Sequence[str], *, embeddings: FloatMatrix | None = None
    ) -> npt.NDArray[np.float64]:
        return _softmax(self.decision_scores(texts, embeddings=embeddings), self.temperature)

    def predict(
        self, texts: Sequence[str], *, embeddings: FloatMatrix | None = None, top: int = 3
    ) -> list[Prediction]:
        probabilities = self.predict_proba(texts, embeddings=embeddings)
        results = []
        for row in probabilities:
            order = np.argsort(-row)[:top]
            best = int(order[0])
            results.append(
                Prediction(
                    label=self.labels[best],
                    confidence=float(row[best]),
                    scores={self.labels[int(i)]: float(row[int(i)]) for i in order},
                )
            )
        return results

    def predict_one(
        self,
        text: str,
        *,
        embedding: FloatMatrix | None = None,
        analysis: TextAnalysis | None = None,
    ) -> Prediction:
        """One message, without scikit-learn's per-call validation (a few hundred µs).
        `analysis` (of the same text) lets several models share its normal form and n-grams."""
        scores = self._single_scores(text, embedding, analysis)
        row = _softmax(scores.reshape(1, -1), self.temperature)[0]
        order = np.argsort(-row)[:3]
        best = int(order[0])
        return Prediction(
            label=self.labels[best],
            confidence=float(row[best]),
            scores={self.labels[int(i)]: float(row[int(i)]) for i in order},
        )

    def _single_scores(
        self, text: str, embedding: FloatMatrix | None, analysis: TextAnalysis | None = None
    ) -> npt.NDArray[np.float64]:
        """Decision scores of one text; equal to `decision_scores([text])[0]`."""
        if not self.fitted:
            raise RuntimeError("The classifier is not trained.")
        if self._analyzers is None:
            self._analyzers = {
                name: (vectorizer.build_analyzer(), _analyzer_key(name, vectorizer))
                for name, vectorizer in self.vectorizers.items()
            }
        if analysis is None or analysis.text != text:
            analysis = TextAnalysis(text)
        normalized = analysis.normalized
        scores = self.bias.astype(np.float64)
        offset = 0
        for name, vectorizer in self.vectorizers.items():
            source = hebrew_stems(normalized) if name == "stem" else normalized
            vocabulary = vectorizer.vocabulary_
            analyzer, key = self._analyzers[name]
            counts = analysis.counts(key, analyzer, source)
            # Vocabulary lookups in one C-level pass: -1 for an n-gram the model never saw.
            columns = np.fromiter(
                map(vocabulary.get, counts, repeat(-1)), dtype=np.intp, count=len(counts)
            )
            known = columns >= 0
            if known.any():
                columns = columns[known]
                values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))[known]
                np.log(values, out=values)
                values += 1.0
                values *= vectorizer.idf_[columns]
                norm = float(np.sqrt(values @ values))
                if norm > 0:
                    scores += (values / norm) @ self.weights[offset + columns]
            offset += len(vocabulary)
        if self.encoder is not None:
            if embedding is None:
                vectors = self.embed([text])
                assert vectors is not None
                embedding = vectors[0]
            vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
            weighted = vector * np.float32(self.config.embedding_weight)
            scores += weighted @ self.weights[offset : offset + len(vector)]
        return scores

    # ------------------------------------------------------------------ arrays (store.py)
    def to_arrays(self) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """Metadata (JSON-able) and arrays that `from_arrays` turns back into this model."""
        if not self.fitted:
            raise RuntimeError("The classifier is not trained.")
        arrays: dict[str, npt.NDArray[Any]] = {
            "weights": self.weights,
            "bias": self.bias,
            "labels": np.array(self.labels, dtype=np.str_),
        }
        for name, vectorizer in self.vectorizers.items():
            vocabulary = vectorizer.vocabulary_
            terms = sorted(vocabulary, key=vocabulary.__getitem__)
            arrays[f"vocab_{name}"] = np.array(terms, dtype=np.str_)
            arrays[f"idf_{name}"] = np.asarray(vectorizer.idf_, dtype=np.float64)
        meta = {
            "config": self.config.to_dict(),
            "vectorizers": list(self.vectorizers),
            "encoder": None if self.encoder is None else self.encoder.name,
            "temperature": self.temperature,
            "training_seconds": self.training_seconds,
            "training_examples": self.training_examples,
        }
        return meta, arrays

    @classmethod
    def from_arrays(
        cls, meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
    ) -> TextClassifier:
        config = ClassifierConfig.from_dict(meta["config"])
        encoder = None if meta["encoder"] is None else encoder_by_name(str(meta["encoder"]))
        model = cls(config, encoder)
        model.labels = [str(label) for label in arrays["labels"]]
        model.weights = np.asarray(arrays["weights"], dtype=np.float32)
        model.bias = np.asarray(arrays["bias"], dtype=np.float32)
        model.temperature = float(meta["temperature"])
        model.training_seconds = float(meta.get("training_seconds", 0.0))
        model.training_examples = int(meta.get("training_examples", 0))
        templates = _vectorizers(config)
        for name in meta["vectorizers"]:
            vectorizer = templates[name]
            terms = arrays[f"vocab_{name}"]
            vectorizer.vocabulary_ = {str(term): i for i, term in enumerate(terms)}
            vectorizer.idf_ = np.asarray(arrays[f"idf_{name}"], dtype=np.float64)
            model.vectorizers[name] = vectorizer
        return model
