"""Payment-link analytics: views and unique visitors, orders and revenue, day by day."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import aliased

from checkout import money, orders, throttle
from checkout.extensions import db
from checkout.models import LinkView, LinkViewDay, Order, PaymentLink, utcnow

# The days the admin's link page shows one by one; older views are kept as daily counts.
WINDOW_DAYS = 30
# A visitor is a browser's random id (its cookie) plus its address: 16 bytes, 22 characters.
VISITOR_ID_BYTES = 16
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def new_visitor_id() -> str:
    """A random id for a browser's visitor cookie."""
    return secrets.token_urlsafe(VISITOR_ID_BYTES)


def is_visitor_id(value: str) -> bool:
    """Whether a cookie's value is an id new_visitor_id could have made."""
    return VISITOR_ID.fullmatch(value) is not None


def visitor_hash(link_id: str, visitor_id: str, client: str) -> str:
    """A per-link pseudonym for a visitor: a keyed hash of their browser's visitor id and
    their address (IPv6: its /64), never stored raw.

    The user agent plays no part: a script can vary it at will, and keeping a cookie is
    what a browser does. A client dropping its cookie makes a new visitor each time, as
    many as the per-client view limit lets through.
    """
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{link_id}|{visitor_id}|{throttle.client_key(client)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def record_view(link: PaymentLink, visitor_id: str, client: str) -> None:
    """Count one opening of the link by a visitor (their cookie's id) from a client address."""
    db.session.add(
        LinkView(
            payment_link_id=link.id,
            day=utcnow().date(),
            visitor_hash=visitor_hash(link.id, visitor_id, client),
        )
    )
    db.session.commit()


@dataclass
class DayStats:
    day: date
    views: int = 0
    orders: int = 0
    paid: int = 0


@dataclass
class LinkStats:
    views: int
    unique_visitors: int
    orders_started: int
    orders_paid: int
    revenue_minor: int
    currency: str
    days: list[DayStats]

    @property
    def revenue_display(self) -> str:
        return money.format_money(self.revenue_minor, self.currency)

    @property
    def conversion_display(self) -> str:
        if not self.unique_visitors:
            return "—"
        rate = Decimal(self.orders_paid * 100) / Decimal(self.unique_visitors)
        return f"{rate.quantize(Decimal('0.1'))}%"


def stats(link: PaymentLink, days: int = WINDOW_DAYS) -> LinkStats:
    """Totals for the link and a day-by-day series for its last `days` days."""
    views, uniques = _view_totals(link)
    started, paid, revenue = db.session.execute(
        select(
            func.count(),
            func.count().filter(Order.status.in_(orders.COMPLETED)),
            func.coalesce(
                func.sum(Order.paid_amount_minor - Order.refunded_amount_minor).filter(
                    Order.status.in_(orders.COMPLETED)
                ),
                0,
            ),
        ).where(Order.payment_link_id == link.id)
    ).one()
    return LinkStats(
        views=views,
        unique_visitors=uniques,
        orders_started=started,
        orders_paid=paid,
        revenue_minor=int(revenue or 0),
        currency=link.service.currency,
        days=_daily_series(link, days),
    )


def _view_totals(link: PaymentLink) -> tuple[int, int]:
    """The link's views and unique visitors: those still kept one by one plus the rolled-up."""
    views, uniques = db.session.execute(
        select(func.count(), func.count(func.distinct(LinkView.visitor_hash))).where(
            LinkView.payment_link_id == link.id
        )
    ).one()
    rolled_views, rolled_uniques = db.session.execute(
        select(
            func.coalesce(func.sum(LinkViewDay.views), 0),
            func.coalesce(func.sum(LinkViewDay.last_seen_visitors), 0),
        ).where(LinkViewDay.payment_link_id == link.id)
    ).one()
    return views + int(rolled_views), uniques + int(rolled_uniques)


def _daily_series(link: PaymentLink, days: int) -> list[DayStats]:
    """Views, orders and paid orders for each of the last `days` days, oldest first."""
    today = utcnow().date()
    series = {
        today - timedelta(days=offset): DayStats(today - timedelta(days=offset))
        for offset in range(days)
    }
    first = min(series)
    for day, count in db.session.execute(
        select(LinkView.day, func.count())
        .where(LinkView.payment_link_id == link.id, LinkView.day >= first)
        .group_by(LinkView.day)
    ):
        if day in series:
            series[day].views += count
    for day, count in db.session.execute(
        select(LinkViewDay.day, LinkViewDay.views).where(
            LinkViewDay.payment_link_id == link.id, LinkViewDay.day >= first
        )
    ):
        if day in series:
            series[day].views += count
    start = datetime.combine(first, datetime.min.time())
    for created, status in db.session.execute(
        select(Order.created_at, Order.status).where(
            Order.payment_link_id == link.id, Order.created_at >= start
        )
    ):
        bucket = series.get(created.date())
        if bucket:
            bucket.orders += 1
            bucket.paid += status in orders.COMPLETED
    return [series[day] for day in sorted(series)]


@dataclass
class LinkTotals:
    links: int
    views: int
    orders_paid: int
    revenue: list[str]


def totals() -> LinkTotals:
    """Every link together, for the dashboard; revenue per currency."""
    revenue = db.session.execute(
        select(Order.currency, func.sum(Order.paid_amount_minor - Order.refunded_amount_minor))
        .where(Order.payment_link_id.is_not(None), Order.status.in_(orders.COMPLETED))
        .group_by(Order.currency)
        .order_by(Order.currency)
    ).all()
    return LinkTotals(
        links=db.session.scalar(select(func.count()).select_from(PaymentLink)),
        views=sum(view_counts().values()),
        orders_paid=db.session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.payment_link_id.is_not(None), Order.status.in_(orders.COMPLETED))
        ),
        revenue=[money.format_money(int(total), currency) for currency, total in revenue],
    )


