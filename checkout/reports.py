"""How money is doing, for the admin's dashboard: paid volume per currency and day, conversion,
and what needs a look (failing deliveries, stuck orders).

Every figure is summed in SQL as integer minor units, grouped by UTC day and currency;
amounts in different currencies are never added together.
"""

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from checkout import database, money, orders
from checkout.extensions import db
from checkout.models import (
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Order,
    OrderStatus,
    utcnow,
)

TREND_DAYS = 30
# The dashboard's windows: label and number of UTC days, today included.
WINDOWS = (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))
STUCK_LISTED = 10


@dataclass
class Volume:
    """Money received in one currency: its sum in minor units and how many orders."""

    currency: str
    minor: int = 0
    count: int = 0

    @property
    def display(self) -> str:
        return money.format_money(self.minor, self.currency)


@dataclass
class Window:
    """One period's paid volume (one Volume per currency), and its conversion."""

    label: str
    days: int
    volumes: list[Volume]
    opened: int
    paid: int

    @property
    def paid_count(self) -> int:
        return sum(volume.count for volume in self.volumes)

    @property
    def conversion_display(self) -> str:
        """Paid ÷ opened orders of the period, as a percentage; a dash when none opened."""
        if not self.opened:
            return "—"
        share = (Decimal(self.paid) * 100 / self.opened).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
        return f"{share}%"


@dataclass
class Trend:
    """Daily paid volume in one currency over the trend's days, oldest first."""

    currency: str
    days: list[date]
    minors: list[int]
    counts: list[int]

    @property
    def total(self) -> Volume:
        return Volume(self.currency, sum(self.minors), sum(self.counts))

    @property
    def peak(self) -> Volume:
        return Volume(self.currency, max(self.minors, default=0))

    def display(self, index: int) -> str:
        return money.format_money(self.minors[index], self.currency)


@dataclass
class DeliveryCounts:
    """Notifications not delivered yet: being sent (no attempt has failed since it was sent),
    retrying after a failed attempt, and failed after every retry."""

    sending: int
    retrying: int
    failed: int


@dataclass
class Attention:
    """What needs the admin: failing deliveries and orders stuck without an outcome."""

    deliveries: DeliveryCounts
    stuck_count: int
    stuck: list[Order] = field(default_factory=list)


@dataclass
class MoneyReport:
    windows: list[Window]
    trends: list[Trend]
    attention: Attention


def _day(value) -> date:
    # SQLite's date() answers text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _paid_by_day(since: datetime) -> list[tuple[date, str, int, int]]:
    """(day, currency, minor units received, orders) for money received since a moment."""
    currency = func.coalesce(Order.paid_currency, Order.currency)
    received = func.coalesce(Order.paid_amount_minor, Order.amount_minor)
    day = func.date(Order.paid_at)
    rows = db.session.execute(
        select(day, currency, func.sum(received), func.count())
        .where(Order.paid_at >= since, Order.status.in_(orders.RECEIVED))
        .group_by(day, currency)
    ).all()
    return [(_day(row[0]), row[1], int(row[2]), row[3]) for row in rows]


def _opened_by_day(since: datetime) -> dict[date, tuple[int, int]]:
    """Day -> (orders opened that day, of which paid) since a moment."""
    day = func.date(Order.created_at)
    rows = db.session.execute(
        select(day, func.count(), func.count().filter(Order.status.in_(orders.RECEIVED)))
        .where(Order.created_at >= since)
        .group_by(day)
    ).all()
    return {_day(row[0]): (row[1], row[2]) for row in rows}


def delivery_counts() -> DeliveryCounts:
    """How many notifications are being sent, retrying and failed, in one query."""
    pending = Notification.status == NotificationStatus.PENDING
    sending, retrying, failed = db.session.execute(
        select(
            func.count().filter(pending, ~Notification.retrying),
            func.count().filter(Notification.retrying),
            func.count().filter(Notification.status == NotificationStatus.FAILED),
        )
    ).one()
    return DeliveryCounts(sending=sending, retrying=retrying, failed=failed)


def attention(stuck_after: timedelta) -> Attention:
    """Failed and retrying deliveries, and orders pending or processing for too long."""
    stuck = Order.status.in_(orders.UNFINISHED) & (Order.created_at < utcnow() - stuck_after)
    return Attention(
        deliveries=delivery_counts(),
        stuck_count=db.session.scalar(select(func.count()).select_from(Order).where(stuck)),
        stuck=list(
            db.session.scalars(
                select(Order).where(stuck).order_by(Order.created_at).limit(STUCK_LISTED)
            )
        ),
    )


def money_report(stuck_after: timedelta, today: date | None = None) -> MoneyReport:
    """Paid volume and conversion for today, 7 and 30 days, the daily trend, and attention."""
    today = today or utcnow().date()
    first_day = today - timedelta(days=TREND_DAYS - 1)
    since = datetime.combine(first_day, datetime.min.time())
    days = [first_day + timedelta(days=offset) for offset in range(TREND_DAYS)]
    paid = _paid_by_day(since)
    opened = _opened_by_day(since)

    windows = []
    for label, length in WINDOWS:
        start = today - timedelta(days=length - 1)
        volumes: dict[str, Volume] = {}
        for day, currency, minor, count in paid:
            if day >= start:
                volume = volumes.setdefault(currency, Volume(currency))
                volume.minor += minor
                volume.count += count
        in_window = [counts for day, counts in opened.items() if day >= start]
        windows.append(
            Window(
                label=label,
                days=length,
                volumes=sorted(volumes.values(), key=lambda volume: volume.currency),
                opened=sum(counts[0] for counts in in_window),
                paid=sum(counts[1] for counts in in_window),
            )
        )

    series: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    for day, currency, minor, count in paid:
        series[currency][day] = (minor, count)
    trends = [
        Trend(
            currency=currency,
            days=days,
            minors=[by_day.get(day, (0, 0))[0] for day in days],
            counts=[by_day.get(day, (0, 0))[1] for day in days],
        )
        for currency, by_day in sorted(series.items())
    ]
    return MoneyReport(windows=windows, trends=trends, attention=attention(stuck_after))


