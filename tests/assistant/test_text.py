from ascolto.assistant.nlp.text import hebrew_stems, normalize


def test_normalize_replaces_handles_urls_and_numbers_and_squeezes_stretched_letters() -> None:
    text = "@mario GUARDA https://example.com/x ordine 12345 arrivatooooo!!!"

    assert normalize(text) == "xuser guarda xurl ordine xnum arrivatoo!!!"


def test_normalize_removes_hebrew_vowel_points() -> None:
    assert normalize("שָׁלוֹם") == "שלום"


def test_hebrew_stems_strip_attached_prefixes() -> None:
    stems = hebrew_stems("ובבית").split()

    assert stems == ["ובבית", "s_בבית", "s_בית"]


def test_hebrew_stems_fold_final_letters_and_ignore_latin_text() -> None:
    assert hebrew_stems("ארוך") == "ארוכ"
    assert hebrew_stems("hello world") == ""
