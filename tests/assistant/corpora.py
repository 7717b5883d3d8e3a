"""Small hand-written corpora for the triage tests (no external data)."""

from __future__ import annotations

INTENT_EXAMPLES: list[tuple[str, str]] = [
    ("I want my money back for this order", "refund"),
    ("Please refund the broken headphones", "refund"),
    ("How do I get a refund?", "refund"),
    ("I was charged twice, give me my money back", "refund"),
    ("Can I return the item and be reimbursed?", "refund"),
    ("Voglio il rimborso del mio ordine", "refund"),
    ("Rimborsatemi, il prodotto è rotto", "refund"),
    ("Come ottengo un rimborso?", "refund"),
    ("Where is my parcel?", "delivery"),
    ("My package has not arrived yet", "delivery"),
    ("When will my order be delivered?", "delivery"),
    ("The courier never showed up with my delivery", "delivery"),
    ("Tracking says delivered but I have no package", "delivery"),
    ("Dov'è il mio pacco?", "delivery"),
    ("Il corriere non è ancora passato", "delivery"),
    ("Quando arriva la mia spedizione?", "delivery"),
    ("I forgot my password", "login"),
    ("I cannot log in to my account", "login"),
    ("Reset my password please", "login"),
    ("The login page says my password is wrong", "login"),
    ("My account is locked after too many attempts", "login"),
    ("Ho dimenticato la password", "login"),
    ("Non riesco ad accedere al mio account", "login"),
    ("Come reimposto la password?", "login"),
]

SENTIMENT_EXAMPLES: list[tuple[str, str]] = [
    ("Thank you so much, great service!", "positive"),
    ("Excellent support, very happy", "positive"),
    ("I love this shop, fast and kind", "positive"),
    ("Perfect, problem solved, thanks!", "positive"),
    ("Grazie mille, servizio ottimo!", "positive"),
    ("Bravissimi, tutto perfetto", "positive"),
    ("This is terrible, nobody answers", "negative"),
    ("Worst experience ever, I am furious", "negative"),
    ("Awful service, the product broke in a day", "negative"),
    ("I am very disappointed and angry", "negative"),
    ("Servizio pessimo, una vergogna", "negative"),
    ("Sono molto arrabbiato, nessuno risponde", "negative"),
    ("I placed the order on Monday", "neutral"),
    ("What are your opening hours?", "neutral"),
    ("The invoice number is in the attachment", "neutral"),
    ("I live in Milan", "neutral"),
    ("Ho fatto l'ordine lunedì", "neutral"),
    ("Qual è l'orario del negozio?", "neutral"),
]


def split(examples: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [text for text, _ in examples], [label for _, label in examples]
