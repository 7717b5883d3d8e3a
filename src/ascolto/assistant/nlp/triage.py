"""Triage of one message: language, intent and sentiment in a few milliseconds on a CPU.

The sentence embedding, the one costly step, is computed at most once per message and shared by
the intent and sentiment models, and only when one of them uses it for the message's language.
Nothing here touches the network or the database: the caller loads the workspace's models (see
`store.ModelStore`) and decides what to do with the predictions (rules, confidence floor).
"""

from __future__ import annotations

from dataclasses import dataclass

from ascolto.assistant.nlp.classifier import FloatMatrix, Prediction, TextAnalysis
from ascolto.assistant.nlp.embedding import SentenceEncoder, one_blas_thread
from ascolto.assistant.nlp.intent import IntentModel
from ascolto.assistant.nlp.language import LanguageDetector, LanguageGuess, default_detector
from ascolto.assistant.nlp.sentiment import SentimentModel


@dataclass(frozen=True)
class TriageResult:
    language: LanguageGuess
    intent: Prediction | None
    sentiment: Prediction | None


class Triage:
    def __init__(
        self,
        *,
        intent: IntentModel | None = None,
        sentiment: SentimentModel | None = None,
        detector: LanguageDetector | None = None,
        default_language: str | None = None,
    ) -> None:
        self.intent = intent
        self.sentiment = sentiment
        self.detector = detector or default_detector()
        self.default_language = default_language

    def _encoder(self, language: str | None) -> SentenceEncoder | None:
        if self.intent is not None and self.intent.classifier.encoder is not None:
            return self.intent.classifier.encoder
        if self.sentiment is not None and self.sentiment.uses_embeddings(language):
            classifier = self.sentiment.classifier_for(language)
            return None if classifier is None else classifier.encoder
        return None

    def run(self, text: str) -> TriageResult:
        with one_blas_thread():
            return self._run(text)

    def _run(self, text: str) -> TriageResult:
        guess = self.detector.detect(text)
        language = guess.code if guess.known else self.default_language
        embedding: FloatMatrix | None = None
        encoder = self._encoder(language)
        if encoder is not None and text.strip():
            classifier = (
                self.intent.classifier
                if self.intent is not None and self.intent.uses_embeddings
                else self.sentiment.classifier_for(language)  # type: ignore[union-attr]
            )
            assert classifier is not None
            embedding = classifier.embed([text])
        # Normal form and n-grams computed once for both models.
        analysis = TextAnalysis(text)
        intent = None
        if self.intent is not None and text.strip():
            intent = self.intent.predict(text, embedding=embedding, analysis=analysis)
        sentiment = None
        if self.sentiment is not None and text.strip():
            sentiment = self.sentiment.predict(
                text, language=language, embedding=embedding, analysis=analysis
            )
        return TriageResult(language=guess, intent=intent, sentiment=sentiment)
