import pytest

from ascolto.assistant.nlp.language import UNKNOWN, LanguageDetector, detect_language

pytest.importorskip("lingua")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Buongiorno, il mio ordine non è ancora arrivato e nessuno mi risponde", "it"),
        ("Vorrei cambiare l'indirizzo di spedizione", "it"),
        ("Hello, my order has not arrived and nobody answers my emails", "en"),
        ("I would like to change my delivery address", "en"),
        ("שלום, ההזמנה שלי עדיין לא הגיעה ואף אחד לא עונה", "he"),
        ("אני רוצה לשנות את כתובת המשלוח", "he"),
        ("Bonjour, ma commande n'est pas encore arrivée", "fr"),
        ("Hallo, meine Bestellung ist noch nicht angekommen", "de"),
        ("Здравствуйте, мой заказ ещё не пришёл", "ru"),
    ],
)
def test_detects_the_language_of_a_sentence(text: str, code: str) -> None:
    guess = detect_language(text)

    assert guess.code == code
    assert guess.confidence > 0.3


@pytest.mark.parametrize(
    ("text", "code"),
    [("ciao", "it"), ("Grazie mille!", "it"), ("ok thanks", "en"), ("Thank you", "en")],
)
def test_short_greetings_and_thanks_are_recognised(text: str, code: str) -> None:
    assert detect_language(text).code == code


@pytest.mark.parametrize("text", ["", "   ", "12345", "?!", "😀👍"])
def test_text_without_letters_is_unknown(text: str) -> None:
    guess = detect_language(text)

    assert guess.code == UNKNOWN
    assert not guess.known


def test_a_restricted_detector_only_answers_its_languages() -> None:
    detector = LanguageDetector(("it", "en"))

    assert detector.detect("Bonjour, ma commande n'est pas encore arrivée").code in {
        "it",
        "en",
        UNKNOWN,
    }
    assert detector.detect("שלום, ההזמנה שלי לא הגיעה").code != "he"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("How do I reset my password?", "en"),
        ("Where is my order?", "en"),
        ("Dov'è il mio ordine?", "it"),
        ("Il pacco non è arrivato", "it"),
        ("Wo ist meine Bestellung?", "de"),
    ],
)
def test_short_questions_are_placed_by_their_function_words(text: str, code: str) -> None:
    assert detect_language(text).code == code
