import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from stats import median  # noqa: E402


class MedianTest(unittest.TestCase):
    def test_even_count_averages_the_middle_two(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)

    def test_odd_count(self):
        self.assertEqual(median([3, 1, 2]), 2)


if __name__ == "__main__":
    unittest.main()
