# SPDX-License-Identifier: MIT
"""The skip rule of the tool tests: a missing optional tool skips the test (exit 77, which CTest
reports as skipped), except under CI (CI=true), where everything the project's scripts install
must be there and a missing tool fails the test."""
import os
import sys


def skip(why):
    if os.environ.get("CI") == "true":
        print("FAILED (under CI): " + why)
        sys.exit(1)
    print("SKIPPED: " + why)
    sys.exit(77)
