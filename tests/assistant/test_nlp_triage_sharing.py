# Hebrew letters in this module are intended.
"""A triage computes a message's normal form and n-grams once for both models; the
predictions are those each model gives on its own."""

from __future__ import annotations

import pytest

from ascolto.assistant.nlp.classifier import ClassifierConfig, TextAnalysis
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.sentiment import DEFAULT, SentimentModel
from ascolto.assistant.nlp.triage import Triage
from tests.assistant.corpora import INTENT_EXAMPLES, SENTIMENT_EXAMPLES, split

pytest.importorskip("lingua")

HEBREW = [
    ("שירות מעולה, תודה רבה", "positive"),
    ("כל הכבוד, אתם נהדרים", "positive"),
    ("מרוצה מאוד מהמשלוח", "positive"),
    ("שירות גרוע, אף אחד לא עונה", "negative"),
    ("בושה, המוצר הגיע שבור", "negative"),
    ("אני כועס מאוד על היחס", "negative"),
]
MESSAGES = [
    "Il mio pacco non è ancora arrivato, servizio pessimo, sono arrabbiato",
    "Thanks, I forgot my password but the login now works, great service!",
    "המוצר הגיע שבור, שירות גרוע",
    "ok",
]


@pytest.fixture(scope="module")
def triage() -> Triage:
    config = ClassifierConfig(embedding_weight=0.0, char_min_df=1)
    intent = IntentModel.train(*split(INTENT_EXAMPLES), config=config, use_embeddings=False)
    sentiment = SentimentModel.train(
        {DEFAULT: split(SENTIMENT_EXAMPLES), "he": split(HEBREW)}, use_embeddings=False
    )
    return Triage(intent=intent, sentiment=sentiment)


@pytest.mark.parametrize("text", MESSAGES)
def test_shared_analysis_gives_each_models_own_prediction(triage: Triage, text: str) -> None:
    assert triage.intent is not None
    assert triage.sentiment is not None

    result = triage.run(text)

    language = result.language.code if result.language.known else None
    alone_intent = triage.intent.predict(text)
    alone_sentiment = triage.sentiment.predict(text, language=language)
    assert result.intent == alone_intent
    assert result.sentiment == alone_sentiment
    batch = triage.intent.classifier.predict([text])[0]
    assert result.intent is not None
    assert result.intent.label == batch.label
    assert result.intent.confidence == pytest.approx(batch.confidence, abs=1e-6)


def test_an_analysis_of_another_text_is_not_used(triage: Triage) -> None:
    assert triage.intent is not None
    stale = TextAnalysis("Where is my parcel?")
    triage.intent.predict("Where is my parcel?", analysis=stale)  # fills its n-grams

    prediction = triage.intent.predict("Reset my password please", analysis=stale)

    assert prediction == triage.intent.predict("Reset my password please")
    assert prediction.label == "login"
