"""Runs pytest on one test file for ctest: exit 77 (skipped) when pytest is missing, except under
CI (CI=true), where a missing pytest is a failure."""
import os
import sys

try:
    import pytest
except ImportError:
    print("SKIPPED: pytest is not installed (Debian: python3-pytest)")
    sys.exit(1 if os.environ.get("CI") == "true" else 77)

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
