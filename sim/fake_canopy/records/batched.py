"""A firm's records for one bulk write (the admin seed): the core's `BatchStore`
plus the fake Canopy's server-wide record ids."""
from __future__ import annotations

from sim.core.batch import BatchStore
from sim.core.store import SERVER

from .. import firms


class FirmBatch(BatchStore):
    def new_record_id(self) -> str:
        """What `firms.new_record_id` gives, from the server-wide counter held here."""
        return str(self.next_counter(SERVER, firms.RECORD_COUNTER, firms.RECORD_START))