# CSV exports of the admin's filtered lists

ORDER_COLUMNS = [
    "order_id",
    "created_at",
    "status",
    "provider",
    "payment_link_id",
    "external_id",
    "currency",
    "amount",
    "paid_amount",
    "refunded_amount",
    "paid_at",
    "customer_email",
    "custom_fields",
    "terms_accepted_at",
]
DELIVERY_COLUMNS = [
    "notification_id",
    "created_at",
    "event",
    "provider",
    "order_id",
    "status",
    "attempts",
    "last_error",
    "delivered_at",
]
# A spreadsheet runs a cell that starts with = + - @ (or a tab or CR) as a formula. A cell
# starts at the text's beginning, or after any separator a spreadsheet may split on (comma,
# semicolon, tab, line break) whatever the file's quoting says, past spaces and quotes; a '
# there keeps what follows text.
FORMULA_START = re.compile(r"(^|[,;\t\r\n])(?=[ \"]*[=+\-@\t\r])")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return FORMULA_START.sub(r"\1'", str(value))


def _amount(minor: int | None, currency: str) -> str:
    return "" if minor is None else str(money.to_decimal(minor, currency))


def order_rows(query: Select[tuple[Order]]) -> Iterator[list[str]]:
    """A header, then one row per order the query selects (newest first), read in batches;
    amounts as exact decimals in major units beside their currency."""
    yield ORDER_COLUMNS
    query = query.options(joinedload(Order.provider))
    for batch in database.batches(query, Order.created_at, Order.id):
        yield from (_order_row(order) for order in batch)


def _order_row(order: Order) -> list[str]:
    currency = order.paid_currency or order.currency
    return [
        _cell(value)
        for value in (
            order.id,
            order.created_at,
            order.status.value,
            order.provider.name if order.provider else None,
            order.payment_link_id,
            order.external_id,
            order.currency.upper(),
            _amount(order.amount_minor, order.currency),
            _amount(order.paid_amount_minor, currency),
            _amount(order.refunded_amount_minor, currency),
            order.paid_at,
            order.customer_email,
            _answers(order),
            order.terms_accepted_at,
        )
    ]


def _answers(order: Order) -> str | None:
    """The custom fields' answers in one cell: "Label: value", one a line."""
    answers = order.custom_field_values
    if not answers:
        return None
    return "\n".join(f"{answer['label']}: {answer['value'] or ''}" for answer in answers)


def delivery_rows(query: Select[tuple[Notification]]) -> Iterator[list[str]]:
    """A header, then one row per notification the query selects (newest first), in batches;
    attempts as the number of attempts logged."""
    yield DELIVERY_COLUMNS
    query = query.options(joinedload(Notification.provider))
    for batch in database.batches(query, Notification.created_at, Notification.id):
        yield from _delivery_batch(batch)


def _delivery_batch(batch: list[Notification]) -> Iterator[list[str]]:
    attempts = dict(
        db.session.execute(
            select(DeliveryAttempt.notification_id, func.count())
            .where(DeliveryAttempt.notification_id.in_([row.id for row in batch]))
            .group_by(DeliveryAttempt.notification_id)
        ).all()
    )
    for row in batch:
        yield [
            _cell(value)
            for value in (
                row.id,
                row.created_at,
                row.event,
                row.provider.name,
                row.order_id,
                row.status.value,
                attempts.get(row.id, 0),
                row.last_error,
                row.delivered_at,
            )
        ]


class _Line:
    """A file-like target for csv.writer that hands back what was written."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text


def csv_chunks(rows: Iterator[list[str]], rows_per_chunk: int = 200) -> Iterator[str]:
    """CSV text (RFC 4180, every cell quoted, CRLF lines) a chunk of rows at a time."""
    line = _Line()
    writer = csv.writer(line, quoting=csv.QUOTE_ALL)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count == rows_per_chunk:
            yield line.text
            line.text, count = "", 0
    if line.text:
        yield line.text


# Orders for the admin's pages


def count_by_status() -> dict[OrderStatus, int]:
    """How many orders are in each status, zeros included, in the statuses' order."""
    counts = dict(
        db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    )
    return {status: counts.get(status, 0) for status in OrderStatus}


def latest_orders(limit: int) -> list[Order]:
    """The most recently opened orders, newest first."""
    return list(db.session.scalars(select(Order).order_by(Order.created_at.desc()).limit(limit)))


def select_orders(
    status: OrderStatus | None = None,
    provider_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    search: str | None = None,
) -> Select[tuple[Order]]:
    """Orders with a status, of a provider, opened from one UTC day to another, whose id,
    external id or payment link id is or starts with `search`; newest first."""
    query = select(Order)
    if search:
        query = query.where(
            or_(
                Order.id.startswith(search, autoescape=True),
                Order.external_id.startswith(search, autoescape=True),
                Order.payment_link_id.startswith(search, autoescape=True),
            )
        )
    if status is not None:
        query = query.where(Order.status == status)
    if provider_id is not None:
        query = query.where(Order.provider_id == provider_id)
    if date_from is not None:
        query = query.where(Order.created_at >= datetime.combine(date_from, time.min))
    if date_to is not None:
        # Up to the day's last microsecond: 9999-12-31 has no next day to stop before.
        query = query.where(Order.created_at <= datetime.combine(date_to, time.max))
    return query.order_by(Order.created_at.desc(), Order.id.desc())
