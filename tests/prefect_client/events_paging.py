"""Pages through the events about one resource with the client's own paging: `read_events`
with a page size, then `EventPage.get_next_page` until it answers None, on the async client and
on the sync one. Prints one JSON line: for each client the total, the number of pages and the
event names in the order read.

Arguments: RESOURCE_ID PAGE_SIZE."""
import asyncio
import json
import sys

from prefect import get_client
from prefect.events.filters import EventFilter, EventResourceFilter

RESOURCE = sys.argv[1]
PAGE_SIZE = int(sys.argv[2])
FILTER = EventFilter(resource=EventResourceFilter(id=[RESOURCE]))


async def read_async():
    async with get_client() as client:
        page = await client.read_events(filter=FILTER, limit=PAGE_SIZE)
        found = {"total": page.total, "pages": 0, "names": []}
        while page is not None:
            found["pages"] += 1
            found["names"] += [e.event for e in page.events]
            page = await page.get_next_page(client)
        return found


def read_sync():
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=FILTER, limit=PAGE_SIZE)
        found = {"total": page.total, "pages": 0, "names": []}
        while page is not None:
            found["pages"] += 1
            found["names"] += [e.event for e in page.events]
            page = page.get_next_page_sync(client)
        return found


print(json.dumps({"async": asyncio.run(read_async()), "sync": read_sync()}))
