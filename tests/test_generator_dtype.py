"""Generator dtype: the automatic choice, forcing it, and LoRA adapters on a bf16 generator."""

import pytest
import torch

from core.devices import DeviceChoice, generator_dtype, pick_device
from core.errors import UserError
from core.quantization import Int8Linear
from core.settings import load_settings

CPU = DeviceChoice("cpu", "float32", "CPU")
CUDA = DeviceChoice("cuda", "float16", "T4")


@pytest.mark.parametrize(("requested", "choice", "flags", "expected"), [
    ("auto", CPU, {"avx2", "avx512f", "avx512_bf16"}, "int8"),  # Sapphire Rapids-like
    ("auto", CPU, {"avx2", "amx_bf16"}, "int8"),
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
    from tests.tiny_models import build_tiny_llama

    folder = tmp_path / "tiny"
    build_tiny_llama(tiny_tokenizer, 0).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    settings = Settings(data_dir=tmp_path / "data", device="cpu")
    model, _, _ = load_causal_or_seq2seq(str(folder), settings, "bfloat16")
    assert model.dtype == torch.bfloat16
    model, _, _ = load_causal_or_seq2seq(str(folder), settings)  # training: device dtype
    assert model.dtype == pick_device("cpu").dtype == torch.float32
    model, _, _ = load_causal_or_seq2seq(str(folder), settings, "int8")
    layer = model.model.layers[0]
    # every Linear (attention, MLP, output head) int8 weight-only; embeddings bf16
    assert all(isinstance(m, Int8Linear) for m in (layer.self_attn.q_proj, layer.mlp.down_proj,
                                                   model.lm_head))
    assert layer.mlp.down_proj.qweight.dtype == torch.int8
    assert model.model.embed_tokens.weight.dtype == torch.bfloat16
    out = model(input_ids=torch.tensor([[1, 2, 3]])).logits
    assert out.shape[-1] == model.config.vocab_size and torch.isfinite(out).all()


def test_int8_layer_matches_its_float_weights():
    """Per-row scales: the int8 layer's output is the float layer's within int8 rounding,
    and dequantising gives back a Linear with the same outputs as the int8 one."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(96, 40)
    q = Int8Linear.from_linear(linear)
    x = torch.randn(3, 5, 96)  # 15 rows: the dequantised path
    exact, approx = linear(x), q(x)
    assert approx.shape == exact.shape
    assert (approx - exact).abs().max() < 0.02 * exact.abs().max()
    one = x[:1, :1]  # one row: the int8 kernel, same answer
    assert torch.allclose(q(one), approx[:1, :1], atol=0.02)
    back = q.to_linear()
    assert torch.allclose(back(x.to(torch.bfloat16)).float(), approx.float(), atol=0.02)


def test_adapters_on_an_int8_generator(app_settings, tiny_tokenizer):
    """Adapters load onto the int8 generator: the layers they target turn back into bf16
    Linear layers, the adapter acts as it does on the fp32 base, and base answers stay."""
    from core.adapters import AdapterRegistry
    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora
    from core.generation import Generator
    from core.quantization import quantise
    from tests.tiny_models import build_tiny_llama

    registry = AdapterRegistry.of(app_settings)
    data = [TrainExample("the keeper is", "marta quill")] * 2
    for name, targets in (("attn", ()), ("mlp", ("gate_proj",))):
        trained = train_lora(build_tiny_llama(tiny_tokenizer, 0), tiny_tokenizer, data,
                             LoraSettings(epochs=4, learning_rate=3e-2, dropout=0.0,
                                          batch_size=2, target_modules=targets))
        registry.save(trained.model, name, {})
    gen = Generator(quantise(build_tiny_llama(tiny_tokenizer, 0)), tiny_tokenizer,
                    model_id="tiny", device="cpu", is_seq2seq=False, adapters=registry)
    fp32 = Generator(build_tiny_llama(tiny_tokenizer, 0), tiny_tokenizer, model_id="tiny",
                     device="cpu", is_seq2seq=False, adapters=registry)
    ids = tiny_tokenizer("the keeper is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        bare = gen.model(input_ids=ids).logits.float()
        bare32 = fp32.model(input_ids=ids).logits
        for name in ("attn", "mlp"):
            with gen.adapter_model(name) as model:
                shift = model(input_ids=ids).logits.float() - bare
            with fp32.adapter_model(name) as model:
                shift32 = model(input_ids=ids).logits - bare32
            assert shift.abs().max() > 1e-3  # the adapter acts on the int8 base ...
            assert torch.nn.functional.cosine_similarity(shift.flatten(), shift32.flatten(),
                                                         dim=0) > 0.9  # ... as on fp32
        assert torch.allclose(gen.model(input_ids=ids).logits.float(), bare, atol=0.05)
    layer = gen.model.model.layers[0]
    assert not isinstance(layer.self_attn.q_proj, Int8Linear)  # wrapped by peft now
    assert isinstance(layer.self_attn.k_proj, Int8Linear)  # untouched layers stay int8


def test_fp32_adapter_runs_on_a_bf16_generator(app_settings, tiny_tokenizer):
    """An adapter trained in fp32 loads onto a bf16 base: peft keeps the LoRA weights in fp32
    and casts around them; the adapter changes the answer's logits, base answers stay those
    of the bare bf16 model, and the adapter's effect matches the fp32 one closely."""
    from core.adapters import AdapterRegistry
    from core.finetune.config import LoraSettings
    from core.finetune.data import TrainExample
    from core.finetune.train import train_lora
    from core.generation import GenerationConfig, Generator
    from tests.tiny_models import build_tiny_llama

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
