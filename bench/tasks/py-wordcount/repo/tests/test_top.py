import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from wordcount import top_words  # noqa: E402


class TopTest(unittest.TestCase):
    def test_ties_alphabetical(self):
        self.assertEqual(top_words("b a c b a", 2), ["a", "b"])


if __name__ == "__main__":
    unittest.main()
