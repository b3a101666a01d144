"""Counting words in text."""


def word_counts(text):
    """How often each word occurs, ignoring case and punctuation around words."""
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(text, n):
    """The `n` most frequent words, most frequent first, ties in alphabetical order."""
    counts = word_counts(text)
    return sorted(counts, key=lambda w: (-counts[w], w))[:n]

