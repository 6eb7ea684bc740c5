"""Server events for administrators (spec A.2.8, B.11). Global: never scoped to a domain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, created_at_column


class Notification(Base):
    __tablename__ = "client_notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()
    message: Mapped[str] = mapped_column(Text)
    checked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
