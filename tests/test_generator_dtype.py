"""Generator dtype: the automatic choice, forcing it, and LoRA adapters on a bf16 generator."""

import pytest
import torch

from core.devices import DeviceChoice, generator_dtype, pick_device
from core.errors import UserError
from core.settings import load_settings

CPU = DeviceChoice("cpu", "float32", "CPU")
CUDA = DeviceChoice("cuda", "float16", "T4")


@pytest.mark.parametrize(("requested", "choice", "flags", "expected"), [
    ("auto", CPU, {"avx2", "avx512f", "avx512_bf16"}, "bfloat16"),  # Sapphire Rapids-like
    ("auto", CPU, {"avx2", "amx_bf16"}, "bfloat16"),
    ("auto", CPU, {"avx2", "avx512f"}, "float32"),  # AVX-512 without bf16: emulated, slower
    ("auto", CPU, set(), "float32"),  # no /proc/cpuinfo (macOS, Windows)
    ("auto", CUDA, {"avx512_bf16"}, "float16"),  # a GPU keeps its own dtype
    ("float32", CPU, {"avx512_bf16"}, "float32"),  # the setting that forces fp32
    ("bfloat16", CPU, set(), "bfloat16"),
    ("int8", CPU, set(), "int8"),
])
def test_generator_dtype_choice(requested, choice, flags, expected):
    assert generator_dtype(requested, choice, cpu_flags=flags) == expected


@pytest.mark.parametrize(("requested", "choice", "needle"), [
    ("int8", CUDA, "CPU only"), ("fp8", CPU, "auto|float32|bfloat16|int8")])
def test_generator_dtype_refuses(requested, choice, needle):
    with pytest.raises(UserError, match=needle):
        generator_dtype(requested, choice, cpu_flags=set())


def test_setting_is_read_and_checked():
    assert load_settings({"NLPLAB_GENERATOR_DTYPE": "float32"}).generator_dtype == "float32"
    assert load_settings({}).generator_dtype == "auto"
    with pytest.raises(UserError, match="NLPLAB_GENERATOR_DTYPE"):
        load_settings({"NLPLAB_GENERATOR_DTYPE": "half"})


def test_loader_applies_the_dtype(tmp_path, tiny_tokenizer):
    """A model folder loads as bf16 / int8-quantised Linear layers when asked."""
    from core.loaders import load_causal_or_seq2seq
    from core.settings import Settings
    from tests.finetune.conftest import build_tiny_llama

    folder = tmp_path / "tiny"
    build_tiny_llama(tiny_tokenizer, 0).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    settings = Settings(data_dir=tmp_path / "data", device="cpu")
    model, _, _ = load_causal_or_seq2seq(str(folder), settings, "bfloat16")
    assert model.dtype == torch.bfloat16
    model, _, _ = load_causal_or_seq2seq(str(folder), settings)  # training: device dtype
    assert model.dtype == pick_device("cpu").dtype == torch.float32
    model, _, _ = load_causal_or_seq2seq(str(folder), settings, "int8")
    q_proj = model.model.layers[0].self_attn.q_proj
    assert type(q_proj).__name__ == "Linear" and "quantized" in type(q_proj).__module__


def test_fp32_adapter_runs_on_a_bf16_generator(app_settings, tiny_tokenizer):
    """An adapter trained in fp32 loads onto a bf16 base: peft keeps the LoRA weights in fp32
    and casts around them; the adapter changes the answer's logits, base answers stay those
    of the bare bf16 model, and the adapter's effect matches the fp32 one closely."""
    from core.adapters import AdapterRegistry
    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora
    from core.generation import GenerationConfig, Generator
    from tests.finetune.conftest import build_tiny_llama

    trained = train_lora(build_tiny_llama(tiny_tokenizer, 0), tiny_tokenizer,
                         [TrainExample("the keeper is", "marta quill")] * 2,
                         LoraSettings(epochs=10, learning_rate=3e-2, dropout=0.0, batch_size=2))
    registry = AdapterRegistry.of(app_settings)
    registry.save(trained.model, "keeper", {})
    gens = {dt: Generator(build_tiny_llama(tiny_tokenizer, 0).to(dt), tiny_tokenizer,
                          model_id="tiny", device="cpu", is_seq2seq=False, adapters=registry)
            for dt in (torch.float32, torch.bfloat16)}
    ids = tiny_tokenizer("the keeper is", return_tensors="pt")["input_ids"]
    logits = {}
    for dt, gen in gens.items():
        bare = gen.model(input_ids=ids).logits.float()
        with gen.adapter_model("keeper") as model, torch.no_grad():
            logits[dt] = model(input_ids=ids).logits.float()
            lora_a = next(p for n, p in model.named_parameters() if "lora_A" in n)
        assert not torch.allclose(logits[dt], bare, atol=1e-3)  # the adapter acts
        assert torch.equal(gen.model(input_ids=ids).logits.float(), bare)  # and is off again
        text = gen.generate("the keeper is", GenerationConfig(max_new_tokens=4),
                            chat=False, adapter="keeper").text
        assert isinstance(text, str)
    assert lora_a.dtype == torch.float32  # peft's autocast_adapter_dtype on the bf16 base
    shift32 = logits[torch.float32] - gens[torch.float32].model(input_ids=ids).logits
    shift16 = logits[torch.bfloat16] - gens[torch.bfloat16].model(input_ids=ids).logits.float()
    assert torch.nn.functional.cosine_similarity(shift32.flatten(), shift16.flatten(),
                                                 dim=0) > 0.95


def test_warm_up_loads_both_models_once(monkeypatch, app_settings):
    """warm_up runs in a thread, loads and runs each model once, and is started once."""
    import core.loaders as loaders

    calls = []

    class Emb:
        def encode(self, texts):
            calls.append(("encode", tuple(texts)))

    class Gen:
        def generate(self, prompt, config):
            calls.append(("generate", config.max_new_tokens))

    monkeypatch.setattr(loaders, "load_embedder", lambda s: Emb())
    monkeypatch.setattr(loaders, "load_generator", lambda s: Gen())
    monkeypatch.setattr(loaders, "_warm_threads", {})
    first = loaders.warm_up(app_settings)
    assert loaders.warm_up(app_settings) is first
    first.join(timeout=10)
    assert calls == [("encode", ("warm up",)), ("generate", 2)]
