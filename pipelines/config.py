"""The migration config (YAML → typed models): sources, journal, identity, gates, waves.

Relative paths resolve against the config file's folder, so a config travels with its
data; `${VAR}` and `${VAR:-default}` pull secrets such as database passwords from the
environment instead of the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.registry import SourceConfig

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A config that cannot be used, with the file and the field in the message."""


class IdentityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_match: float = Field(
        default=0.999, ge=0, le=1, description="Match probability at or above which a pair links."
    )
    review: float = Field(
        default=0.5, ge=0, le=1, description="Match probability at or above which a steward reviews a pair."
    )
    source_trust: list[str] = Field(
        default_factory=list,
        description="Survivorship order: earlier sources win a field of the golden record.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> IdentityConfig:
        if self.review > self.auto_match:
            raise ValueError("identity.review must not be above identity.auto_match")
        return self


class ValidationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suites: str | None = Field(
        default=None, description="Folder of GX suite JSON files; default: the packaged suites."
    )


class Wave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    sources: list[str]


class MigrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    workdir: Path = Field(default=Path("."), description="Run workspaces go under here.")
    journal_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<workdir>/journal.db."
    )
    sources: list[SourceConfig]
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    waves: list[Wave] = Field(default_factory=list)

    config_path: Path | None = Field(default=None, exclude=True)
    config_sha256: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> MigrationConfig:
        names = [source.name for source in self.sources]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"source names must be unique; repeated: {duplicated}")
        for wave in self.waves:
            unknown = sorted(set(wave.sources) - set(names))
            if unknown:
                raise ValueError(f"wave {wave.name!r} names unknown sources {unknown}")
        return self

    @property
    def journal(self) -> str:
        return self.journal_url or f"sqlite:///{(self.workdir / 'journal.db').resolve()}"

    def source(self, name: str) -> SourceConfig:
        return next(source for source in self.sources if source.name == name)


def load_config(path: str | Path) -> MigrationConfig:
    """Read, interpolate, validate and resolve a migration config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the migration config ({error.strerror})") from error
    try:
        data = _interpolate(yaml.safe_load(text), path)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a migration config is a mapping with 'name' and 'sources'")
    try:
        config = MigrationConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{path}: {problems}") from error
    return _resolved(config, path, text)


def _interpolate(data: Any, path: Path) -> Any:
    """`${VAR}` in string values (not in comments or keys) from the environment."""

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set")

    if isinstance(data, str):
        return ENV_REFERENCE.sub(replace, data)
    if isinstance(data, dict):
        return {key: _interpolate(value, path) for key, value in data.items()}
    if isinstance(data, list):
        return [_interpolate(value, path) for value in data]
    return data


def _resolved(config: MigrationConfig, path: Path, text: str) -> MigrationConfig:
    base = path.parent.resolve()

    def local(value: str) -> str:
        if value.startswith("sqlite:///") and not Path(value.removeprefix("sqlite:///")).is_absolute():
            return f"sqlite:///{base / value.removeprefix('sqlite:///')}"
        return str(base / value) if "://" not in value and not Path(value).is_absolute() else value

    sources = [source.model_copy(update={"location": local(source.location)}) for source in config.sources]
    journal = config.journal_url and local(config.journal_url)
    return config.model_copy(
        update={
            "journal_url": journal,
            "sources": sources,
            "workdir": base / config.workdir,
            "config_path": path.resolve(),
            "config_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        }
    )
