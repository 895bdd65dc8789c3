import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Model tests run single-threaded: small tensors, and the machine has 2 cores for everything."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
