"""Measure one workload's real memory in a FRESH process (run by :mod:`core.memory.measure`).

A separate process makes the RSS numbers honest: the app's other models, threads and caches
are not in it. Reported (JSON on stdout):

- ``tensor_bytes``: bytes of live tensors we can enumerate: parameters and buffers (int8
  packed weights counted as int8 + scales), gradients, optimizer states, the KV cache, and
  ``activations_saved`` = tensors autograd saved for backward (``saved_tensors_hooks``,
  parameters excluded, storages counted once);
- CPU: ``peak_rss_delta`` = peak resident set size while the workload runs (``VmHWM``, reset
  after loading through ``/proc/self/clear_refs``) minus the RSS before the model was loaded,
  i.e. model + workload, without one-off loading transients;
- CUDA: ``cuda_peak_allocated`` = ``torch.cuda.max_memory_allocated()`` minus what was
  allocated before loading (excludes the CUDA context, as the PyTorch docs say).

Usage: ``python -m core.memory.measure_worker '<json MeasureRequest>'``.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil


def _rss() -> int:
    return psutil.Process().memory_info().rss


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _trim() -> None:
    """Collect garbage and return freed heap pages to the OS (glibc ``malloc_trim``)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _storage_bytes(tensors) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        if t is None or t.device.type == "meta":
            continue
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())


def _model_bytes(model) -> int:
    import torch

    tensors = [*model.parameters(), *model.buffers()]
    for m in model.modules():
        if isinstance(m, torch.ao.nn.quantized.dynamic.Linear):
            w, b = m._packed_params._weight_bias()
            tensors += [w.int_repr(), b]
    return _storage_bytes(tensors)


def _cache_tensors(cache) -> list:
    if cache is None:
        return []
    layers = getattr(cache, "layers", None)
    if layers is None and hasattr(cache, "self_attention_cache"):
        return (_cache_tensors(cache.self_attention_cache)
                + _cache_tensors(cache.cross_attention_cache))
    out = []
    for layer in layers or []:
        out += [getattr(layer, "keys", None), getattr(layer, "values", None)]
    return [t for t in out if t is not None and hasattr(t, "untyped_storage")]


def _load(req: dict[str, Any], notes: list[str], warm_cfg=None):
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = {"decoder": AutoModelForCausalLM, "encoder": AutoModel,
            "encoder-decoder": AutoModelForSeq2SeqLM}[req["kind"]]
    dtype, device = req["dtype"], req["device"]
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16,
                   "bf16": torch.bfloat16}.get(dtype, torch.float32)
    kwargs: dict[str, Any] = {"attn_implementation": "sdpa"}
    if dtype in ("int8", "int4") and device == "cuda":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_8bit=True) if dtype == "int8" else BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16))
        torch_dtype = torch.bfloat16
        notes.append(f"{dtype} through bitsandbytes on CUDA")
    if warm_cfg is not None:
        kwargs.pop("quantization_config", None)
        model = auto.from_config(warm_cfg, dtype=torch_dtype, **kwargs)
    else:
        model = auto.from_pretrained(req["location"], dtype=torch_dtype, **kwargs)
    if "quantization_config" not in kwargs:
        model.to(device)
    if device == "cpu" and warm_cfg is None:
        # safetensors tensors may be views of a memory-mapped file whose pages enter RSS only
        # when touched (e.g. embedding rows of unused tokens). Copy them into ordinary memory
        # so every weight is resident, as it is once moved to a GPU.
        with torch.no_grad():
            for t in [*model.parameters(), *model.buffers()]:
                t.data = t.data.clone()
        notes.append("CPU: weights copied out of the safetensors memory map (fully resident)")
    if dtype == "int8" and device == "cpu":
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        names = {n: default_dynamic_qconfig for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and n.split(".")[-1] != "lm_head"}
        model = quantize_dynamic(model, names, dtype=torch.qint8)
        notes.append("int8 on CPU: torch.ao.quantization.quantize_dynamic on every nn.Linear "
                     "except lm_head (int8 weights, fp32 activations; embeddings stay fp32)")
    return model


def _warm_up(req: dict[str, Any]) -> None:
    """Run the same workload once on a 1-layer model built from the same config, so lazy
    imports, kernel initialisation and thread pools are in the baseline, not the delta."""
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(req["location"])
    for key in ("num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers"):
        if hasattr(cfg, key):
            setattr(cfg, key, 1)
    _workload({**req, "seq": min(req["seq"], 16)}, [], cfg)


def run(req: dict[str, Any]) -> dict[str, Any]:
    import torch

    cuda = req["device"] == "cuda"
    torch.manual_seed(0)
    t0 = time.perf_counter()
    if not cuda:
        _warm_up(req)
    _trim()
    rss0 = _rss()
    alloc0 = torch.cuda.memory_allocated() if cuda else 0
    result = _workload(req, [], None, rss0, alloc0)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _workload(req: dict[str, Any], notes: list[str], warm_cfg=None, rss0: int = 0,
              alloc0: int = 0) -> dict[str, Any]:
    import torch

    cuda = req["device"] == "cuda"
    model = _load(req, notes, warm_cfg)
    b, s = req["batch"], req["seq"]
    ids = torch.randint(5, min(1000, model.config.vocab_size), (b, s), device=req["device"])
    opt = None
    if req["mode"] in ("lora", "full", "qlora"):
        if req["mode"] != "full":
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(
                r=req["lora_r"], lora_alpha=req["lora_alpha"], lora_dropout=0.0,
                target_modules=req["lora_targets"]))
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    _trim()
    rss_loaded = _rss()
    reset_ok = _reset_peak()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    saved: dict[int, int] = {}
    kv = 0
    if opt is None:
        with torch.inference_mode():
            if req["kind"] == "encoder":
                out = model(input_ids=ids)
            elif req["kind"] == "encoder-decoder":
                out = model(input_ids=ids, decoder_input_ids=ids, use_cache=True)
            else:
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            kv = _storage_bytes(_cache_tensors(getattr(out, "past_key_values", None)))
    else:
        param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}

        def pack(t):
            st = t.untyped_storage()
            if st.data_ptr() not in param_ptrs:
                saved[st.data_ptr()] = st.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            if req["kind"] == "encoder":
                loss = model(input_ids=ids).last_hidden_state.float().pow(2).mean()
                notes.append("encoder LoRA step: loss = mean squared hidden state (no head)")
            else:
                loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
    peak = _peak_rss()
    weights = _model_bytes(model)  # after the peak: unpacking int8 weights makes copies
    grads = _storage_bytes([p.grad for p in model.parameters()])
    states = _storage_bytes([v for st in (opt.state.values() if opt else []) for v in st.values()
                             if torch.is_tensor(v)])
    result = {
        "device": req["device"],
        "tensor_bytes": {"weights": weights, "gradients": grads, "optimizer": states,
                         "kv_cache": kv, "activations_saved": sum(saved.values())},
        "rss_baseline": rss0, "rss_after_load": rss_loaded, "rss_peak": peak,
        "peak_rss_delta": peak - rss0 if not cuda else None,
        "peak_reset": reset_ok,
        "cuda_peak_allocated": (torch.cuda.max_memory_allocated() - alloc0) if cuda else None,
        "notes": notes + ([] if reset_ok else [
            "could not reset VmHWM: peak RSS includes loading transients"]),
    }
    return result


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
