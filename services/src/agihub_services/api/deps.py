"""Annotated FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from agihub_services.api.settings import ApiSettings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> ApiSettings:
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
