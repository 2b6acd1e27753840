"""Rendered checkout pages, reused while nothing they show has changed.

A page is filed under the viewer's locale and the versions of every row it shows: the
order's version counter (it goes up with every change to the order) and the service's and
provider's `updated_at`. Any change to any of them makes a new key, so a stale page is never
served; each web process keeps its own bounded copy. Orders of payment links are never
cached, nor those with a discount code: whether a link or code still takes payment depends
on the clock and on other orders.
"""

import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import Flask, current_app
from sqlalchemy import bindparam, select

from checkout import database
from checkout.models import Order, Provider, Service
from checkout.orders import ORDER_ID

MAX_PAGES = 1024

_VERSIONS = (
    select(
        Order.version,
        Order.payment_link_id,
        Service.updated_at.label("service_updated"),
        Provider.updated_at.label("provider_updated"),
        Order.discount_code_id,
    )
    .select_from(Order)
    .join(Service, Service.id == Order.service_id)
    .outerjoin(Provider, Provider.id == Order.provider_id)
    .where(Order.id == bindparam("order_id"))
)


def current_key(order_id: str | None) -> tuple | None:
    """The key the order's page has now, read in one small query; None if not cacheable.

    A page rendered after this read is filed under this key: it can only be newer than the
    key says, and a key whose rows have since changed is never read again.
    """
    if not isinstance(order_id, str) or not ORDER_ID.match(order_id):
        return None
    # Values come back raw (SQLite: text): they are only compared.
    row = database.fetch_one_raw(_VERSIONS, {"order_id": order_id})
    if row is None or row[1] is not None or row[4] is not None:
        return None  # unknown, or a payment link's or a discount code's order
    return (order_id, row[0], row[2], row[3])


class PageCache:
    """A bounded, thread-safe map from key to rendered page; least recently used goes first."""

    def __init__(self, size: int = MAX_PAGES):
        self.size = size
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: str) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


EXTENSION = "kassa_checkout_pages"


def init_app(app: Flask) -> None:
    """Give the app its own, empty cache of checkout pages."""
    app.extensions[EXTENSION] = PageCache()


def checkout_pages() -> PageCache:
    """This app's cache of checkout pages."""
    return current_app.extensions[EXTENSION]
