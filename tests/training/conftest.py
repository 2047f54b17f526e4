"""The training tests reuse the feedback suite's store and folder-loaded generator, and the
fine-tune suite's tiny knowledge-base environment (tiny models: ``tests/conftest.py``)."""

from tests.feedback.conftest import folder_generator, store  # noqa: F401 (fixtures)
from tests.finetune.conftest import one_torch_thread, tiny_env  # noqa: F401
