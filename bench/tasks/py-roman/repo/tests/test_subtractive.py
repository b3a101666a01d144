import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from roman import to_roman  # noqa: E402


class SubtractiveTest(unittest.TestCase):
    def test_subtractive_pairs(self):
        self.assertEqual(to_roman(4), "IV")
        self.assertEqual(to_roman(1994), "MCMXCIV")
        self.assertEqual(to_roman(49), "XLIX")


if __name__ == "__main__":
    unittest.main()
