"""Control API for tests and demos, under ``/_sandbox/`` (not part of TikTok's API, no auth).

It lets a test reset the sandbox, inspect the *real* member sets behind audiences, script faults,
manage tokens, tune timings and read the request log. Bodies of TikTok calls are never exposed:
the request log holds sizes and codes only.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from tiktok_sandbox.errors import REFUSALS
from tiktok_sandbox.state import Fault, SandboxState


class FaultSpec(BaseModel):
    """Body of ``POST /_sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description='TikTok endpoint suffix such as "dmp/custom_audience/update/", or "*"')
    code: int | None = Field(default=None, description="Envelope code to answer with (HTTP 200)")
    http_status: int | None = Field(default=None, ge=100, le=599, description="HTTP status to answer with")
    latency_seconds: float = Field(default=0.0, ge=0.0, le=120.0)
    malformed_json: bool = False
    times: int = Field(default=1, ge=1)
    after_processing: bool = Field(default=False, description="Perform the real operation, then fail")
    message: str | None = Field(default=None, description="Envelope message; a default is used when absent")
    refusal: Literal["busy", "too_few_matches"] | None = Field(
        default=None,
        description="One of TikTok's audience refusals with its code and wording (40002): busy = the audience "
        "is being updated or under processing; too_few_matches = created with fewer than 1000 matches",
    )


class TokenSpec(BaseModel):
    """Body of ``POST /_sandbox/tokens``."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1)
    advertiser_ids: list[str] | None = None
    scope: list[int] | None = None


class ConfigPatch(BaseModel):
    """Body of ``POST /_sandbox/config``: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    processing_seconds: float | None = Field(default=None, ge=0)
    match_rate: float | None = Field(default=None, ge=0, le=1)
    qps_limit: int | None = Field(default=None, ge=0)
    replace_cooldown_seconds: float | None = Field(default=None, ge=0)
    min_audience_size: int | None = Field(default=None, ge=0)
    file_ttl_seconds: float | None = Field(default=None, ge=0)
    auth_code_ttl_seconds: float | None = Field(default=None, ge=0)
    max_mapping_users: int | None = Field(default=None, ge=1)
    partner_api_enabled: bool | None = None
    phone_match_forms: list[Literal["e164", "digits"]] | None = Field(default=None, min_length=1)
    unknown_audience_get: Literal["absent", "invalid_id_error"] | None = Field(
        default=None, description='How get answers an unknown audience id: "absent" from list, or 40002'
    )
    busy_while_processing: bool | None = None
    refuse_updates_when_unmatched: bool | None = None


class PopulationSpec(BaseModel):
    """Body of ``POST /_sandbox/population``: TikTok users as groups of identifier hashes.

    Like ``/segment/mapping/``'s ``batch_data``: each user is one list with a hash (or null) per
    ``id_schema`` kind. Hashes only; the sandbox plays TikTok, which never sees raw identifiers.
    """

    model_config = ConfigDict(extra="forbid")

    id_schema: list[str] = Field(min_length=1, description="kinds: email, phone_e164, phone_digits, maid, maid_md5")
    users: list[list[str | None]] = Field(description="one list per user, aligned with id_schema")


