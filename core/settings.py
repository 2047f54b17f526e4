"""Application settings read from environment variables, validated once.

Every path, model id and database location the app uses comes from here, so a GPU box, a hub
model, a remote LanceDB or a PostgreSQL feedback store plug in without code changes. The
variables are ``NLPLAB_*``; the object-storage endpoint, keys and region also read the standard
``AWS_*`` ones where their ``NLPLAB_LANCEDB_*`` one is unset. This module only reads and
validates; it loads nothing.

Example:
    >>> import os
    >>> os.environ["NLPLAB_DEVICE"] = "cpu"
    >>> load_settings().device
    'cpu'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from core.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO_ROOT / "assets"

#: Offline defaults: models shipped inside PyPI packages (see README, "Models").
BUILTIN_EMBEDDER = "builtin:all-minilm-l6-v2"
BUILTIN_GENERATOR = "builtin:smollm2-135m-instruct"
BUILTIN_CLASSIFIER = "builtin:all-minilm-l6-v2"
BUILTIN_EMOJI = "builtin:nade-emoji"

DEVICES = ("auto", "cpu", "cuda", "mps")
GENERATOR_DTYPES = ("auto", "float32", "bfloat16", "int8")  # core.devices.generator_dtype
ENV_PREFIX = "NLPLAB_"


@dataclass(frozen=True)
class Settings:
    """Validated settings; build with :func:`load_settings` (env) or directly in tests."""

    data_dir: Path = field(
        default=REPO_ROOT / ".appdata",
        metadata={"env": "DATA_DIR", "help": "Model caches, indexes, adapters, feedback DB."},
    )
    embedding_model: str = field(
        default=BUILTIN_EMBEDDER,
        metadata={"env": "EMBEDDING_MODEL", "help": "sentence-transformers hub id or path."},
    )
    generator_model: str = field(
        default=BUILTIN_GENERATOR,
        metadata={"env": "GENERATOR_MODEL", "help": "Causal LM or seq2seq hub id or path."},
    )
    classifier_model: str = field(
        default=BUILTIN_CLASSIFIER,
        metadata={"env": "CLASSIFIER_MODEL", "help": "Encoder to fine-tune for emotions."},
    )
    emoji_model: str = field(
        default=BUILTIN_EMOJI,
        metadata={"env": "EMOJI_MODEL",
                  "help": "fastText emoji predictor whose probabilities the TF-IDF emotion "
                          "models read: builtin:nade-emoji or a .ftz/.bin file."},
    )
    device: str = field(
        default="auto", metadata={"env": "DEVICE", "help": "auto|cpu|cuda|mps."}
    )
    generator_dtype: str = field(
        default="auto",
        metadata={"env": "GENERATOR_DTYPE",
                  "help": "auto|float32|bfloat16|int8: generator weights (auto: int8 weights "
                          "with bf16 activations on CPUs with native bf16, else the device's "
                          "dtype)."},
    )
    warm_up: int = field(
        default=1,
        metadata={"env": "WARM_UP",
                  "help": "1: the app loads and runs the embedder and generator in the "
                          "background when the server starts; 0: on first use."},
    )
    first_adapter: int = field(
        default=1,
        metadata={"env": "FIRST_ADAPTER",
                  "help": "1: when the server starts and the default knowledge base has no "
                          "adapter yet, train one in the background (the knowledge recipe "
                          "within NLPLAB_FIRST_ADAPTER_MINUTES), so the fine-tuned columns "
                          "answer on a first visit; 0: only when asked."},
    )
    first_adapter_minutes: float = field(
        default=5.0,
        metadata={"env": "FIRST_ADAPTER_MINUTES",
                  "help": "Training budget of the first-start adapter (minutes)."},
    )
    lancedb_uri: str = field(
        default="",
        metadata={"env": "LANCEDB_URI", "help": "LanceDB URI; empty = <data_dir>/lancedb."},
    )
    feedback_db_url: str = field(
        default="",
        metadata={"env": "FEEDBACK_DB_URL", "help": "SQLAlchemy URL; empty = SQLite in data_dir."},
    )
    model_cache_dir: str = field(
        default="",
        metadata={"env": "MODEL_CACHE", "help": "Converted models; empty = <data_dir>/models."},
    )
    max_upload_mb: int = field(
        default=50, metadata={"env": "MAX_UPLOAD_MB", "help": "Largest accepted upload (MB)."}
    )

    feedback_compare_limit: int = field(
        default=8,
        metadata={"env": "FEEDBACK_COMPARE_LIMIT",
                  "help": "Questions in a feedback before/after comparison (test split)."},
    )

    # -- a remote OpenAI-compatible model server (vLLM, TGI, Ollama, `transformers serve`) --
    generator_url: str = field(
        default="",
        metadata={"env": "GENERATOR_URL",
                  "help": "OpenAI-compatible server base URL (e.g. http://gpu:8000/v1); empty = "
                          "the generator runs in this process."},
    )
    generator_api_key: str = field(
        default="", repr=False, metadata={"env": "GENERATOR_API_KEY", "secret": True,
                              "help": "API key sent to the model server (empty = none)."},
    )
    generator_served_model: str = field(
        default="",
        metadata={"env": "GENERATOR_SERVED_MODEL",
                  "help": "Model name on the server; empty = NLPLAB_GENERATOR_MODEL if the "
                          "server lists it (or its list fails), else its only model."},
    )
    generator_timeout: float = field(
        default=120.0,
        metadata={"env": "GENERATOR_TIMEOUT", "help": "Seconds one server request may take."},
    )
    generator_connect_timeout: float = field(
        default=5.0,
        metadata={"env": "GENERATOR_CONNECT_TIMEOUT",
                  "help": "Seconds to wait for a connection to the model server."},
    )
    generator_max_retries: int = field(
        default=1,
        metadata={"env": "GENERATOR_MAX_RETRIES",
                  "help": "Retries of a failed server request (connection errors, 429, 5xx)."},
    )
    # -- LanceDB on object storage (NLPLAB_LANCEDB_URI=s3://bucket/path) --------------------
    # Unset, each of these four reads the standard AWS variable(s) in "aws_env", first set wins.
    lancedb_endpoint: str = field(
        default="",
        metadata={"env": "LANCEDB_ENDPOINT", "aws_env": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
                  "help": "S3-compatible endpoint URL (MinIO, moto, R2); empty = "
                          "AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS."},
    )
    lancedb_key_id: str = field(
        default="", metadata={"env": "LANCEDB_KEY_ID", "aws_env": ("AWS_ACCESS_KEY_ID",),
                              "help": "Object storage access key id; empty = AWS_ACCESS_KEY_ID."},
    )
    lancedb_secret: str = field(
        default="", repr=False,
        metadata={"env": "LANCEDB_SECRET", "secret": True, "aws_env": ("AWS_SECRET_ACCESS_KEY",),
                  "help": "Object storage secret access key; empty = AWS_SECRET_ACCESS_KEY."},
    )
    lancedb_region: str = field(
        default="", metadata={"env": "LANCEDB_REGION",
                              "aws_env": ("AWS_REGION", "AWS_DEFAULT_REGION"),
                              "help": "Object storage region; empty = AWS_REGION / "
                                      "AWS_DEFAULT_REGION."},
    )
    lancedb_allow_http: bool = field(
        default=False,
        metadata={"env": "LANCEDB_ALLOW_HTTP",
                  "help": "true = allow a plain-http endpoint (local emulators only)."},
    )

    # --- shared demo (core/access.py, docs/demo.md) ---
    mode: str = field(
        default="full",
        metadata={"env": "MODE", "help": "full: everything allowed (local run); demo: visitors "
                  "ask, rate and look; building, uploads, training, deletes, exports need admin."},
    )
    admin_password: str = field(
        default="", repr=False,
        metadata={"env": "ADMIN_PASSWORD", "secret": True,
                  "help": "Demo admin password (empty = password sign-in off)."},
    )
    admin_emails: str = field(
        default="",
        metadata={"env": "ADMIN_EMAILS",
                  "help": "Comma-separated e-mails that are admin after st.login (OIDC)."},
    )
    questions_per_minute: int = field(
        default=10,
        metadata={"env": "QUESTIONS_PER_MINUTE", "help": "Demo: questions per minute per session."},
    )
    feedback_retention_days: int = field(
        default=0,
        metadata={"env": "FEEDBACK_RETENTION_DAYS",
                  "help": "Delete feedback older than N days on start and by `feedback purge`; "
                          "0 = keep all."},
    )

    def __post_init__(self) -> None:
        if self.generator_url and not self.generator_url.startswith(("http://", "https://")):
            raise UserError(f"{ENV_PREFIX}GENERATOR_URL must start with http:// or https://, "
                            f"got {self.generator_url!r}")
        for name, env in (("generator_timeout", "GENERATOR_TIMEOUT"),
                          ("generator_connect_timeout", "GENERATOR_CONNECT_TIMEOUT")):
            if not 0 < getattr(self, name) <= 3600:
                raise UserError(f"{ENV_PREFIX}{env} must be in (0, 3600] seconds, "
                                f"got {getattr(self, name)}")
        if not 0 <= self.generator_max_retries <= 10:
            raise UserError(f"{ENV_PREFIX}GENERATOR_MAX_RETRIES must be 0..10, "
                            f"got {self.generator_max_retries}")
        if self.mode not in ("full", "demo"):
            raise UserError(f"{ENV_PREFIX}MODE must be full or demo, got {self.mode!r}")
        if not 1 <= self.questions_per_minute <= 10_000:
            raise UserError(f"{ENV_PREFIX}QUESTIONS_PER_MINUTE must be between 1 and 10000, "
                            f"got {self.questions_per_minute}")
        if not 0 <= self.feedback_retention_days <= 100_000:
            raise UserError(f"{ENV_PREFIX}FEEDBACK_RETENTION_DAYS must be between 0 and 100000, "
                            f"got {self.feedback_retention_days}")
        if not 1 <= self.feedback_compare_limit <= 100_000:
            raise UserError(f"{ENV_PREFIX}FEEDBACK_COMPARE_LIMIT must be between 1 and 100000, "
                            f"got {self.feedback_compare_limit}")
        if self.device not in DEVICES:
            raise UserError(
                f"{ENV_PREFIX}DEVICE must be one of {'|'.join(DEVICES)}, got {self.device!r}"
            )
        if self.generator_dtype not in GENERATOR_DTYPES:
            raise UserError(f"{ENV_PREFIX}GENERATOR_DTYPE must be one of "
                            f"{'|'.join(GENERATOR_DTYPES)}, got {self.generator_dtype!r}")
        if self.first_adapter not in (0, 1):
            raise UserError(f"{ENV_PREFIX}FIRST_ADAPTER must be 0 or 1, got {self.first_adapter}")
        if not 0 < self.first_adapter_minutes <= 1440:
            raise UserError(f"{ENV_PREFIX}FIRST_ADAPTER_MINUTES must be in (0, 1440], "
                            f"got {self.first_adapter_minutes}")
        if self.warm_up not in (0, 1):
            raise UserError(f"{ENV_PREFIX}WARM_UP must be 0 or 1, got {self.warm_up}")
        for name in ("embedding_model", "generator_model", "classifier_model", "emoji_model"):
            if not str(getattr(self, name)).strip():
                env = ENV_PREFIX + _field_env(name)
                raise UserError(f"{env} must name a model (hub id, path or builtin:...), got ''")
        if not 1 <= self.max_upload_mb <= 10_000:
            raise UserError(
                f"{ENV_PREFIX}MAX_UPLOAD_MB must be between 1 and 10000, got {self.max_upload_mb}"
            )

    @property
    def models_dir(self) -> Path:
        """Converted model folders (e.g. SmolLM2 from GGUF) live here."""
        return Path(self.model_cache_dir).expanduser() if self.model_cache_dir else (
            self.data_dir / "models")

    @property
    def lancedb_location(self) -> str:
        """Where LanceDB tables live: the configured URI or a folder in the data directory."""
        return self.lancedb_uri or str(self.data_dir / "lancedb")

    @property
    def lancedb_storage_options(self) -> dict[str, str]:
        """``storage_options`` for ``lancedb.connect`` (object-store keys); {} when none set.

        Example: endpoint ``http://127.0.0.1:9000`` with allow-http gives
        ``{"aws_endpoint": "http://127.0.0.1:9000", "allow_http": "true"}``.
        """
        pairs = (("aws_endpoint", self.lancedb_endpoint),
                 ("aws_access_key_id", self.lancedb_key_id),
                 ("aws_secret_access_key", self.lancedb_secret),
                 ("aws_region", self.lancedb_region),
                 ("allow_http", "true" if self.lancedb_allow_http else ""))
        return {k: v for k, v in pairs if v}

    @property
    def feedback_url(self) -> str:
        """SQLAlchemy URL of the feedback store (SQLite file by default)."""
        return self.feedback_db_url or f"sqlite:///{self.data_dir / 'feedback.sqlite3'}"

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


def _field_env(name: str) -> str:
    for f in fields(Settings):
        if f.name == name:
            return f.metadata["env"]
    raise KeyError(name)


def describe_settings() -> list[dict[str, str]]:
    """One row per setting: env var, default and help text (for the README and `info`)."""
    return [
        {"env": ENV_PREFIX + f.metadata["env"], "default": str(f.default),
         "help": f.metadata["help"]}
        for f in fields(Settings)
    ]


def _variable(f, env) -> str:
    """The variable that sets field ``f``: its ``NLPLAB_*`` one, or when that is unset (or
    empty) the first set of its standard fall-backs (``aws_env``), else the ``NLPLAB_*`` one.

    Example: only ``AWS_DEFAULT_REGION`` set -> ``lancedb_region`` reads it; with
    ``NLPLAB_LANCEDB_REGION`` or ``AWS_REGION`` also set, that one wins.
    """
    var = ENV_PREFIX + f.metadata["env"]
    if env.get(var):
        return var
    return next((name for name in f.metadata.get("aws_env", ()) if env.get(name)), var)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read ``NLPLAB_*`` variables (and, for object storage, the standard ``AWS_*`` ones where
    the ``NLPLAB_LANCEDB_*`` ones are unset); unset ones keep their defaults.

    Raises UserError naming the variable and value when one is malformed.
    """
    env = os.environ if environ is None else environ
    kwargs: dict[str, object] = {}
    for f in fields(Settings):
        var = _variable(f, env)
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        raw = raw.strip()
        if f.type == "int" or f.type is int:
            try:
                kwargs[f.name] = int(raw)
            except ValueError:
                raise UserError(f"{var} must be a whole number, got {raw!r}") from None
        elif f.type == "float" or f.type is float:
            try:
                kwargs[f.name] = float(raw)
            except ValueError:
                raise UserError(f"{var} must be a number, got {raw!r}") from None
        elif f.type == "bool" or f.type is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise UserError(f"{var} must be true or false, got {raw!r}")
            kwargs[f.name] = raw.lower() in ("true", "1", "yes")
        elif f.name == "data_dir":
            kwargs[f.name] = Path(raw).expanduser()
        elif f.metadata.get("secret"):
            kwargs[f.name] = env.get(var)  # a password keeps its spaces
        else:
            kwargs[f.name] = raw
    return Settings(**kwargs)
