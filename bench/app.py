"""Benchmark: app start-up, first (cold) and repeated (warm) RAG answer, server peak memory.

Everything is measured from outside, as a user meets it: ``streamlit run app.py`` in a fresh
process on a free port, Debian's Chromium through Playwright.

- start-up: Popen -> ``/_stcore/health`` answers ``ok``; Popen -> home page rendered in
  Chromium (the "NLP Lab" heading and the device metric drawn). Baseline, same run: a one-line
  Streamlit app (``st.write("hello")``) measured the same way.
- first RAG answer, cold: a fresh server; click the first example question on Ask & compare and
  wait until the RAG column shows its latency caption. Includes loading the embedder and the
  generator (the GGUF conversion is done once before timing: it is a first-install cost,
  printed separately) and, in the "no KB" run, building the default knowledge base. The
  "prebuilt KB" run restarts the server on the same data directory. Base runs first on the
  page, so both times include the Base answer too (what the user waits for).
- warm: the same question again in the same browser session.
- memory: VmHWM (peak resident set) of the server process and its children from
  /proc/<pid>/status, after both models served answers. Baseline, same run: a bare Python
  process that only loads the same embedder and generator through core.loaders.

    .venv/bin/python bench/app.py          # ~2-3 minutes on a busy 2-core machine
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from core.launcher import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402

QUESTION = "In which town is Harrowmere Tide Instruments based?"
KIB = 1024


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set (VmHWM, KiB) of ``pid`` plus its live children (psutil walks them)."""
    import psutil

    total = 0
    for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, psutil.NoSuchProcess):
            continue
    return total


def time_start(browser, script: Path, env, log: Path,
               ready) -> tuple[float, float, StreamlitServer]:
    """(seconds to health ok, seconds to rendered in Chromium, running server)."""
    server = StreamlitServer(script, env, log)
    health = server.wait_healthy()
    page = browser.new_page()
    page.goto(server.url)
    ready(page)
    rendered = time.perf_counter() - server.started
    page.close()
    return health, rendered, server


def home_ready(page) -> None:
    page.get_by_role("heading", name="NLP Lab").wait_for(timeout=120_000)
    page.get_by_test_id("stMetricValue").first.wait_for(timeout=120_000)


def ask(page, url: str, *, first: bool) -> float:
    """Seconds from clicking the example question to the RAG column's latency caption."""
    if first:
        page.goto(url)
        page.get_by_role("heading", name="NLP Lab").wait_for(timeout=120_000)
        page.get_by_test_id("stSidebarNav").get_by_text("Ask & compare", exact=True).click()
    button = page.get_by_role("button", name=QUESTION)
    button.wait_for(timeout=120_000)
    rag = page.get_by_test_id("stColumn").filter(
        has=page.get_by_role("heading", name="RAG", exact=True)).last
    start = time.perf_counter()
    button.click()
    if not first:  # the previous answer stays on screen: wait for this run to start and end
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']",
                               state="attached", timeout=30_000)
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                               state="attached", timeout=600_000)
    rag.get_by_text("Latency").wait_for(timeout=600_000)
    return time.perf_counter() - start


def bare_loader_hwm(env) -> tuple[int, float]:
    """VmHWM (KiB) and seconds of a bare Python process loading embedder + generator."""
    code = ("import time; t=time.perf_counter()\n"
            "from core.settings import load_settings\n"
            "from core.loaders import load_embedder, load_generator\n"
            "s = load_settings(); load_embedder(s); load_generator(s)\n"
            "t = time.perf_counter() - t\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print(int(hwm.split()[1]), t)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1])


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="nlplab-bench-app-"))
    data = work / "appdata"
    env = {**os.environ, "NLPLAB_DATA_DIR": str(data), "NLPLAB_DEVICE": "cpu"}
    from core.settings import load_settings

    models = load_settings().models_dir  # the user's converted-model cache, reused
    env["NLPLAB_MODEL_CACHE"] = str(models)
    start = time.perf_counter()
    hwm_bare, bare_s = bare_loader_hwm(env)  # also converts SmolLM2 once if not cached
    print(f"bare loader process (first may include the one-time GGUF conversion into "
          f"{models}): {bare_s:.1f} s", file=sys.stderr)
    hello = work / "hello.py"
    hello.write_text('import streamlit as st\nst.write("hello")\n')

    rows: list[tuple[str, str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        servers: list[StreamlitServer] = []
        try:
            b_health, b_render, srv = time_start(
                browser, hello, env, work / "hello.log",
                lambda pg: pg.get_by_text("hello", exact=True).wait_for(timeout=60_000))
            srv.stop()
            a_health, a_render, srv = time_start(browser, ROOT / "app.py", env,
                                                 work / "app1.log", home_ready)
            servers.append(srv)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            cold_nokb = ask(page, srv.url, first=True)
            warm = ask(page, srv.url, first=False)
            hwm_app = vm_hwm_kib(srv.proc.pid)
            page.close()
            srv.stop()

            srv = StreamlitServer(ROOT / "app.py", env, work / "app2.log")
            servers.append(srv)
            srv.wait_healthy()
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            cold_kb = ask(page, srv.url, first=True)
            hwm_app_kb = vm_hwm_kib(srv.proc.pid)
            page.close()
        finally:
            for srv in servers:
                if srv.proc.poll() is None:
                    srv.stop()
            browser.close()

    rows += [
        ("start-up: Popen -> /_stcore/health ok", f"{a_health:.2f} s",
         f"{b_health:.2f} s ({a_health / b_health:.2f}x)"),
        ("start-up: Popen -> home page rendered in Chromium", f"{a_render:.2f} s",
         f"{b_render:.2f} s ({a_render / b_render:.2f}x)"),
        ("first answer, cold, no KB (loads models + builds default KB)", f"{cold_nokb:.1f} s",
         f"warm {warm:.1f} s ({cold_nokb / warm:.1f}x)"),
        ("first answer, cold, prebuilt KB (loads models)", f"{cold_kb:.1f} s",
         f"warm {warm:.1f} s ({cold_kb / warm:.1f}x)"),
        ("repeated answer, warm (same session)", f"{warm:.1f} s", ""),
        ("server peak RSS (VmHWM, with children), models loaded, KB built in-process",
         f"{hwm_app / KIB:.0f} MiB",
         f"bare loader {hwm_bare / KIB:.0f} MiB ({hwm_app / hwm_bare:.2f}x)"),
        ("server peak RSS (VmHWM, with children), models loaded, prebuilt KB",
         f"{hwm_app_kb / KIB:.0f} MiB",
         f"bare loader {hwm_bare / KIB:.0f} MiB ({hwm_app_kb / hwm_bare:.2f}x)"),
    ]
    print(f"\nNLP Lab app benchmark (CPU, {os.cpu_count()} cores; Base + RAG answers, "
          f"48 new tokens each, greedy; baseline = one-line Streamlit app / bare Python "
          f"process loading the same models)\n")
    print("| measure | NLP Lab | baseline (ratio) |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {' | '.join(r)} |")
    print(f"\ntotal bench time {time.perf_counter() - start:.0f} s; logs in {work}")


if __name__ == "__main__":
    main()
