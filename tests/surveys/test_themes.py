# Hebrew letters in this module are intended.
"""Comment themes on a fixed corpus in English, Italian and Hebrew: expected groupings, readable
labels, each theme's effect on the score and the pain points."""

from __future__ import annotations

import pytest

from ascolto.surveys.themes import Comment, extract_themes, pain_points

CORPUS = {
    "en": [
        ("The delivery was late and the parcel arrived damaged", 2),
        ("Late delivery, the courier lost my parcel", 1),
        ("Parcel delivery took two weeks, very late", 3),
        ("I was charged twice and the refund never came", 0),
        ("Refund still missing after being charged twice", 2),
        ("Wrong charge on my invoice, no refund yet", 1),
        ("Friendly agent, quick and helpful answer", 10),
        ("Helpful agent, friendly and quick", 9),
        ("Quick answer from a very helpful and friendly agent", 10),
    ],
    "it": [
        ("La consegna è arrivata in ritardo e il pacco era rotto", 2),
        ("Consegna in ritardo, il corriere ha perso il pacco", 1),
        ("Pacco consegnato con due settimane di ritardo", 3),
        ("Mi avete addebitato due volte e il rimborso non arriva", 0),
        ("Rimborso ancora assente dopo il doppio addebito", 2),
        ("Addebito sbagliato in fattura, nessun rimborso", 1),
        ("Operatore gentile, risposta rapida e utile", 10),
        ("Operatrice gentilissima e risposta rapida", 9),
        ("Risposta rapida e utile, operatore gentile", 10),
    ],
    "he": [
        ("המשלוח איחר והחבילה הגיעה שבורה", 2),
        ("איחור במשלוח, השליח איבד את החבילה", 1),
        ("החבילה במשלוח הגיעה באיחור של שבועיים", 3),
        ("חייבו אותי פעמיים והזיכוי לא הגיע", 0),
        ("הזיכוי עדיין לא הגיע אחרי חיוב כפול", 2),
        ("חיוב שגוי בחשבונית ואין זיכוי", 1),
        ("נציג אדיב, תשובה מהירה ומועילה", 10),
        ("נציגה אדיבה ותשובה מהירה", 9),
        ("תשובה מהירה ומועילה מנציג אדיב", 10),
    ],
}
EXPECTED_GROUPS = [{0, 1, 2}, {3, 4, 5}, {6, 7, 8}]


@pytest.mark.parametrize("language", ["en", "it", "he"])
def test_comments_group_into_delivery_billing_and_praise(language):
    comments = [Comment(text, score) for text, score in CORPUS[language]]

    themes = extract_themes(comments, language=language, k=3)

    assert sorted(map(set, (t.members for t in themes)), key=min) == EXPECTED_GROUPS
    for theme in themes:
        assert theme.keywords, theme
        assert theme.representative in [comments[i].text for i in theme.members]


def test_labels_use_the_customers_words_and_effects_are_hand_checked():
    comments = [Comment(text, score) for text, score in CORPUS["en"]]

    themes = {min(t.members): t for t in extract_themes(comments, language="en", k=3)}

    assert "refund" in themes[3].keywords
    assert any(word in themes[0].keywords for word in ("delivery", "late", "parcel"))
    # Billing: mean 1.0 inside; outside (2 + 1 + 3 + 10 + 9 + 10) / 6 = 35 / 6.
    assert themes[3].mean_with == pytest.approx(1.0)
    assert themes[3].mean_without == pytest.approx(35 / 6)
    assert themes[3].effect == pytest.approx(1.0 - 35 / 6)
    worst = pain_points(themes.values())
    assert [min(t.members) for t in worst] == [3, 0]  # praise raises the score: not a pain


def test_blank_comments_are_left_out_and_indices_stay_those_of_the_input():
    comments = [Comment(text, score) for text, score in CORPUS["it"]]
    comments.insert(0, Comment("   ", 5))

    themes = extract_themes(comments, language="it", k=3)

    assert 0 not in {i for t in themes for i in t.members}
    assert sorted(map(set, (t.members for t in themes)), key=min) == [
        {i + 1 for i in group} for group in EXPECTED_GROUPS
    ]


def test_bad_input_is_a_clear_error():
    comments = [Comment("a delivery comment"), Comment("a refund comment")]

    with pytest.raises(ValueError, match="not 'fr'"):
        extract_themes(comments, language="fr")
    with pytest.raises(ValueError, match="Between 1 and 2"):
        extract_themes(comments, language="en", k=5)
    assert extract_themes(comments[:1], language="en") == []
