# Hebrew letters in this module are intended, not look-alikes of Latin ones.
"""Search: analysis, ranking on small corpora in English, Italian and Hebrew, the index kept
current on publish and unpublish, content gaps and suggestions."""

from __future__ import annotations

from typing import Any

import pytest

from ascolto.helpcenter import selectors, services
from ascolto.helpcenter.search import embeddings, registry
from ascolto.helpcenter.search.analysis import analyze, normalize_query
from ascolto.helpcenter.search.index import Document, HybridIndex
from tests.helpcenter.conftest import needs_encoder

EN = {
    "password": (
        "Reset your password",
        "If you cannot sign in, open the sign-in page and choose *Forgot password*. We email you "
        "a link to choose a new password; the link works for one hour.",
    ),
    "billing": (
        "Change your billing address",
        "Go to Settings, then Billing, and edit the address printed on your invoices.",
    ),
    "cancel": (
        "Cancel your subscription",
        "You can end your plan at any time from Settings > Plan. You keep access until the end "
        "of the period you paid for.",
    ),
    "tracking": (
        "Track your order",
        "Each shipment has a tracking number in the confirmation email. Follow the link to see "
        "where the courier is and when the delivery is expected.",
    ),
    "refund": (
        "Return a product for a refund",
        "Send the item back within 30 days in its original packaging. Once we receive it, the "
        "amount is credited to your card within five working days.",
    ),
}
IT = {
    "bolletta": (
        "Come pagare la bolletta",
        "Puoi pagare con addebito diretto sul conto corrente, con carta di credito dal sito o "
        "presso gli uffici postali con il bollettino allegato.",
    ),
    "lettura": (
        "Comunicare la lettura del contatore",
        "Invia l'autolettura dal sito o chiamando il numero verde: indica le cifre nere del "
        "contatore dell'acqua.",
    ),
    "guasto": (
        "Segnalare un guasto o una perdita",
        "Per perdite d'acqua sulla strada o mancanza di fornitura chiama il pronto intervento, "
        "attivo 24 ore su 24.",
    ),
    "voltura": (
        "Cambiare l'intestatario del contratto",
        "Per la voltura servono i dati anagrafici del nuovo intestatario, il codice fiscale e "
        "la lettura del contatore alla data della richiesta.",
    ),
}
HE = {
    "password": (
        "איפוס סיסמה",
        "אם שכחתם את הסיסמה, לחצו על קישור שכחתי סיסמה בדף הכניסה ונשלח אליכם מייל לבחירת "
        "סיסמה חדשה.",
    ),
    "refund": (
        "החזרת מוצר וקבלת החזר כספי",
        "ניתן להחזיר מוצר בתוך 30 יום באריזה המקורית. הכסף יוחזר לכרטיס האשראי תוך חמישה ימי "
        "עסקים.",
    ),
    "shipping": (
        "מעקב אחר משלוח",
        "לכל משלוח יש מספר מעקב במייל האישור. השליח מעדכן את מיקום החבילה.",
    ),
}


def _publish_all(make_article: Any, workspace: Any, actor: Any, corpus: Any, lang: str) -> dict:
    return {
        key: make_article(workspace, actor, {lang: texts}, slug=f"{lang}-{key}")
        for key, texts in corpus.items()
    }


def _top(workspace: Any, language: str, query: str) -> int | None:
    results = selectors.search_articles(
        workspace=workspace, language=language, query=query, limit=5
    )
    return results[0].article_id if results else None


def test_italian_and_english_words_are_stemmed_without_stop_words() -> None:
    assert analyze("I contatori dell'acqua", "it") == analyze("contatore acqua", "it")
    assert analyze("The invoices were printed", "en") == ["invoic", "print"]


def test_hebrew_gets_character_ngrams_that_survive_prefixes() -> None:
    bare, prefixed = set(analyze("סיסמה", "he")), set(analyze("והסיסמה", "he"))
    shared = {t for t in bare & prefixed if t.startswith("#")}
    assert len(shared) >= 4
    assert "#סיסמ" in prefixed


def test_query_normalisation_groups_spellings() -> None:
    assert normalize_query("  Rimborso  PERCHÈ? ") == normalize_query("rimborso perchè")


def test_lexical_index_ranks_and_skips_unrelated_documents() -> None:
    index = HybridIndex(
        [
            Document(1, "Shipping costs", "Delivery is free above 50 euros."),
            Document(2, "Password", "Reset the password from the sign-in page."),
        ],
        "en",
    )
    hits = index.search("reset password", limit=5)
    assert [hit.key for hit in hits] == [2]
    assert 0 < hits[0].score <= 1


@pytest.mark.django_db
@needs_encoder
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("I forgot my login details and can't get into my account", "password"),
        ("where is my parcel right now", "tracking"),
        ("how do I get my money back for an item", "refund"),
        ("stop paying for the service", "cancel"),
    ],
)
def test_english_paraphrases_find_the_right_article(
    workspace: Any, actor: Any, make_article: Any, query: str, expected: str
) -> None:
    articles = _publish_all(make_article, workspace, actor, EN, "en")
    assert _top(workspace, "en", query) == articles[expected].pk


