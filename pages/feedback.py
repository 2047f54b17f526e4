"""Feedback dashboard: what the thumbs say per mode and model, exports, and learning from them."""

from datetime import UTC, datetime

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.adapters import AdapterRegistry
from core.errors import UserError
from core.feedback import export, stats
from core.feedback.learn import LearnConfig, learn_from_feedback, plan_training
from core.jobs import REGISTRY
from core.settings import load_settings
from core.st_cache import get_feedback_store
from pages._job_panel import job_panel

st.title("Feedback dashboard")
st.caption("Every thumbs up/down in the app is a reward signal (+1/-1). This page shows what "
           "they say per mode and model, exports them for preference training (KTO/DPO) and "
           "trains a new LoRA adapter from them.")

try:
    store = get_feedback_store()
    records, prefs = store.list_outputs(), store.list_preferences()
except UserError as exc:
    st.error(f"The feedback database cannot be opened: {exc}")
    st.stop()

rated = [r for r in records if r.rating is not None]
n_up = sum(r.rating == "up" for r in rated)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Answers stored", len(records))
c2.metric("Rated", len(rated))
c3.metric("Thumbs-up rate", f"{n_up / len(rated):.0%}" if rated else "–")
c4.metric("A/B preferences", len(prefs))
if not records:
    st.info("No feedback yet. Rate answers on **Ask & compare** or **Tweet emotions** "
            "(👍/👎 under each answer); they appear here.")

overview, table, drill, downloads, learn = st.tabs(
    ["Overview", "Rated items", "Question drill-down", "Export", "Learn from feedback"])

with overview:
    by = st.radio("Group by", ["mode", "model"], horizontal=True, key="fb_group_by",
                  format_func={"mode": "mode", "model": "model / adapter"}.get)
    key = (lambda r: r.mode) if by == "mode" else stats.model_label
    st.subheader("Reward over time")
    rot = stats.reward_over_time(records, by=by)
    if rot.empty:
        st.caption("No ratings yet.")
    else:
        fig = px.line(rot, x="time", y="cumulative_mean", color="group", markers=True,
                      hover_data=["ratings", "mean_reward"],
                      labels={"cumulative_mean": "running mean reward (+1 up, −1 down)"})
        fig.update_yaxes(range=[-1.05, 1.05])
        st.plotly_chart(fig, width="stretch")
    st.subheader("Thumbs-up rate (95 % Wilson interval)")
    rates = stats.up_rates(rated, key=key)
    if rates:
        fig = go.Figure(go.Bar(
            x=[r["group"] for r in rates], y=[r["up_rate"] for r in rates],
            error_y={"type": "data", "symmetric": False,
                     "array": [r["wilson_high"] - r["up_rate"] for r in rates],
                     "arrayminus": [r["up_rate"] - r["wilson_low"] for r in rates]},
            text=[f"{r['up']}/{r['n']}" for r in rates]))
        fig.update_yaxes(range=[0, 1], title="share of thumbs-up")
        st.plotly_chart(fig, width="stretch")
        st.caption("Wilson score interval (Wilson 1927), z = 1.96. Overlapping bars: the "
                   "difference may be noise; collect more ratings.")
    st.subheader("Pairwise win rates")
    wins = stats.win_rates(prefs, {r.id: r for r in records}, key=key)
    if wins:
        st.dataframe(wins, hide_index=True, width="stretch")
    else:
        st.caption("No A/B preferences between different groups yet.")

with table:
    df = stats.records_frame(records)
    f1, f2, f3, f4 = st.columns([2, 1, 2, 3])
    modes = f1.multiselect("Mode", sorted(df["mode"].unique()), key="fb_f_modes")
    rating = f2.selectbox("Rating", ["all", "up", "down", "unrated"], key="fb_f_rating")
    pages = f3.multiselect("Page", sorted(df["page"].unique()), key="fb_f_pages")
    search = f4.text_input("Search prompt, answer or comment (plain text)", key="fb_f_search")
    shown = stats.filter_records(df, modes=modes, rating=rating, pages=pages, search=search)
    st.caption(f"{len(shown)} of {len(df)} answers")
    text = st.column_config.TextColumn  # rows taller than 4rem wrap their text
    st.dataframe(shown, hide_index=True, width="stretch", row_height=84, column_order=[
        "prompt", "output", "rating", "comment", "mode", "model", "page", "reward",
        "latency_seconds", "id", "created_at", "updated_at", "session_id"], column_config={
        "prompt": text(width="medium"), "output": text("answer", width="large"),
        "comment": text(width="medium")})

