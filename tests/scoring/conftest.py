import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest


@pytest.fixture(scope="session")
def book_history(tmp_path_factory):
    """(book, snapshots): a small twin book with the batch run at every month end."""
    from book_history import make_history

    return make_history(tmp_path_factory.mktemp("book_history"))
