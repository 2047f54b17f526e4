"""The training tests reuse the feedback suite's store and folder-loaded generator, and the
fine-tune suite's fresh tiny models and tiny knowledge-base environment."""

from tests.feedback.conftest import folder_generator, store  # noqa: F401 (fixtures)
from tests.finetune.conftest import fresh_llama, one_torch_thread, tiny_env  # noqa: F401
