"""Purposes of use live in `confide.core.purposes` (policy and consent name them too, below the
door); this module keeps the door's own import path."""

from confide.core.purposes import Purpose

__all__ = ["Purpose"]
