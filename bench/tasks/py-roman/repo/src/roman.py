"""Roman numerals."""

NUMERALS = [(1000, "M"), (500, "D"), (100, "C"), (50, "L"), (10, "X"), (5, "V"), (1, "I")]


def to_roman(number):
    """The Roman numeral of an integer from 1 to 3999, in standard subtractive form (4 is IV)."""
    if not isinstance(number, int) or not 0 < number < 4000:
        raise ValueError("only integers from 1 to 3999 have a Roman numeral")
    out = []
    for value, letters in NUMERALS:
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)
