"""Audience files: the typed definitions, their YAML loading and validation (pure Python, no Airflow)."""

from tiktok_audiences.definitions.files import AudienceDefinition, LookalikeDefinition

__all__ = ["AudienceDefinition", "LookalikeDefinition"]
