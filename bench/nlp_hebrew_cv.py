"""Cross-validate Hebrew sentiment recipes on the training split only.

    python bench/nlp_hebrew_cv.py [--datasets DIR] [--folds 5] [--only shipped,mlp,...]

Stratified k-fold (seed 0) over the token train split of the Hebrew sentiment dataset; the dev
split is never read. For each recipe: accuracy per fold, mean ± standard deviation, and the
difference from the shipped recipe on the same folds (paired, so fold difficulty cancels out).
Ensembles average the out-of-fold probabilities of their members. The shipped recipe runs
through the product's own `TextClassifier`; the others use the same features (word 1-2-grams
and char_wb 1-5-grams of `normalize`d text, TF-IDF, sublinear) built with scikit-learn directly.

`morph` adds, as an upper bound for morphological features, the word 1-2-grams of each comment's
gold segmentation from the dataset's morph/ split (matched to the token split's comments by
character trigrams). `quarter` and `half` train the shipped logistic regression on a stratified
25 % / 50 % of each fold's training part: the learning curve.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse  # type: ignore[import-untyped]
from scipy.special import softmax  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.svm import LinearSVC

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nlp_eval import default_datasets, hebrew

from ascolto.assistant.nlp.classifier import TextClassifier
from ascolto.assistant.nlp.sentiment import HEBREW_CONFIG
from ascolto.assistant.nlp.text import normalize

LABELS = ["negative", "neutral", "positive"]
WORDS = r"(?u)\b\w+\b|[^\w\s]"
Probabilities = np.ndarray[Any, np.dtype[np.float64]]
Fit = Callable[[Any, np.ndarray[Any, Any], Any], Probabilities]


def features(train: Sequence[str], test: Sequence[str]) -> tuple[Any, Any]:
    """The shipped recipe's n-gram features, fitted on `train` (texts already normalised)."""
    common: dict[str, Any] = {"sublinear_tf": True, "lowercase": False, "dtype": np.float32}
    vectorizers = [
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=HEBREW_CONFIG.char_ngrams,
            min_df=HEBREW_CONFIG.char_min_df,
            max_features=HEBREW_CONFIG.max_char_features,
            **common,
        ),
        TfidfVectorizer(
            analyzer="word",
            ngram_range=HEBREW_CONFIG.word_ngrams,
            token_pattern=WORDS,
            max_features=HEBREW_CONFIG.max_word_features,
            **common,
        ),
    ]
    fitted = sparse.hstack([v.fit_transform(train) for v in vectorizers], format="csr")
    applied = sparse.hstack([v.transform(test) for v in vectorizers], format="csr")
    return fitted, applied


def logreg(x: Any, y: np.ndarray[Any, Any], test: Any) -> Probabilities:
    model = LogisticRegression(C=HEBREW_CONFIG.C, max_iter=3000).fit(x, y)
    return np.asarray(model.predict_proba(test), dtype=np.float64)


def mlp(x: Any, y: np.ndarray[Any, Any], test: Any) -> Probabilities:
    """One hidden layer of 64 ReLU units over the sparse TF-IDF features, early stopping."""
    model = MLPClassifier(
        (64,),
        alpha=1e-4,
        batch_size=256,
        learning_rate_init=2e-3,
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=40,
        random_state=0,
    ).fit(x, y)
    return np.asarray(model.predict_proba(test), dtype=np.float64)


def sgd_modified_huber(x: Any, y: np.ndarray[Any, Any], test: Any) -> Probabilities:
    runs = [
        SGDClassifier(loss="modified_huber", alpha=1e-4, max_iter=50, tol=1e-4, random_state=seed)
        .fit(x, y)
        .decision_function(test)
        for seed in range(3)
    ]
    return np.asarray(np.mean([softmax(scores, axis=1) for scores in runs], axis=0))


def knn(x: Any, y: np.ndarray[Any, Any], test: Any, k: int = 30) -> Probabilities:
    """Votes of the k most cosine-similar training comments, weighted by similarity cubed."""
    similarity = (l2_normalize(test) @ l2_normalize(x).T).toarray()
    nearest = np.argpartition(-similarity, k, axis=1)[:, :k]
    weight = np.take_along_axis(similarity, nearest, axis=1) ** 3
    votes = np.stack([(weight * (y[nearest] == c)).sum(axis=1) for c in range(3)], axis=1)
    votes += 1e-3
    return np.asarray(votes / votes.sum(axis=1, keepdims=True), dtype=np.float64)


def cleaned_logreg(x: Any, y: np.ndarray[Any, Any], test: Any) -> Probabilities:
    """Drop the 3 % of training comments whose label an inner 3-fold linear SVM finds least
    likely (suspected label noise), then the shipped logistic regression."""
    inner = np.zeros((len(y), 3))
    splitter = StratifiedKFold(3, shuffle=True, random_state=1)
    for fit_rows, held_rows in splitter.split(np.zeros(len(y)), y):
        scores = LinearSVC(C=0.3).fit(x[fit_rows], y[fit_rows]).decision_function(x[held_rows])
        inner[held_rows] = softmax(scores * 3, axis=1)
    likelihood = inner[np.arange(len(y)), y]
    keep = likelihood > np.quantile(likelihood, 0.03)
    return logreg(x[keep], y[keep], test)


def subsample(share: float) -> Fit:
    def fit(x: Any, y: np.ndarray[Any, Any], test: Any) -> Probabilities:
        rows, _ = train_test_split(np.arange(len(y)), train_size=share, stratify=y, random_state=0)
        return logreg(x[rows], y[rows], test)

    return fit