with drill:
    prompts = (stats.records_frame(records).groupby("prompt").size()
               .sort_values(ascending=False))
    if prompts.empty:
        st.caption("Nothing to drill into yet.")
    else:
        question = st.selectbox("Question", list(prompts.index), key="fb_drill_prompt",
                                format_func=lambda p: f"({prompts[p]}) {p[:120]}")
        st.text(question)  # plain text: user input is never rendered as markdown or HTML
        answers = [r for r in records if r.prompt == question]
        for r in answers:
            with st.container(border=True):
                mark = {"up": "👍", "down": "👎"}.get(r.rating or "", "not rated")
                st.caption(f"#{r.id} · {r.mode} · {stats.model_label(r)} · {mark} · "
                           f"{r.created_at:%Y-%m-%d %H:%M} UTC")
                st.text(r.output)
                if r.comment:
                    st.text(f"Comment: {r.comment}")
        ids = {r.id for r in answers}
        linked = [p.to_dict() for p in prefs if p.output_a_id in ids or p.output_b_id in ids]
        if linked:
            st.write("Preferences between these answers")
            st.dataframe(linked, hide_index=True, width="stretch")

with downloads:
    st.write("Raw records (every field) and training files that `datasets.load_dataset` "
             "and TRL read. Same as `python -m core feedback export --format … --out FILE`.")
    cols = st.columns(4)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    for col, fmt in zip(cols, export.FORMATS, strict=True):
        ext = "csv" if fmt == "csv" else "jsonl"
        col.download_button(
            f"{fmt.upper()} ({export.count_rows(fmt, records, prefs)} rows)",
            data=export.render(fmt, records, prefs), file_name=f"feedback-{fmt}-{stamp}.{ext}",
            mime="text/csv" if fmt == "csv" else "application/jsonl", key=f"fb_dl_{fmt}")

fb_metrics = ("exact_match", "f1", "mc_accuracy", "relevance", "grounding_overlap")

