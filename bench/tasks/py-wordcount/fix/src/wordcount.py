"""Counting words in text."""

import re


def word_counts(text):
    """How often each word occurs, ignoring case and punctuation around words."""
    counts = {}
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        word = word.strip("'")
        if word:
            counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(text, n):
    """The `n` most frequent words, most frequent first, ties in alphabetical order."""
    counts = word_counts(text)
    return sorted(counts, key=lambda w: (-counts[w], w))[:n]

