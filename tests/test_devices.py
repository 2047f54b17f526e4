import pytest
import torch

from core.devices import device_status, pick_device
from core.errors import UserError


def test_cpu_is_fp32():
    choice = pick_device("cpu")
    assert (choice.device, choice.dtype) == ("cpu", torch.float32)


def test_auto_without_gpu_is_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("auto").device == "cpu"


@pytest.mark.parametrize(("bf16", "dtype"), [(True, torch.bfloat16), (False, torch.float16)])
def test_cuda_picks_bf16_where_supported_else_fp16(monkeypatch, bf16, dtype):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake A100")
    choice = pick_device("auto")
    assert (choice.device, choice.dtype, choice.name) == ("cuda", dtype, "Fake A100")


def test_cuda_requested_without_cuda_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="NLPLAB_DEVICE=cuda"):
        pick_device("cuda")


def test_status_reports_gpu_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda: (4e9, 16e9))
    from core.devices import DeviceChoice

    status = device_status(DeviceChoice("cuda", "float16", "T4"))
    assert status["gpu_memory_total_gb"] == 16.0
    assert status["gpu_memory_free_gb"] == 4.0
