"""Placeholder."""

from fastapi import APIRouter

router = APIRouter(prefix="/ui/spaces/{space_id}")
