import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for a whole test module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    on a shared 2-core CPU, single frames and small batches run several times slower with more threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