with learn:
    settings = load_settings()
    st.write("Train a NEW LoRA adapter on the ratings: KTO (unpaired thumbs, weighted for "
             "imbalanced up/down counts) or DPO (A/B pairs). It is saved under "
             f"`{settings.data_dir / 'adapters'}` with the feedback snapshot it learned from.")
    l1, l2, l3, l4 = st.columns([2, 2, 1, 1])
    name = l1.text_input("New adapter name", value=f"feedback-{stamp}", key="fb_learn_name")
    none = "(none: start from the base model)"
    names = [a["name"] for a in AdapterRegistry.of(settings).list()]
    base = l2.selectbox("Start from adapter", [none, *names], key="fb_learn_base")
    method = l3.selectbox("Method", ["auto", "kto", "dpo"], key="fb_learn_method")
    steps = l4.number_input("Steps", 1, 2000, 10, key="fb_learn_steps")
    refusal = None
    try:
        config = LearnConfig(adapter=name, method=method, max_steps=int(steps))
        plan = plan_training(rated, prefs, config)
        st.info(f"Ready: {plan.method.upper()} on {len(plan.examples)} examples "
                f"({plan.counts['up']} up, {plan.counts['down']} down, "
                f"{plan.counts['pairs']} pairs).")
    except UserError as exc:
        refusal = str(exc)
        st.warning(refusal)
    session = str(st.session_state.get("session_id", "anonymous"))
    learn_job = REGISTRY.get(session, "fb-learn")
    if st.button("Learn from feedback", type="primary",
                 disabled=refusal is not None or (learn_job is not None and learn_job.running),
                 key="fb_learn_go", help="Runs in the background; you can leave this page."):
        from core.st_cache import get_generator

        def work(job, config=config, base=None if base == none else base):
            return learn_from_feedback(
                store, get_generator(), settings, config, base_adapter=base,
                progress=job.progress, cancel=job.cancel,
                on_loss=lambda step, loss: job.step(step, config.max_steps, loss))

        REGISTRY.start(session, "fb-learn", work)

    def _keep_learn_result(snap: dict) -> None:
        if snap["error"] is None:
            st.session_state["fb_learn_result"] = snap["result"]

    job_panel(lambda: REGISTRY.get(session, "fb-learn"), key="fb_learn",
              title="Learning from feedback", on_done=_keep_learn_result,
              cancel_note="Stops after the current step; no adapter is saved.")
    result = st.session_state.get("fb_learn_result")
    if result is not None:
        st.success(f"Adapter {result.adapter!r} saved: {result.method.upper()}, "
                   f"{result.records} examples, train loss {result.train_loss:.4f}, "
                   f"{result.seconds:.1f} s.")
        if result.losses:
            st.plotly_chart(px.line(result.losses, x="step", y="loss", markers=True,
                                    title="Training loss"), width="stretch")
        with st.expander("Adapter metadata (feedback snapshot)"):
            st.json(result.metadata)
    st.subheader("Before / after")
    st.write("Did feedback help? A feedback-trained adapter and its previous version (the "
             "adapter it continued from, or the base model when it started fresh) answer the "
             "same test-split questions of the default QA set, scored by the evaluation of the "
             "**Evaluate** page (exact match, token F1, multiple-choice log-likelihood accuracy, "
             "embedding relevance, latency). Same as `python -m core feedback compare`.")
    fb_names = [a["name"] for a in AdapterRegistry.of(settings).list()
                if a.get("source") == "feedback"]
    if not fb_names:
        st.caption("No adapter trained from feedback yet: learn one above.")
    else:
        last = result.adapter if result is not None and result.adapter in fb_names else None
        b1, b2, b3 = st.columns([2, 1, 2])
        cmp_adapter = b1.selectbox("Adapter trained from feedback", fb_names,
                                   index=fb_names.index(last) if last else 0,
                                   key="fb_cmp_adapter")
        limit = b2.number_input("Questions", 1, 10_000, settings.feedback_compare_limit,
                                key="fb_cmp_limit",
                                help="First N test-split questions (NLPLAB_FEEDBACK_COMPARE_LIMIT)")
        cmp_modes = b3.multiselect("Modes", ["finetuned", "finetuned+rag"],
                                   default=["finetuned"], key="fb_cmp_modes",
                                   help="finetuned+rag also retrieves from the default "
                                        "knowledge base (its 'before' is RAG without adapter)")
        if st.button("Compare before / after", key="fb_cmp_go", disabled=not cmp_modes):
            from core.evaluation import versions as fb_compare
            from core.st_cache import get_embedder, get_generator, get_rag_store

            cmp_bar = st.progress(0.0, text="starting…")
            try:
                items = fb_compare.default_items(int(limit))
                st.session_state["fb_cmp_result"] = fb_compare.compare_versions(
                    settings, cmp_adapter, items, cmp_modes, generator=get_generator(),
                    embedder=get_embedder(), store=get_rag_store(),
                    progress=lambda f, m: cmp_bar.progress(min(1.0, f), text=m))
            except UserError as exc:
                st.error(str(exc))
    out = st.session_state.get("fb_cmp_result")
    if out is not None:
        st.success(f"Before: {out['before']['label']} · after: {out['after']['label']} · "
                   f"{out['n']} questions.")
        for mode in out["modes"]:
            before, after = out["before"]["modes"][mode], out["after"]["modes"][mode]
            bars = [{"metric": m, "version": f"{side}: {label}", "value": agg[m]}
                    for side, label, agg in (("before", out["before"]["label"], before),
                                             ("after", out["after"]["label"], after))
                    for m in fb_metrics if agg.get(m) is not None]
            if bars:
                fig = px.bar(bars, x="metric", y="value", color="version", barmode="group",
                             title=f"{mode}: before vs after")
                fig.update_yaxes(range=[0, 1], title="score (fraction)")
                st.plotly_chart(fig, width="stretch", key=f"fb_cmp_chart_{mode}")
            st.dataframe([{"metric": m, "before": before.get(m), "after": after.get(m),
                           "delta (after - before)": out["delta"][mode][m]}
                          for m in (*fb_metrics, "seconds_per_question")],
                         hide_index=True, width="stretch", key=f"fb_cmp_delta_{mode}")
        st.write("Answers, question by question")
        st.dataframe([{"mode": q["mode"], "question": q["question"], "gold": q["gold"],
                       "before": q["before"], "after": q["after"],
                       "F1 before": q["before_f1"], "F1 after": q["after_f1"]}
                      for q in out["questions"]], hide_index=True, width="stretch",
                     key="fb_cmp_questions")
