"""The Fine-tune page's presenter (core.presenters.finetune): settings, job parameters and the
plan's cache key."""

from __future__ import annotations

import json

import pytest

from core.errors import UserError
from core.presenters import finetune as presenter


def test_a_fresh_state_gets_the_defaults_and_the_suggested_name(app_settings):
    state: dict = {}
    presenter.seed_state(state, app_settings, ["default"])
    name = f"default-{presenter.FinetuneForm().data_mode}"  # e.g. default-knowledge
    assert state["ft_kb"] == "default" and state["ft_name"] == name
    assert presenter.from_state(state) == presenter.FinetuneForm(name=name)


def test_saved_values_of_the_wrong_type_fall_back_to_defaults(app_settings):
    """epochs "3" (a string) is ignored; lr 1 (an int for a float, saved under the old name) is
    kept as learning_rate 1.0."""
    path = presenter.form_path(app_settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"epochs": "3", "lr": 1, "kb": "ops"}))
    form = presenter.load_form(app_settings)
    assert form.epochs == presenter.FinetuneForm().epochs
    assert form.learning_rate == 1.0 and isinstance(form.learning_rate, float) and form.kb == "ops"


def test_job_params_suggest_the_name_and_keep_the_chosen_documents(app_settings):
    form = presenter.FinetuneForm(kb="ops", name="My Adapter", documents=["a.md"], epochs=2)
    params = form.job_params(app_settings)
    assert params["name"] == "my-adapter" and params["documents"] == {"a.md"}
    assert params["lora"].epochs == 2 and params["kb"] == "ops"
    every = presenter.FinetuneForm(name="a", documents=[]).job_params(app_settings)
    assert every["documents"] is None
    with pytest.raises(UserError):
        presenter.FinetuneForm(name="../escape").job_params(app_settings)


@pytest.mark.parametrize("change, same", [
    ({"overwrite": True}, True),       # not part of the plan
    ({"name": "other"}, True),
    ({"batch_size": 2}, False),           # the recipe
    ({"documents": ["a.md"]}, False),     # the documents
    ({"kb": "ops"}, False),            # the knowledge base
])
def test_plan_key_changes_with_what_the_plan_depends_on_only(app_settings, change, same):
    base = presenter.FinetuneForm()
    other = presenter.FinetuneForm(**{**base.__dict__, **change})
    key = presenter.plan_key(app_settings, 3, base, base.lora())
    assert (presenter.plan_key(app_settings, 3, other, other.lora()) == key) is same


def test_plan_key_follows_a_rebuild_and_a_measured_speed(app_settings):
    from core.finetune import throughput

    form = presenter.FinetuneForm()
    key = presenter.plan_key(app_settings, 3, form, form.lora())
    assert presenter.plan_key(app_settings, 4, form, form.lora()) != key  # new kb version
    throughput.record_throughput(app_settings, 20.0, "probe", form.lora(), 400.0)
    assert presenter.plan_key(app_settings, 3, form, form.lora()) != key
