import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from wordcount import word_counts  # noqa: E402


class NormaliseTest(unittest.TestCase):
    def test_case_and_punctuation_are_ignored(self):
        self.assertEqual(word_counts("The cat. the CAT, the!"), {"the": 3, "cat": 2})


if __name__ == "__main__":
    unittest.main()