RECIPES: dict[str, Fit] = {
    "mlp": mlp,
    "sgd": sgd_modified_huber,
    "knn": knn,
    "cleaned": cleaned_logreg,
    "quarter": subsample(0.25),
    "half": subsample(0.5),
}
# Not averaged into the ensemble: far weaker alone, trained on less data, or reading the gold
# segmentation of the test comments.
NOT_ENSEMBLED = {"knn", "quarter", "half", "morph"}
DEFAULT = ["shipped", "mlp", "sgd", "knn", "cleaned"]


def morph_segmentations(root: Path, texts: Sequence[str]) -> list[str]:
    """For each comment of the token split, the text of the morph/ split's comment that shares
    the most character trigrams with it (Jaccard; the two splits are not in the same order)."""
    rows = [
        line.rsplit("\t", 1)[0]
        for line in (root / "hebrew_sentiment" / "morph" / "train.tsv")
        .read_text(encoding="utf-8")
        .split("\n")[1:]
        if line.strip()
    ]
    trigrams = CountVectorizer(analyzer="char", ngram_range=(3, 3), binary=True)
    morph = trigrams.fit_transform([row.replace(" ", "") for row in rows]).astype(np.float32)
    token = trigrams.transform([text.replace(" ", "") for text in texts]).astype(np.float32)
    morph_sizes = np.asarray(morph.sum(axis=1)).ravel()
    token_sizes = np.asarray(token.sum(axis=1)).ravel()
    best: list[str] = []
    for start in range(0, len(texts), 500):
        shared = (token[start : start + 500] @ morph.T).toarray()
        union = token_sizes[start : start + 500, None] + morph_sizes[None, :] - shared
        best.extend(rows[i] for i in (shared / np.maximum(union, 1)).argmax(axis=1))
    return best


def shipped(texts: Sequence[str], labels: np.ndarray[Any, Any], rows: Any) -> Probabilities:
    """The product's Hebrew classifier (no temperature: the argmax does not depend on it)."""
    train_rows, test_rows = rows
    classifier = TextClassifier(replace(HEBREW_CONFIG, calibrate=False))
    classifier.fit([texts[i] for i in train_rows], [LABELS[i] for i in labels[train_rows]])
    assert classifier.labels == LABELS
    scores = classifier.decision_scores([texts[i] for i in test_rows])
    return np.asarray(softmax(scores, axis=1), dtype=np.float64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=default_datasets())
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT),
        help=f"comma-separated subset of shipped,morph,{','.join(RECIPES)}",
    )
    args = parser.parse_args()
    texts, names = hebrew(args.datasets, "train")
    labels = np.array([LABELS.index(name) for name in names])
    normalized = [normalize(text) for text in texts]
    chosen = args.only.split(",")
    unknown = set(chosen) - {"shipped", "morph", *RECIPES}
    if unknown:
        print(f"unknown recipes: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    folds = list(
        StratifiedKFold(args.folds, shuffle=True, random_state=0).split(normalized, labels)
    )
    morph = morph_segmentations(args.datasets, texts) if "morph" in chosen else []
    print(f"{len(texts)} training comments, {args.folds} folds, load {os.getloadavg()[0]:.1f}")
    oof = {name: np.zeros((len(texts), 3)) for name in chosen}
    for number, (train_rows, test_rows) in enumerate(folds):
        started = time.process_time()
        if "shipped" in oof:
            oof["shipped"][test_rows] = shipped(texts, labels, (train_rows, test_rows))
        x, test = features([normalized[i] for i in train_rows], [normalized[i] for i in test_rows])
        for name in chosen:
            if name in RECIPES:
                oof[name][test_rows] = RECIPES[name](x, labels[train_rows], test)
        if "morph" in oof:
            view = TfidfVectorizer(
                analyzer="word",
                ngram_range=(1, 2),
                token_pattern=WORDS,
                sublinear_tf=True,
                lowercase=False,
                dtype=np.float32,
            )
            x = sparse.hstack([x, view.fit_transform([normalize(morph[i]) for i in train_rows])])
            test = sparse.hstack([test, view.transform([normalize(morph[i]) for i in test_rows])])
            oof["morph"][test_rows] = logreg(x.tocsr(), labels[train_rows], test.tocsr())
        print(f"fold {number + 1}: {time.process_time() - started:.0f} s CPU", flush=True)

    def accuracies(probabilities: Probabilities) -> np.ndarray[Any, Any]:
        return np.array(
            [(probabilities[rows].argmax(1) == labels[rows]).mean() * 100 for _, rows in folds]
        )

    members = [name for name in chosen if name not in NOT_ENSEMBLED]
    if "shipped" in oof and len(members) > 1:
        oof["mean of " + " + ".join(members)] = np.mean([oof[n] for n in members], axis=0)
    base = accuracies(oof["shipped"]) if "shipped" in oof else None
    print("\n| recipe | CV accuracy | vs shipped (paired, per fold) |\n|---|---|---|")
    for name, probabilities in oof.items():
        scores = accuracies(probabilities)
        paired = (
            ""
            if base is None
            else f"{(scores - base).mean():+.2f} " + str(np.round(scores - base, 2).tolist())
        )
        print(f"| {name} | {scores.mean():.2f} ± {scores.std():.2f} | {paired} |")
    print(f"load {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
