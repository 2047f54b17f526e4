"""A classification head on the mean of an encoder's token states (``pooling="mean"``).

Why our own module: transformers' ``*ForSequenceClassification`` heads read the [CLS] token
(BERT through its pooler's tanh layer), but a sentence-transformers checkpoint such as
all-MiniLM-L6-v2 was trained on the *mean* of its token states; its pooler weights were never
trained for it. A linear layer on that mean starts from the representation the checkpoint is
good at (Reimers & Gurevych, 2019, Sentence-BERT, §3: mean pooling beat [CLS]). Any encoder
loaded with ``AutoModel`` works (BERT, MiniLM, RoBERTa). Imports torch: load it lazily.

Example:
    >>> clf = MeanPoolClassifier(encoder, num_labels=4)          # doctest: +SKIP
    >>> clf(**tokenizer(["so happy"], return_tensors="pt")).logits.shape   # doctest: +SKIP
    torch.Size([1, 4])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers.modeling_outputs import SequenceClassifierOutput

HEAD_FILE = "classifier.safetensors"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Σ_t m_t·h_t / Σ_t m_t over the real (unpadded) tokens: (batch, seq, d) -> (batch, d)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class MeanPoolClassifier(torch.nn.Module):
    """encoder -> mean over tokens -> dropout -> linear; ``forward`` returns ``.logits``."""

    def __init__(self, encoder, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        self.config.num_labels = num_labels
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(encoder.config.hidden_size, num_labels)

    @classmethod
    def from_classifier(cls, model) -> MeanPoolClassifier:
        """The encoder inside a ``*ForSequenceClassification`` model, with a new mean head."""
        return cls(model.base_model, model.config.num_labels)

    def pooled(self, input_ids=None, attention_mask=None, **inputs) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **inputs)
        return mean_pool(out.last_hidden_state, attention_mask)

    def forward(self, input_ids=None, attention_mask=None, labels=None, **inputs):
        pooled = self.pooled(input_ids, attention_mask, **inputs)
        return SequenceClassifierOutput(logits=self.classifier(self.dropout(pooled)))

    def init_head(self, weight: np.ndarray, bias: np.ndarray) -> None:
        """Start the linear layer from a probe fitted on frozen features (LP-FT)."""
        with torch.no_grad():
            self.classifier.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            self.classifier.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        self.encoder.save_pretrained(folder, safe_serialization=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in
                   self.classifier.state_dict().items()}, str(Path(folder) / HEAD_FILE))

    @classmethod
    def load(cls, folder: Path) -> MeanPoolClassifier:
        from safetensors.torch import load_file
        from transformers import AutoModel

        head = load_file(str(Path(folder) / HEAD_FILE))
        model = cls(AutoModel.from_pretrained(folder), int(head["weight"].shape[0]))
        model.classifier.load_state_dict(head)
        return model.eval()
