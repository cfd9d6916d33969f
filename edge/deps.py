"""What every HTTP route depends on: the services set on the app at start-up (the Temporal client, the database,
the document store, the keys), and the caller checked at the door, by what they may be."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from edge import auth
from edge.auth import Caller
from edge.services import Services, services_of

SERVICES = Annotated[Services, Depends(services_of)]
STAFF = Annotated[Caller, Depends(auth.staff)]
CHANNEL = Annotated[Caller, Depends(auth.channel)]
ANYONE = Annotated[Caller, Depends(auth.authenticate)]
REPORTER = Annotated[Caller, Depends(auth.channel_or_staff)]