@pytest.mark.django_db
@needs_encoder
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("posso pagare le fatture con la carta?", "bolletta"),
        ("come faccio a dare i consumi del mio misuratore", "lettura"),
        ("c'è acqua che esce dal tubo in via Roma", "guasto"),
        ("il contratto deve passare a mio figlio", "voltura"),
    ],
)
def test_italian_paraphrases_find_the_right_article(
    workspace: Any, actor: Any, make_article: Any, query: str, expected: str
) -> None:
    articles = _publish_all(make_article, workspace, actor, IT, "it")
    assert _top(workspace, "it", query) == articles[expected].pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("שכחתי את הסיסמא שלי", "password"),
        ("איך מחזירים מוצרים ומקבלים את הכסף", "refund"),
        ("איפה החבילה שלי? מספר המעקב", "shipping"),
    ],
)
def test_hebrew_paraphrases_find_the_right_article(
    workspace: Any, actor: Any, make_article: Any, query: str, expected: str
) -> None:
    articles = _publish_all(make_article, workspace, actor, HE, "he")
    assert _top(workspace, "he", query) == articles[expected].pk


@pytest.mark.django_db
def test_results_carry_a_snippet_around_the_query_words(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    body = "Intro sentence. " * 20 + "The courier leaves the parcel at the pickup point."
    make_article(workspace, actor, {"en": ("Deliveries", body)})
    result = selectors.search_articles(
        workspace=workspace, language="en", query="pickup point", limit=3
    )[0]
    assert "pickup point" in result.snippet
    assert result.snippet.startswith("…")
    assert len(result.snippet) <= selectors.SNIPPET_CHARS + 2


@pytest.mark.django_db
def test_only_published_articles_of_the_workspace_are_found_and_changes_show_at_once(
    workspace: Any, other_workspace: Any, actor: Any, make_article: Any
) -> None:
    texts = {"he": ("מעקב אחר משלוח", "מספר מעקב במייל")}
    mine = make_article(workspace, actor, texts)
    make_article(other_workspace, actor, texts, slug="foreign")
    draft = make_article(workspace, actor, {"he": ("משלוח מהיר", "משלוח")}, publish=False)
    found = selectors.search_articles(workspace=workspace, language="he", query="משלוח")
    assert [r.article_id for r in found] == [mine.pk]

    services.article_publish(article=draft, actor=actor)
    found = selectors.search_articles(workspace=workspace, language="he", query="משלוח")
    assert {r.article_id for r in found} == {mine.pk, draft.pk}

    services.article_unpublish(article=mine, actor=actor)
    found = selectors.search_articles(workspace=workspace, language="he", query="משלוח")
    assert [r.article_id for r in found] == [draft.pk]

    services.translation_save(
        article=draft, actor=actor, language="he", title="שעות פתיחה", body_markdown="א-ה"
    )
    assert selectors.search_articles(workspace=workspace, language="he", query="משלוח") == []


@pytest.mark.django_db
@needs_encoder
def test_index_uses_stored_embeddings_after_a_restart(
    workspace: Any, actor: Any, make_article: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    articles = _publish_all(make_article, workspace, actor, EN, "en")
    registry._indexes.clear()
    encoded: list[int] = []
    original = embeddings.encode_unit

    def counting(encoder: Any, texts: list[str]) -> Any:
        encoded.append(len(texts))
        return original(encoder, texts)

    monkeypatch.setattr(registry, "encode_unit", counting)
    top = _top(workspace, "en", "where is my parcel right now")
    assert top == articles["tracking"].pk
    assert encoded == [1]  # the query only: the articles' vectors came from the database


@pytest.mark.django_db
def test_content_gaps_group_poor_searches(workspace: Any, other_workspace: Any) -> None:
    for query, count, score in [
        ("Rimborso bolletta", 0, 0.0),
        ("rimborso  bolletta!", 0, 0.0),
        ("orari sportello", 2, 0.1),
        ("pagare bolletta", 3, 0.9),
    ]:
        services.search_log(
            workspace=workspace, language="it", query=query, result_count=count, top_score=score
        )
    services.search_log(
        workspace=other_workspace,
        language="it",
        query="rimborso bolletta",
        result_count=0,
        top_score=0.0,
    )
    gaps = selectors.content_gaps(workspace=workspace, language="it")
    assert [(g.normalized_query, g.searches, g.no_results) for g in gaps] == [
        ("rimborso bolletta", 2, 2),
        ("orari sportello", 1, 0),
    ]
    assert selectors.content_gaps(workspace=workspace, language="en") == []


@pytest.mark.django_db
@needs_encoder
def test_suggestions_offer_only_confident_answers(
    workspace: Any, actor: Any, make_article: Any
) -> None:
    articles = _publish_all(make_article, workspace, actor, EN, "en")
    message = "Hi, I ordered shoes last week, where is the delivery? I have the tracking number."
    suggested = selectors.suggest_articles(workspace=workspace, language="en", text=message)
    assert suggested[0].article_id == articles["tracking"].pk
    assert all(s.score >= selectors.GAP_SCORE_FLOOR for s in suggested)
    unrelated = selectors.suggest_articles(
        workspace=workspace, language="en", text="Quantum chromodynamics lecture notes"
    )
    assert unrelated == []
