import pytest

from ascolto.assistant.nlp.classifier import ClassifierConfig
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.language import UNKNOWN
from ascolto.assistant.nlp.sentiment import DEFAULT, SentimentModel
from ascolto.assistant.nlp.triage import Triage
from tests.assistant.corpora import INTENT_EXAMPLES, SENTIMENT_EXAMPLES, split

pytest.importorskip("lingua")


def test_triage_reports_language_intent_and_sentiment_of_a_message() -> None:
    config = ClassifierConfig(embedding_weight=0.0, char_min_df=1)
    intent = IntentModel.train(*split(INTENT_EXAMPLES), config=config, use_embeddings=False)
    sentiment = SentimentModel.train({DEFAULT: split(SENTIMENT_EXAMPLES)}, use_embeddings=False)
    triage = Triage(intent=intent, sentiment=sentiment)

    result = triage.run("Il mio pacco non è ancora arrivato, servizio pessimo, sono arrabbiato")

    assert result.language.code == "it"
    assert result.intent is not None
    assert result.intent.label == "delivery"
    assert result.sentiment is not None
    assert result.sentiment.label == "negative"


def test_triage_without_models_only_detects_the_language() -> None:
    result = Triage().run("Hello, I need help with my order please")

    assert result.language.code == "en"
    assert result.intent is None
    assert result.sentiment is None


def test_an_empty_message_gets_no_prediction() -> None:
    intent = IntentModel.train(
        *split(INTENT_EXAMPLES),
        config=ClassifierConfig(embedding_weight=0.0),
        use_embeddings=False,
    )

    result = Triage(intent=intent).run("   ")

    assert result.language.code == UNKNOWN
    assert result.intent is None