def view_counts() -> dict[str, int]:
    """Page views per link id, rolled-up days included; a link never viewed is missing."""
    counts = dict(
        db.session.execute(
            select(LinkView.payment_link_id, func.count()).group_by(LinkView.payment_link_id)
        ).all()
    )
    for link_id, rolled in db.session.execute(
        select(LinkViewDay.payment_link_id, func.sum(LinkViewDay.views)).group_by(
            LinkViewDay.payment_link_id
        )
    ):
        counts[link_id] = counts.get(link_id, 0) + int(rolled)
    return counts


def roll_up(window_days: int = WINDOW_DAYS) -> int:
    """Replace the views of days before the window by one count per link and day; returns
    how many views were deleted.

    The link's totals stay the same: a visitor is counted in `last_seen_visitors` of the
    last rolled-up day they viewed the link on, unless a view still kept counts them. (A
    visitor who comes back after their views were rolled up counts as a new one.)
    """
    cutoff = utcnow().date() - timedelta(days=window_days - 1)
    later = aliased(LinkView)
    still_counted = (
        select(later.id)
        .where(
            later.payment_link_id == LinkView.payment_link_id,
            later.visitor_hash == LinkView.visitor_hash,
            later.day >= cutoff,
        )
        .exists()
    )
    last_seen = (
        select(LinkView.payment_link_id, func.max(LinkView.day).label("day"))
        .where(LinkView.day < cutoff, ~still_counted)
        .group_by(LinkView.payment_link_id, LinkView.visitor_hash)
        .subquery()
    )
    leaving = {
        (link_id, day): count
        for link_id, day, count in db.session.execute(
            select(last_seen.c.payment_link_id, last_seen.c.day, func.count()).group_by(
                last_seen.c.payment_link_id, last_seen.c.day
            )
        )
    }
    days = db.session.execute(
        select(
            LinkView.payment_link_id,
            LinkView.day,
            func.count(),
            func.count(func.distinct(LinkView.visitor_hash)),
        )
        .where(LinkView.day < cutoff)
        .group_by(LinkView.payment_link_id, LinkView.day)
    ).all()
    for link_id, day, views, uniques in days:
        row = db.session.get(LinkViewDay, (link_id, day))
        if row is None:
            row = LinkViewDay(
                payment_link_id=link_id, day=day, views=0, unique_visitors=0, last_seen_visitors=0
            )
            db.session.add(row)
        row.views += views
        row.unique_visitors += uniques
        row.last_seen_visitors += leaving.get((link_id, day), 0)
    deleted = db.session.execute(delete(LinkView).where(LinkView.day < cutoff)).rowcount
    db.session.commit()
    return deleted


def paid_counts() -> dict[str, int]:
    """Completed payments per link id; a link never paid through is missing."""
    return dict(
        db.session.execute(
            select(Order.payment_link_id, func.count())
            .where(Order.payment_link_id.is_not(None), Order.status.in_(orders.COMPLETED))
            .group_by(Order.payment_link_id)
        ).all()
    )