def build_control_router(state: SandboxState) -> APIRouter:
    """Create the ``/_sandbox`` router bound to ``state``."""
    router = APIRouter(prefix="/_sandbox", tags=["Sandbox control"])

    @router.get("/health")
    def health() -> dict[str, bool]:
        """Liveness probe."""
        return {"ok": True}

    @router.post("/reset")
    def reset() -> dict[str, bool]:
        """Clear audiences, files, faults and the request log; restore tokens and config."""
        state.reset()
        return {"ok": True}

    @router.get("/audiences")
    def audiences() -> list[dict[str, Any]]:
        """Every audience since the last reset, deleted ones included."""
        return [
            {
                "audience_id": snapshot.audience_id,
                "advertiser_id": snapshot.advertiser_id,
                "name": snapshot.name,
                "audience_type": snapshot.audience_type,
                "calculate_type": snapshot.calculate_type,
                "member_count": snapshot.member_count,
                "is_valid": snapshot.is_valid,
                "cover_num": snapshot.cover_num,
                "deleted": snapshot.deleted,
                "lookalike_spec": snapshot.lookalike_spec,
            }
            for snapshot in state.all_audiences()
        ]

    @router.get("/audiences/{audience_id}/members")
    def members(audience_id: str) -> dict[str, dict[str, list[str]]]:
        """The audience's real member hashes, by identifier type (sorted)."""
        found = state.audience_members(audience_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"audience {audience_id} not found")
        return {"members": {id_type: sorted(values) for id_type, values in sorted(found.items())}}

    @router.post("/audiences/{audience_id}/finish_processing")
    def finish_processing(audience_id: str) -> dict[str, Any]:
        """End the audience's processing window now."""
        snapshot = state.finish_processing(audience_id)
        if snapshot is None:
            raise HTTPException(status_code=404, detail=f"audience {audience_id} not found")
        return {"audience_id": audience_id, "is_valid": snapshot.is_valid, "cover_num": snapshot.cover_num}

    @router.post("/faults")
    def add_fault(spec: FaultSpec) -> dict[str, Any]:
        """Queue a fault for matching TikTok requests."""
        values = spec.model_dump()
        refusal = values.pop("refusal")
        if refusal is not None:
            if values["code"] is not None or values["http_status"] is not None or values["malformed_json"]:
                raise HTTPException(status_code=422, detail="refusal sets the code and message: send no code, "
                                    "http_status or malformed_json with it")
            code, message = REFUSALS[refusal]
            values.update(code=code, message=values["message"] or message)
        state.add_fault(Fault(**values))
        return {"ok": True, "queued": [asdict(f) for f in state.faults()]}

    @router.get("/faults")
    def list_faults() -> list[dict[str, Any]]:
        """The queued faults."""
        return [asdict(f) for f in state.faults()]

    @router.delete("/faults")
    def clear_faults() -> dict[str, bool]:
        """Drop every queued fault."""
        state.clear_faults()
        return {"ok": True}

    @router.post("/tokens")
    def add_token(spec: TokenSpec) -> dict[str, Any]:
        """Register an access token (defaults: the configured advertisers and scope)."""
        config = state.config
        record = state.add_token(
            spec.token,
            spec.advertiser_ids if spec.advertiser_ids is not None else config.advertiser_ids,
            spec.scope if spec.scope is not None else config.scope,
        )
        return {"token": record.token, "advertiser_ids": list(record.advertiser_ids), "scope": list(record.scope)}

    @router.post("/tokens/{token}/revoke")
    def revoke_token(token: str) -> dict[str, bool]:
        """Revoke a token: later calls with it get 40105."""
        if state.revoke_token(token) is None:
            raise HTTPException(status_code=404, detail="token not found")
        return {"ok": True}

    @router.post("/config")
    def update_config(patch: ConfigPatch) -> dict[str, Any]:
        """Change run-time tunables."""
        try:
            config = state.update_config(patch.model_dump(exclude_none=True))
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return asdict(config)

    @router.get("/config")
    def read_config() -> dict[str, Any]:
        """The configuration in force."""
        return asdict(state.config)

    @router.post("/population")
    def register_population(spec: PopulationSpec) -> dict[str, Any]:
        """Register TikTok users; groups sharing a hash are one user. Every audience is re-matched."""
        try:
            return state.register_population(spec.id_schema, spec.users)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc

    @router.get("/population")
    def read_population() -> dict[str, Any]:
        """How many users and hashes are registered, and which phone forms match."""
        return state.population_summary()

    @router.delete("/population")
    def clear_population() -> dict[str, bool]:
        """Forget the registered users: every hash is its own one-identifier user again."""
        state.clear_population()
        return {"ok": True}

    @router.get("/requests")
    def requests_log() -> list[dict[str, Any]]:
        """Requests seen on TikTok and portal routes: method, path, status, code, sizes, time."""
        return [asdict(entry) for entry in state.request_log()]

    @router.get("/contract/violations")
    def contract_violations() -> list[dict[str, Any]]:
        """Requests that broke TikTok's contract since the last reset: endpoint, field, problem."""
        return [asdict(violation) for violation in state.contract_violations()]

    @router.delete("/requests")
    def clear_requests() -> dict[str, bool]:
        """Forget the request log."""
        state.clear_request_log()
        return {"ok": True}

    return router


def register_control_routes(app: FastAPI, state: SandboxState) -> None:
    """Mount the control API on ``app``."""
    app.include_router(build_control_router(state))
