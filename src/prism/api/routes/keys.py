"""/v1/keys: create (secret shown once), list, revoke."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends

from prism.api.deps import EngineContext, context, principal
from prism.api.schemas import ERRORS, ErrorBody, KeyCreate, KeyCreated, KeyItem, KeyList
from prism.errors import Forbidden, NotFound
from prism.store.keys import Principal

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERRORS)


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    responses={403: {"model": ErrorBody, "description": "Needs an admin key of that org"}},
)
def create_key(
    body: KeyCreate, ctx: EngineContext = Depends(context), who: Principal = Depends(principal)
) -> KeyCreated:
    """Admins create keys for developers of their org."""
    if not who.is_admin:
        raise Forbidden("Creating keys needs an admin key")
    own_org = ctx.keys.org_name(who.org_id)
    if body.org is not None and body.org != own_org:
        raise Forbidden("Admin keys manage keys of their own org only")
    new = ctx.keys.create_key(
        developer=body.developer, org=own_org, scope=body.scope, name=body.name
    )
    return KeyCreated(**asdict(new))


@router.get("", response_model=KeyList)
def list_keys(
    ctx: EngineContext = Depends(context), who: Principal = Depends(principal)
) -> KeyList:
    """Admins see their org's keys; developers their own. Never the secret."""
    keys = ctx.keys.list_keys(org_id=who.org_id)
    if not who.is_admin:
        keys = [k for k in keys if k.developer_id == who.developer_id]
    return KeyList(keys=[KeyItem(**{f: getattr(k, f) for f in KeyItem.model_fields}) for k in keys])


@router.delete("/{key_id}", response_model=KeyItem)
def revoke_key(
    key_id: str, ctx: EngineContext = Depends(context), who: Principal = Depends(principal)
) -> KeyItem:
    """Revoke now: the next request with that key gets 401."""
    if not who.is_admin:
        own = {
            k.id
            for k in ctx.keys.list_keys(org_id=who.org_id)
            if k.developer_id == who.developer_id
        }
        if key_id not in own:
            raise NotFound("No such API key")
    info = ctx.keys.revoke_key(key_id, org_id=who.org_id)
    return KeyItem(**{f: getattr(info, f) for f in KeyItem.model_fields})
