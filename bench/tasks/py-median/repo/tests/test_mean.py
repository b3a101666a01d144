import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from stats import mean, median  # noqa: E402


class MeanTest(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(mean([1, 2, 3, 4]), 2.5)

    def test_empty_is_refused(self):
        self.assertRaises(ValueError, mean, [])
        self.assertRaises(ValueError, median, [])


if __name__ == "__main__":
    unittest.main()
