import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from roman import to_roman  # noqa: E402


class AdditiveTest(unittest.TestCase):
    def test_additive(self):
        self.assertEqual(to_roman(3), "III")
        self.assertEqual(to_roman(2023), "MMXXIII")

    def test_out_of_range(self):
        self.assertRaises(ValueError, to_roman, 0)
        self.assertRaises(ValueError, to_roman, 4000)


if __name__ == "__main__":
    unittest.main()
