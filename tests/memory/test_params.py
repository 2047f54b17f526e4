"""Exact parameter counts: known answers derived by hand, published totals, meta == analytic."""

import pytest

from core.memory.catalog import catalog_config, catalog_ids
from core.memory.params import count_meta, count_params


def test_bert_base_known_answer():
    """BERT-base-uncased (BertModel with pooler), from its config:

    embeddings: word 30522*768 = 23,440,896; position 512*768 = 393,216;
                token type 2*768 = 1,536; LayerNorm 2*768 = 1,536      -> 23,837,184
    per layer:  Q,K,V,O 4*(768*768+768) = 2,362,368; LayerNorm 1,536;
                intermediate 768*3072+3072 = 2,362,368; output 3072*768+768 = 2,360,064;
                LayerNorm 1,536                                       -> 7,087,872
    12 layers = 85,054,464; pooler 768*768+768 = 590,592
    total = 23,837,184 + 85,054,464 + 590,592 = 109,482,240
    """
    pc = count_params(catalog_config("bert-base-uncased"))
    assert pc.total == 109_482_240
    assert pc.embedding == 23_835_648  # the embedding LayerNorm (1,536) is in "other"


def test_gpt2_known_answer():
    """GPT-2 small: wte 50257*768 = 38,597,376; wpe 1024*768 = 786,432; per block
    2 LayerNorms 3,072 + c_attn 768*2304+2304 = 1,771,776 + attn c_proj 590,592 +
    c_fc 768*3072+3072 = 2,362,368 + mlp c_proj 2,360,064 = 7,087,872; 12 blocks 85,054,464;
    ln_f 1,536; lm_head tied (0). Total 124,439,808."""
    pc = count_params(catalog_config("gpt2"))
    assert pc.total == 124_439_808
    assert pc.head == 0


@pytest.mark.parametrize("name,total", [
    ("meta-llama/Llama-2-7b-hf", 6_738_415_616),
    ("mistralai/Mistral-7B-v0.1", 7_241_732_096),
    ("meta-llama/Llama-3.1-8B", 8_030_261_248),
    ("meta-llama/Llama-3.1-70B", 70_553_706_496),
    ("mistralai/Mixtral-8x7B-v0.1", 46_702_792_704),
    ("Qwen/Qwen2.5-7B", 7_615_616_512),
    ("google/gemma-2-9b", 9_241_705_984),
    ("microsoft/Phi-3-mini-4k-instruct", 3_821_079_552),
    ("google/flan-t5-base", 247_577_856),
    ("FacebookAI/roberta-base", 124_645_632),
    ("FacebookAI/roberta-large", 355_359_744),
    ("HuggingFaceTB/SmolLM2-135M", 134_515_008),
    ("sentence-transformers/all-MiniLM-L6-v2", 22_713_216),
])
def test_published_totals(name, total):
    assert count_params(catalog_config(name)).total == total


def test_llama3_8b_by_hand():
    """Llama-3.1-8B: per layer q 4096*4096 + k,v 2*4096*1024 + o 4096*4096 = 41,943,040;
    gated MLP 3*4096*14336 = 176,160,768; 2 RMSNorms 8,192 -> 218,112,000 x 32 =
    6,979,584,000; embeddings and UNTIED lm_head 2*128256*4096 = 1,050,673,152; final norm
    4,096. Total 8,030,261,248."""
    pc = count_params(catalog_config("Llama-3.1-8B"))
    assert pc.total == 8_030_261_248
    assert pc.head == pc.embedding == 128256 * 4096


def test_mixtral_total_vs_active():
    """Active = total - 32 layers x (8-2) idle experts x 3*4096*14336 = 12,879,925,248."""
    pc = count_params(catalog_config("Mixtral-8x7B-v0.1"))
    assert pc.total - pc.active == 32 * 6 * 3 * 4096 * 14336
    assert pc.active == 12_879_925_248


def test_tied_vs_untied_embeddings():
    """SmolLM2 ties lm_head to the embeddings (head 0); flipping the flag adds V*h."""
    cfg = catalog_config("SmolLM2-135M")
    tied = count_params(cfg)
    untied = count_params({**cfg, "tie_word_embeddings": False})
    assert tied.head == 0
    assert untied.total - tied.total == 49152 * 576


def test_t5_relative_attention_bias_counted():
    """Flan-T5: 32 buckets x heads in encoder layer 0 and decoder layer 0."""
    cfg = catalog_config("flan-t5-base")
    without = count_params({**cfg, "relative_attention_num_buckets": 1})
    assert count_params(cfg).total - without.total == 2 * 31 * 12


@pytest.mark.parametrize("name", catalog_ids())
def test_meta_device_agrees_with_analytic(name):
    cfg = catalog_config(name)
    a, m = count_params(cfg), count_meta(cfg)
    assert (a.total, a.active, a.embedding, a.head, a.matrix, a.other) == (
        m.total, m.active, m.embedding, m.head, m.matrix, m.other)
    assert a.linear_counts() == m.linear_counts()
